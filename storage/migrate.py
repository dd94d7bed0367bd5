"""Schema changes through Alembic, applied in place (`riskdesk db upgrade`, and at open).

Each schema (`ledger`, `audit`; storage/schema.py) has its own history under storage/migrations/<store>/
and its own version table (`alembic_version_<store>`), so the two may share one database (PostgreSQL) or
live in two SQLite files. Opening a store checks its version with one query; only a store behind the
code is upgraded, under a lock so that several processes or hosts opening it at once upgrade it once:
`pg_advisory_xact_lock` on PostgreSQL, a file lock next to a SQLite file. A store made before migrations
existed (tables, no version table) is brought to the first revision (any missing table or nullable
column added, as the releases before did at open) and stamped there, then upgraded.
"""
from __future__ import annotations

import fcntl
import os
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from storage.schema import METADATA

MIGRATIONS = Path(__file__).parent / "migrations"
STORES = ("ledger", "audit")
FIRST = {"ledger": "l0001", "audit": "a0001"}  # the revision a store made before migrations is stamped at
PRE_MIGRATION = "pre-migration"  # what `upgrade` says a store was at when it had tables but no version
_heads: dict[str, str] = {}
# Alembic's `op` and `context` are module globals: two threads of one process (an eval run with --concurrency,
# a service opening stores) must not run migrations at once, whatever the database's own lock says.
_IN_PROCESS = threading.RLock()


def _config(store: str, conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", str(MIGRATIONS / store))
    cfg.attributes["store"] = store
    cfg.attributes["connection"] = conn
    return cfg


def head(store: str) -> str:
    """The newest revision of a schema, as this code knows it."""
    if store not in _heads:
        _heads[store] = ScriptDirectory.from_config(_config(store)).get_current_head()
    return _heads[store]


def current(conn: Connection, store: str) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": f"alembic_version_{store}"}).get_current_revision()


def _memory(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    path = Path(str(engine.url.database) + ".migrate.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure(engine: Engine, store: str) -> str | None:
    """Bring the store's schema to this code's head; returns the revision it was at (None: new or in memory)."""
    if _memory(engine):  # a throwaway store: the tables as they are now, no history to keep
        METADATA[store].create_all(engine)
        return None
    with engine.connect() as conn:
        at = current(conn, store)
    if at == head(store):
        return at
    return upgrade(engine, store)


def upgrade(engine: Engine, store: str) -> str | None:
    """Upgrade one store to head under the migration lock; returns the revision it was at (None: a new
    database; PRE_MIGRATION: a store made before migrations, adopted in place)."""
    lock = _file_lock(engine) if engine.dialect.name == "sqlite" else _nothing()
    with _IN_PROCESS, lock, engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":  # one migration at a time across every host
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"riskdesk-migrate-{store}".encode())})
        at = current(conn, store)
        if at == head(store):
            return at
        if at is None and _legacy(conn, store):
            command.stamp(_config(store, conn), FIRST[store])
            at = PRE_MIGRATION
        command.upgrade(_config(store, conn), "heads")
        return at


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _legacy(conn: Connection, store: str) -> bool:
    """A store made before migrations: bring it to the first revision the way earlier releases did at open
    (missing tables created, missing nullable columns added). False for an empty database."""
    meta = METADATA[store]
    names = set(inspect(conn).get_table_names())
    if not names & set(meta.tables):
        return False
    meta.create_all(conn, checkfirst=True)
    insp = inspect(conn)
    for table in meta.sorted_tables:
        have = {c["name"] for c in insp.get_columns(table.name)}
        for col in table.columns:
            if col.name not in have and col.nullable:
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {col.name} "
                                     f"{col.type.compile(dialect=conn.dialect)}")
    return True


def upgrade_all(urls: dict[str, str]) -> dict[str, tuple[str | None, str]]:
    """`riskdesk db upgrade`: each store (by its URL) to head; store -> (revision before, head)."""
    from sqlalchemy import create_engine

    from storage import sqlite_path
    out = {}
    for store, url in urls.items():
        if (path := sqlite_path(url)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        try:
            out[store] = (upgrade(engine, store), head(store))
        finally:
            engine.dispose()
    return out
