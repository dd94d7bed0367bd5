"""Schema changes through Alembic, applied in place (`riskdesk db upgrade`, and at open).

Each schema (`ledger`, `audit`; storage/schema.py) has its own history under storage/migrations/<store>/
and its own version table (`alembic_version_<store>`), so the two may share one database (PostgreSQL) or
live in two SQLite files. Opening a store checks its version with one query; only a store behind the
code is upgraded, under a lock so that several processes or hosts opening it at once upgrade it once:
`pg_advisory_xact_lock` on PostgreSQL, a file lock next to a SQLite file. A store made before migrations
existed (tables, no version table) is brought to the first revision (any missing table or nullable
column added, as the releases before did at open) and stamped there, then upgraded.

Opening a store already at head does not import Alembic (about a fifth of a cold `riskdesk ask`): the head
is read from the migration files' own `revision` / `down_revision` lines and the store's revision with one
SELECT on its version table. Anything else (a missing version table, several rows, a history that is not
one straight line) takes Alembic's own path, which decides as before.
"""
from __future__ import annotations

import fcntl
import os
import re
import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import exc, text
from sqlalchemy.engine import Connection, Engine

from storage.schema import METADATA

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
STORES = ("ledger", "audit")
FIRST = {"ledger": "l0001", "audit": "a0001"}  # the revision a store made before migrations is stamped at
PRE_MIGRATION = "pre-migration"  # what `upgrade` says a store was at when it had tables but no version
_heads: dict[str, str] = {}
_quick_heads: dict[str, str | None] = {}
# Alembic's `op` and `context` are module globals: two threads of one process (an eval run with --concurrency,
# a service opening stores) must not run migrations at once, whatever the database's own lock says.
_IN_PROCESS = threading.RLock()


def _config(store: str, conn: Connection | None = None) -> Config:
    from alembic.config import Config
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
        from alembic.script import ScriptDirectory
        _heads[store] = ScriptDirectory.from_config(_config(store)).get_current_head()
    return _heads[store]


def current(conn: Connection, store: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    return MigrationContext.configure(conn, opts={"version_table": f"alembic_version_{store}"}).get_current_revision()


_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']\s*$", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(?:None|[\"']([^\"']+)[\"'])\s*$", re.M)


def quick_head(store: str) -> str | None:
    """The head read from the migration files without Alembic: each file's `revision = "…"` and
    `down_revision = "…"` (or None). None when the history is not one straight line with one head (branches,
    merges, a tuple, a file it cannot read this way): then only Alembic's own answer counts."""
    if store in _quick_heads:
        return _quick_heads[store]
    revisions, downs, found = set(), set(), None
    files = sorted((MIGRATIONS / store).glob("*.py"))
    for f in files:
        source = f.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(source), _DOWN.search(source)
        if len(rev) != 1 or down is None or rev[0] in revisions:
            break
        revisions.add(rev[0])
        if down.group(1) is not None:
            downs.add(down.group(1))
    else:
        heads = revisions - downs
        if files and len(heads) == 1 and downs <= revisions and len(downs) == len(revisions) - 1:
            found = heads.pop()
    _quick_heads[store] = found
    return found


def _quick_current(engine: Engine, store: str) -> str | None:
    """The store's revision by one SELECT on its version table; None when that does not say (no table yet,
    no row, several rows): the caller then asks Alembic."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM alembic_version_{store}")).all()
    except exc.DBAPIError:
        return None
    return rows[0][0] if len(rows) == 1 else None


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
    quick = quick_head(store)
    if quick is not None and _quick_current(engine, store) == quick:
        return quick  # at head: nothing to do, and Alembic stays unimported
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
        from alembic import command
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
    from sqlalchemy import inspect
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
