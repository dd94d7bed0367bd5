"""Locks one turn at a time per conversation thread (and one decision per approval).

On one machine (the SQLite default) `_Stripes` is a bounded set of advisory file locks under
$RISKDESK_HOME/locks, held across every process of the service. On a shared PostgreSQL
(`locks_for(desk)`) `_AdvisoryLocks` take `pg_advisory_xact_lock` on the key's 64-bit hash instead: a lock
needs no row (a new thread has none yet), is held by a transaction on its own connection, and is released
when that transaction ends, or when its process dies and the server drops the connection. Grants and
decisions do not rely on these locks: each is decided in one ledger transaction under the customer's row
lock (`SELECT ... FOR UPDATE`) with unique idempotency keys; the thread lock keeps a conversation's turns in
order so that each starts from the previous one's checkpoint.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from tools.home import riskdesk_home


class _Stripes:
    """A bounded set of locks, one turn at a time per thread (and one decision per approval), held across
    every worker process of the service: each lock is an advisory file lock (flock) on one of `n` files
    under $RISKDESK_HOME/locks. A lock taken twice from one process also waits (each take opens its own
    descriptor), so threads and processes are treated alike."""

    def __init__(self, n: int = 64, directory: Path | None = None):
        self._n = n
        self._dir = directory or riskdesk_home(create=True) / "locks"
        self._dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, key: str) -> "_FileLock":
        n = int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=4).digest()) % self._n
        return _FileLock(self._dir / f"{n:02d}.lock")


class _FileLock:
    def __init__(self, path: Path):
        self.path, self._fd = path, None

    def acquire(self, blocking: bool = True) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock

    def __enter__(self) -> "_FileLock":
        self.acquire()
        return self

    def __exit__(self, *_: Any) -> None:
        self.release()


def _key64(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), signed=True)


class _AdvisoryLocks:
    """Locks held across hosts: a PostgreSQL transaction-level advisory lock per key."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def __call__(self, key: str) -> "_AdvisoryLock":
        return _AdvisoryLock(self.engine, _key64(key))


class _AdvisoryLock:
    def __init__(self, engine: Engine, key: int):
        self.engine, self.key = engine, key
        self._conn: Any = None
        self._tx: Any = None

    def acquire(self, blocking: bool = True) -> bool:
        conn = self.engine.connect()
        tx = conn.begin()
        try:
            if blocking:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.key})
            elif not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": self.key}).scalar():
                tx.rollback()
                conn.close()
                return False
        except BaseException:
            tx.rollback()
            conn.close()
            raise
        self._conn, self._tx = conn, tx
        return True

    def release(self) -> None:
        conn, tx, self._conn, self._tx = self._conn, self._tx, None, None
        if conn is not None:
            try:
                tx.commit()  # the transaction's end releases the lock
            finally:
                conn.close()

    def __enter__(self) -> "_AdvisoryLock":
        self.acquire()
        return self

    def __exit__(self, *_: Any) -> None:
        self.release()


def locks_for(desk: Any) -> Any:
    """The thread locks a desk's service needs: advisory locks on a shared PostgreSQL audit store, else
    file locks on this machine."""
    engine = getattr(getattr(desk, "audit", None), "engine", None)
    if engine is not None and engine.dialect.name == "postgresql":
        return _AdvisoryLocks(engine)
    return _Stripes()
