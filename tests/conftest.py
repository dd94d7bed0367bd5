"""Shared fixtures. The suite must not touch the network beyond loopback: the guard below turns
any other connection into a test failure."""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket

import pytest

from tools.ledger import SAMPLE_LEDGER, Ledger

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address) -> bool:  # noqa: ANN001
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    host = address[0]
    if host in ("localhost", "") or (isinstance(host, str) and host.endswith(".localhost")):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guarded(real):  # noqa: ANN001
    def connect(self, address):  # noqa: ANN001
        if not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real(self, address)
    return connect


@pytest.fixture(autouse=True, scope="session")
def no_network():
    socket.socket.connect = _guarded(_real_connect)
    socket.socket.connect_ex = _guarded(_real_connect_ex)
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


@pytest.fixture(autouse=True, scope="session")
def riskdesk_home(tmp_path_factory):
    """Every default store (ledger, Chroma, threads, audit) lives in a throwaway home."""
    home = tmp_path_factory.mktemp("riskdesk-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("RISKDESK_HOME", str(home))
    for var in ("RISKDESK_LEDGER_URL", "RISKDESK_LLM_BASE_URL", "RISKDESK_CONFIG"):
        mp.delenv(var, raising=False)
    yield home
    mp.undo()


@pytest.fixture(scope="session")
def kb():
    """The process-wide knowledge base over the shipped corpus (ingested once, in the test home)."""
    from knowledge import default_kb
    return default_kb()


@pytest.fixture
def ledger() -> Ledger:
    """A fresh in-memory store loaded with the sample ledger."""
    return Ledger.from_file(SAMPLE_LEDGER)


@pytest.fixture
def today() -> dt.date:
    return dt.date(2026, 11, 23)
