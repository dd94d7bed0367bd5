"""Turn processes for `riskdesk serve --workers N`.

With the rules planner a turn is a few milliseconds of CPU-bound Python, and one process runs one
at a time (one GIL). With `--workers N` the service process keeps the HTTP side (parsing, auth, the
web console, streamed turns, approvals) and hands each one-shot turn (`POST /v1/ask`, a thread
message asked as JSON) to the next idle turn process over a pipe. Balancing is per turn, not per
connection, so a few long-lived keep-alive connections cannot pile onto one process.

Each turn process opens its own Desk over the same stores: the ledger, audit log and conversation
checkpoints (SQLite files under $RISKDESK_HOME, or databases by URL), and a read-only replica of the
knowledge base that the service process (the Chroma store's only owner) published. A turn takes the
conversation's lock (a file lock shared with the service process; on PostgreSQL an advisory lock,
console/locks.py), and a grant is decided inside one ledger transaction, so one Idempotency-Key grants
once wherever its retries run. A turn's audit record comes back with its answer and the service process
commits the records of turns that finish together in one transaction before their replies
(console/audit_batches.py): one fsync per group, not one per turn queued on the audit log's write lock.
A turn process that dies
is replaced; the turn it was running answers 503 (retrying with the same Idempotency-Key is safe).
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from console.audit_batches import DeferredAudit, GroupCommit
from console.locks import locks_for
from console.turns import TurnProcessError, error_reply, locked_turn, settle
from tools.privacy import MaskingFilter

log = logging.getLogger("riskdesk.turns")
log.addFilter(MaskingFilter())  # a failed turn's traceback can carry the operator's message
STARTUP_TIMEOUT = 300  # seconds for a turn process to open its desk


def _child(conn: Connection, kb_replica: str) -> None:
    """A turn process: open a Desk on the shared stores, then answer turns until told to stop."""
    from agents import Desk
    from knowledge.replica import Replica
    try:
        desk = Desk.open(kb=Replica.open(kb_replica))
        settle(desk)
    except Exception as e:  # noqa: BLE001 - reported to the service, which refuses to become ready
        conn.send(("failed", f"{type(e).__name__}: {e}"))
        return
    locks = locks_for(desk)
    audit = desk.audit = DeferredAudit(desk.audit)  # the service process commits the records, in groups
    conn.send(("ready", os.getpid()))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        audit.take()  # nothing left over from a turn that failed
        try:
            answer = locked_turn(desk, locks, **request).model_dump_json()
            conn.send(("ok", answer, audit.take()))
        except Exception as e:  # noqa: BLE001 - becomes the HTTP error the service would have given
            status, body = error_reply(e)
            if status == 500:
                log.exception("turn failed")
            conn.send(("error", status, body))


@dataclass
class _Process:
    slot: int
    process: multiprocessing.process.BaseProcess
    conn: Connection
    pid: int = 0
    replacing: bool = False


class TurnProcesses:
    """N turn processes and a queue of the idle ones (the longest idle takes the next turn)."""

    def __init__(self, n: int, kb_replica: str | Path, audit: Any = None):
        self.n, self.kb_replica = n, str(kb_replica)
        self.audit = GroupCommit(audit if audit is not None else _audit_log())
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: asyncio.Queue[_Process] = asyncio.Queue()
        self._all: dict[int, _Process] = {}
        self._closing = False

    def alive(self) -> int:
        """How many turn processes are running."""
        return sum(p.process.exitcode is None for p in self._all.values())

    async def start(self) -> None:
        started = await asyncio.gather(*(self._spawn(slot) for slot in range(self.n)))
        for p in started:
            self._idle.put_nowait(p)
        self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        """Replace a turn process that died while idle, before a turn finds it dead."""
        while not self._closing:
            await asyncio.sleep(0.5)
            for p in list(self._all.values()):
                if p.process.exitcode is not None and not p.replacing:
                    log.error("turn process %d (pid %d) exited with %s; starting another", p.slot, p.pid,
                              p.process.exitcode)
                    asyncio.ensure_future(self._replace(p))

    async def _spawn(self, slot: int) -> _Process:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_child, args=(child, self.kb_replica), name=f"riskdesk-turns-{slot}", daemon=True)
        proc.start()
        child.close()
        def first_word() -> tuple:
            if not parent.poll(STARTUP_TIMEOUT):
                proc.kill()
                return ("failed", f"not ready after {STARTUP_TIMEOUT} s")
            return parent.recv()
        try:
            msg = await asyncio.to_thread(first_word)
        except (EOFError, OSError):
            msg = ("failed", f"exit code {proc.exitcode}")
        if msg[0] != "ready":
            proc.join(5)
            raise TurnProcessError(f"turn process {slot} could not start: {msg[1]}")
        p = _Process(slot, proc, parent, pid=msg[1])
        self._all[slot] = p
        return p

    async def ask(self, request: dict[str, Any]) -> tuple[int, Any]:
        """(200, AskResult JSON) or (status, ErrorBody dict). The exchange runs to its end even when the
        caller goes away, so a process never holds a stale answer for the next turn."""
        while True:
            if not self.alive() and self._idle.empty():
                raise TurnProcessError("no turn process is running (one is being restarted); retry shortly")
            p = await self._idle.get()
            if p.process.exitcode is None:
                break
            if not p.replacing:  # died while idle: the watcher had not seen it yet
                asyncio.ensure_future(self._replace(p))
        status, body, records = await asyncio.shield(asyncio.ensure_future(self._exchange(p, request)))
        await self.audit.commit(records)  # the turn's audit record is durable before its reply
        return status, body

    async def _exchange(self, p: _Process, request: dict[str, Any]) -> tuple[int, Any, list]:
        loop = asyncio.get_running_loop()
        try:
            p.conn.send(request)
            ready = loop.create_future()
            fd = p.conn.fileno()
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            msg = p.conn.recv()
        except (EOFError, OSError) as e:
            log.error("turn process %d (pid %d) died during a turn: %s; starting another", p.slot, p.pid, e)
            if not p.replacing:
                asyncio.ensure_future(self._replace(p))
            raise TurnProcessError("the turn process running this turn stopped; retry (with the same "
                                   "Idempotency-Key, a retry never grants twice)") from None
        self._idle.put_nowait(p)
        if msg[0] == "ok":
            return 200, msg[1], msg[2]
        return msg[1], msg[2], []

    async def _replace(self, dead: _Process) -> None:
        dead.replacing = True
        dead.conn.close()
        await asyncio.to_thread(dead.process.join, 1)
        if self._all.get(dead.slot) is dead:
            del self._all[dead.slot]
        if self._closing:
            return
        try:
            self._idle.put_nowait(await self._spawn(dead.slot))
        except TurnProcessError:
            log.exception("could not replace turn process %d", dead.slot)

    async def close(self) -> None:
        """Stop every turn process after the turn it is running (up to 10 s each)."""
        self._closing = True
        if getattr(self, "_watcher", None) is not None:
            self._watcher.cancel()
        for p in list(self._all.values()):
            try:
                p.conn.send(None)
            except OSError:
                pass
        for p in list(self._all.values()):
            await asyncio.to_thread(p.process.join, 10)
            if p.process.exitcode is None:
                p.process.kill()
            p.conn.close()
        self._all.clear()
        self.audit.close()


def _audit_log() -> Any:
    from agents.audit import AuditLog
    return AuditLog()
