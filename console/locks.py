"""Locks one turn at a time per conversation thread (and one decision per approval).

On one machine (the SQLite default) `_Stripes` is a bounded set of advisory file locks under
$RISKDESK_HOME/locks, held across every process of the service.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any

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
