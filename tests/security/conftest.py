"""Fixtures of the trust-boundary tests: a persistent store and a desk over it (tests/security/stores.py)."""
from __future__ import annotations

import pytest

from security.stores import open_desk, persistent_store


@pytest.fixture
def store(tmp_path):
    return persistent_store(tmp_path)


@pytest.fixture
def desk(kb, tmp_path, store):
    d = open_desk(kb, tmp_path, store)
    yield d
    d.close()
