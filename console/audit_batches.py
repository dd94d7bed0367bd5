"""Audit records of turn processes, committed in groups by the service process (one writer, one fsync per group).

A turn's audit record must be durable before its reply is sent. Written by each turn process itself, every
turn paid one commit with an fsync (about 4 ms on this machine's disk), and two turn processes queued on
the audit database's single write lock for the whole of each other's fsync: the audit log, not the CPU,
capped the service's turns per second. Now a turn process hands its record back with the answer
(`DeferredAudit` captures what `AuditLog.write` would have stored), and the service process's one
writer (`GroupCommit`) commits every record that arrived while the previous commit was under way in one
transaction: the same rows, one fsync for the group. A reply waits for the commit that holds its record,
so an answered turn is in the audit log before the reply, as before. A group whose commit fails is retried
record by record, and a turn whose record cannot be stored answers 500 like any failed turn.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agents.audit import AuditLog, AuditRecord, audit_row

log = logging.getLogger("riskdesk.audit")

# (the audit row exactly as AuditLog.write stores it, the owner that claims its thread or None)
Pending = tuple[dict[str, str], "str | None"]


class DeferredAudit:
    """A turn process's audit log: reads go to the real log; `write` keeps the turn's record for the service
    process to commit (`take()` hands it over). Everything else is the wrapped AuditLog's."""

    def __init__(self, audit: AuditLog):
        self._audit = audit
        self._pending: list[Pending] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._audit, name)

    def write(self, record: AuditRecord, owner: str | None = None) -> None:
        self._pending.append((audit_row(record), owner))

    def take(self) -> list[Pending]:
        out, self._pending = self._pending, []
        return out


class GroupCommit:
    """One writer thread; `await commit(records)` returns once they are durable. Records that arrive while a
    commit is under way go together in the next one."""

    def __init__(self, audit: AuditLog):
        self.audit = audit
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskdesk-audit")
        self._waiting: list[tuple[list[Pending], asyncio.Future]] = []
        self._busy = False
        self.groups = self.records = 0  # commits made and records stored (the service's figures)

    async def commit(self, records: list[Pending]) -> None:
        if not records:
            return
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((records, done))
        if not self._busy:
            self._busy = True
            asyncio.ensure_future(self._drain())
        await asyncio.shield(done)  # a client that goes away does not take its record out of the group

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                failed = await loop.run_in_executor(self._writer, self._write, [r for records, _ in batch for r in records])
                self.groups, self.records = self.groups + 1, self.records + sum(len(r) for r, _ in batch)
                for records, done in batch:
                    bad = next((failed[row["trace_id"]] for row, _ in records if row["trace_id"] in failed), None)
                    if not done.done():
                        done.set_exception(bad) if bad is not None else done.set_result(None)
        finally:
            self._busy = False

    def _write(self, group: list[Pending]) -> dict[str, BaseException]:
        """Write the group; on failure write its records one by one. Returns trace id -> error of those not stored."""
        try:
            self.audit.write_rows(group)
            return {}
        except Exception:  # noqa: BLE001 - retried one by one below, so one bad record fails only its own turn
            if len(group) == 1:
                log.exception("writing an audit record failed")
                return {group[0][0]["trace_id"]: RuntimeError("the turn's audit record could not be stored")}
        failed: dict[str, BaseException] = {}
        for pending in group:
            failed |= self._write([pending])
        return failed

    def close(self) -> None:
        self._writer.shutdown(wait=True)
