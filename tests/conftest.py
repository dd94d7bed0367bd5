"""Shared fixtures. The suite must not touch the network beyond loopback: the guard below turns
any other connection into a test failure."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import uuid

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
    mp.setenv("RISKDESK_CACHE_DIR", str(home / "cache"))  # one encoder cache for the session, whatever home a test uses
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


# ------------------------------------------------------------------ PostgreSQL

@pytest.fixture(scope="session")
def pg_server():
    """(SQLAlchemy URL prefix, admin connection URL) of a PostgreSQL server: RISKDESK_TEST_PG_URL, else a
    throwaway cluster on loopback from the machine's PostgreSQL binaries (storage/pg_cluster.py; Debian's
    `postgresql`, which `.ci/run` installs), started on first use. Skips the test, saying why, when there is
    neither."""
    if url := os.environ.get("RISKDESK_TEST_PG_URL"):
        yield url.rsplit("/", 1)[0], url
        return
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    from storage.pg_cluster import ClusterUnavailable, throwaway_cluster
    cluster = throwaway_cluster("fsync=off")
    try:
        prefix = cluster.__enter__()
    except ClusterUnavailable as why:
        pytest.skip(f"{why} and no RISKDESK_TEST_PG_URL")
    try:
        yield prefix, f"{prefix}/postgres"
    finally:
        cluster.__exit__(None, None, None)


@pytest.fixture
def pg(pg_server) -> str:
    """A fresh, empty PostgreSQL database for one test (its SQLAlchemy URL)."""
    from sqlalchemy import create_engine, text
    prefix, admin = pg_server
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{prefix}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty ledger store that several connections share: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return request.getfixturevalue("pg")

