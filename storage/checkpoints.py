"""LangGraph thread checkpoints where the shared database is: `PostgresSaver`
(langgraph-checkpoint-postgres) on PostgreSQL, so a thread started on one host continues on another;
`SqliteSaver` in a file on one machine."""
from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path
from typing import Any, Callable

from storage import database_url, is_postgres, normalise, sqlite_path

CURSOR_FACTORY: Any = None  # a psycopg cursor class for the checkpointer's connections (the load benchmark counts)


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it (no `+driver`)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else url


def open_checkpointer(threads_path: str | Path | None = None, url: str | None = None) -> tuple[Any, Callable[[], None]]:
    """(checkpointer, close). `threads_path` names a SQLite file explicitly (tests, one machine); else the
    shared database (`url`, else RISKDESK_DATABASE_URL) when it is PostgreSQL; else a SQLite file next to a
    SQLite shared database, or $RISKDESK_HOME/threads.sqlite3."""
    url = normalise(url or database_url() or "")
    if threads_path is None and is_postgres(url):
        return _postgres(libpq_url(url))
    if threads_path is None:
        db = sqlite_path(url) if url else None
        if db is not None:
            threads_path = db.with_name(db.stem + ".threads.sqlite3")
        else:
            from tools.home import riskdesk_home
            threads_path = riskdesk_home(create=True) / "threads.sqlite3"
    return _sqlite(str(threads_path))


def _sqlite(path: str) -> tuple[Any, Callable[[], None]]:
    from langgraph.checkpoint.sqlite import SqliteSaver
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    # Conversation checkpoints: write-ahead log without an fsync per commit (synchronous=NORMAL) — safe if
    # the process crashes; a power loss may drop the newest checkpoints, i.e. some conversation memory.
    # Every decision lives in the ledger and every turn in the audit log, both fully synchronous, and a
    # pending approval is decided from the ledger even with no paused thread.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return SqliteSaver(conn), conn.close


def _postgres(conninfo: str) -> tuple[Any, Callable[[], None]]:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool
    # Checkpoints commit without waiting for the server's WAL flush (synchronous_commit=off), the same trade as
    # SQLite's synchronous=NORMAL above: a server crash may drop the newest checkpoints (conversation memory),
    # never a decision (the ledger and the audit log commit synchronously, on their own connections).
    pool = ConnectionPool(conninfo, min_size=1, max_size=16, open=True,
                          kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
                                  "options": "-c synchronous_commit=off",
                                  **({"cursor_factory": CURSOR_FACTORY} if CURSOR_FACTORY else {})})
    saver = PostgresSaver(pool)
    # LangGraph's own migrations; several hosts starting at once take turns (a session advisory lock)
    with psycopg.connect(conninfo, autocommit=True) as lock:
        key = zlib.crc32(b"riskdesk-checkpoints-setup")
        lock.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            saver.setup()
        finally:
            lock.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return saver, pool.close
