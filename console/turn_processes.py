"""Turn processes for `riskdesk serve --workers N`.

With the rules planner a turn is a few milliseconds of CPU-bound Python, and one process runs one
at a time (one GIL). With `--workers N` the service process keeps the HTTP side (parsing, auth, the
web console, streamed turns, approvals) and hands each one-shot turn (`POST /v1/ask`, a thread
message asked as JSON) to the turn process with the fewest turns under way (at most two each: the second
waits in the pipe) over a pipe. Balancing is per turn, not per connection, so a few long-lived keep-alive
connections cannot pile onto one process.

Each turn process opens its own Desk over the same stores: the ledger, audit log and conversation
checkpoints (SQLite files under $RISKDESK_HOME, or databases by URL), and a read-only replica of the
knowledge base that the service process (the Chroma store's only owner) published. A turn takes the
conversation's lock (a file lock shared with the service process; on PostgreSQL an advisory lock,
console/locks.py), and a grant is decided inside one ledger transaction, so one Idempotency-Key grants
once wherever its retries run. A turn's audit record comes back with its answer and the service process
commits the records of turns that finish together in one transaction before their replies
(console/audit_batches.py): one fsync per group, not one per turn queued on the audit log's write lock.
A turn process that dies
is replaced; the turns sent to it answer 503 (retrying with the same Idempotency-Key is safe).
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections import deque
from dataclasses import dataclass, field
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
    waiting: deque = field(default_factory=deque)  # the futures of the turns sent to it, in order
    sent: int = 0  # when it was last given a turn (a count): of two equally busy, the longer idle takes the next


class TurnProcesses:
    """N turn processes. A turn goes to the process with the fewest turns under way (of equals, the one
    idle longest), up to DEPTH each: the
    next turn waits in the process's pipe while it finishes the current one, so a process never sits idle
    while the service process is busy elsewhere (parsing requests, or not scheduled on a busy machine)."""

    DEPTH = 2

    def __init__(self, n: int, kb_replica: str | Path, audit: Any = None):
        self.n, self.kb_replica = n, str(kb_replica)
        self.audit = GroupCommit(audit if audit is not None else _audit_log())
        self._ctx = multiprocessing.get_context("spawn")
        self._all: dict[int, _Process] = {}
        self._waiters: deque[asyncio.Future] = deque()  # turns waiting for a free place, first come first served
        self._closing = False
        self._sent = 0

    def alive(self) -> int:
        """How many turn processes are running."""
        return sum(p.process.exitcode is None for p in self._all.values())

    async def start(self) -> None:
        started = await asyncio.gather(*(self._spawn(slot) for slot in range(self.n)))
        for p in started:
            self._listen(p)
        self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        """Replace a turn process that died while idle, before a turn finds it dead."""
        while not self._closing:
            await asyncio.sleep(0.5)
            for p in list(self._all.values()):
                if p.process.exitcode is not None and not p.replacing:
                    self._died(p, f"exited with {p.process.exitcode}")

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

    def _listen(self, p: _Process) -> None:
        asyncio.get_running_loop().add_reader(p.conn.fileno(), self._on_reply, p)
        self._wake()

    def _pick(self) -> _Process | None:
        best = None
        for p in self._all.values():
            if not p.replacing and len(p.waiting) < self.DEPTH and (
                    best is None or (len(p.waiting), p.sent) < (len(best.waiting), best.sent)):
                best = p
        return best

    async def ask(self, request: dict[str, Any]) -> tuple[int, Any]:
        """(200, AskResult JSON) or (status, ErrorBody dict), once the turn's audit record is stored. A turn
        runs to its end even when the caller goes away, so a process never holds a stale answer."""
        loop = asyncio.get_running_loop()
        while (p := self._pick()) is None:
            if not any(not q.replacing for q in self._all.values()):
                raise TurnProcessError("no turn process is running (one is being restarted); retry shortly")
            turn = loop.create_future()
            self._waiters.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._wake()  # pass the place it was given on
                raise
        answer = loop.create_future()
        try:
            p.conn.send(request)
        except OSError as e:
            self._died(p, str(e))
            raise TurnProcessError("the turn process for this turn stopped; retry (with the same Idempotency-Key, "
                                   "a retry never grants twice)") from None
        p.waiting.append(answer)
        self._sent += 1
        p.sent = self._sent
        status, body, records = await asyncio.shield(answer)
        await self.audit.commit(records)  # the turn's audit record is durable before its reply
        return status, body

    def _on_reply(self, p: _Process) -> None:
        try:
            msg = p.conn.recv()
        except (EOFError, OSError) as e:
            self._died(p, str(e) or type(e).__name__)
            return
        if not p.waiting:
            log.error("turn process %d (pid %d) answered a turn it was not asked", p.slot, p.pid)
            return
        answer = p.waiting.popleft()
        if not answer.done():
            answer.set_result((200, msg[1], msg[2]) if msg[0] == "ok" else (msg[1], msg[2], []))
        self._wake()

    def _wake(self) -> None:
        free = sum(self.DEPTH - len(p.waiting) for p in self._all.values() if not p.replacing)
        while free > 0 and self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                free -= 1

    def _died(self, p: _Process, why: str) -> None:
        """A turn process stopped: its turns under way answer 503 (TurnProcessError) and another one starts."""
        if p.replacing:
            return
        log.error("turn process %d (pid %d) stopped (%s) with %d turn(s) under way; starting another", p.slot, p.pid,
                  why, len(p.waiting))
        p.replacing = True
        try:
            asyncio.get_running_loop().remove_reader(p.conn.fileno())
        except (OSError, ValueError):
            pass
        while p.waiting:
            answer = p.waiting.popleft()
            if not answer.done():
                answer.set_exception(TurnProcessError(
                    "the turn process running this turn stopped; retry (with the same Idempotency-Key, a retry "
                    "never grants twice)"))
        asyncio.ensure_future(self._replace(p))

    async def _replace(self, dead: _Process) -> None:
        dead.conn.close()
        if self._all.get(dead.slot) is dead:
            del self._all[dead.slot]
        try:
            if not self._closing:
                self._listen(await self._spawn(dead.slot))  # the replacement starts at once
        except TurnProcessError:
            log.exception("could not replace turn process %d", dead.slot)
        finally:
            await asyncio.to_thread(dead.process.join, 1)  # then the dead one is reaped

    async def close(self) -> None:
        """Stop every turn process after the turns sent to it (up to 10 s each)."""
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
            p.replacing = True
            try:
                asyncio.get_running_loop().remove_reader(p.conn.fileno())
            except (OSError, ValueError):
                pass
            p.conn.close()
        self._all.clear()
        self.audit.close()


def _audit_log() -> Any:
    from agents.audit import AuditLog
    return AuditLog()
