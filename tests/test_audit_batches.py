"""Audit records committed in groups by the service process (console/audit_batches.py): the same rows as
AuditLog.write, each thread claimed by its first owner, a record durable before `commit` returns, and a
group that fails retried record by record so only the bad record's turn fails. End to end: a turn answered
by a turn process is in the audit log when its reply arrives."""
from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import threading

import httpx
import pytest

from agents.audit import AuditLog
from console.audit_batches import DeferredAudit, GroupCommit
from console.loadtest import start_service

D = "2026-11-23"


def _rows(path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT trace_id, thread_id, created_at, record FROM audit ORDER BY trace_id").fetchall()


def _owners(path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT thread_id, owner FROM service_threads").fetchall())


@pytest.fixture
def records(tmp_path, ledger, kb):
    """Three real audit records from three turns of a desk (two in one thread), captured by a DeferredAudit."""
    from agents.desk import Desk
    desk = Desk(ledger, kb, audit=AuditLog(f"sqlite:///{tmp_path / 'source.sqlite3'}"))
    deferred = desk.audit = DeferredAudit(desk.audit)
    first = desk.ask("C1001的额度", as_of=D, caller="alice")
    desk.ask("What's C1002's available credit?", as_of=D, caller="bob", thread_id=first.thread_id)
    desk.ask("逾期还清后多久不再展示？", as_of=D, caller="bob")
    pending = deferred.take()
    assert len(pending) == 3 and deferred.take() == []
    assert _rows(tmp_path / "source.sqlite3") == []  # nothing was written by the turns themselves
    return pending


def _stored(audit: AuditLog) -> tuple[list, dict]:
    from sqlalchemy import text
    with audit.engine.connect() as conn:
        rows = conn.execute(text("SELECT trace_id, thread_id, created_at, record FROM audit ORDER BY trace_id")).all()
        owners = dict(conn.execute(text("SELECT thread_id, owner FROM service_threads")).all())
    return [tuple(r) for r in rows], owners


@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_a_group_stores_what_audit_log_write_stores(tmp_path, records, where, request):
    one_by_one = AuditLog(f"sqlite:///{tmp_path / 'one.sqlite3'}")  # what AuditLog.write stores, record by record
    grouped = AuditLog(f"sqlite:///{tmp_path / 'group.sqlite3'}" if where == "sqlite" else request.getfixturevalue("pg"))
    from agents.audit import AuditRecord
    for row, owner in records:
        one_by_one.write(AuditRecord.model_validate_json(row["record"]), owner=owner)
    grouped.write_rows(records)
    rows, owners = _stored(grouped)
    assert (rows, owners) == _stored(one_by_one)
    assert len(rows) == 3 and sorted(owners.values()) == ["alice", "bob"]  # the shared thread keeps alice
    assert grouped.get(records[0][0]["trace_id"]).caller == "alice"
    one_by_one.engine.dispose()
    grouped.engine.dispose()


def test_records_arriving_during_a_commit_go_together_in_the_next(tmp_path, records):
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    writer = GroupCommit(audit)
    gate = threading.Event()
    real = writer._write

    def slow(group):  # the first commit waits until the other turns' records are queued behind it
        gate.wait(10)
        return real(group)
    writer._write = slow

    async def run() -> None:
        first = asyncio.ensure_future(writer.commit(records[:1]))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(writer.commit([r])) for r in records[1:]]
        await asyncio.sleep(0.05)
        assert not first.done() and not any(r.done() for r in rest)  # nobody is answered before the commit
        gate.set()
        await asyncio.gather(first, *rest)
    asyncio.run(run())
    writer.close()
    assert (writer.groups, writer.records) == (2, 3)
    assert [r[0] for r in _rows(tmp_path / "audit.sqlite3")] == sorted(r["trace_id"] for r, _ in records)


def test_a_failing_record_fails_only_its_own_turn(tmp_path, records):
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    audit.write_rows(records[:1])  # the same trace id again violates the primary key
    writer = GroupCommit(audit)

    async def run() -> list:
        return await asyncio.gather(*(writer.commit([r]) for r in records), return_exceptions=True)
    outcomes = asyncio.run(run())
    writer.close()
    assert isinstance(outcomes[0], RuntimeError) and "audit record could not be stored" in str(outcomes[0])
    assert outcomes[1:] == [None, None]
    assert len(_rows(tmp_path / "audit.sqlite3")) == 3


def test_a_turn_process_answer_is_in_the_audit_log_when_it_arrives(tmp_path):
    proc, url = start_service(tmp_path, {"k-op": ("alice", "operator")}, workers=2)
    try:
        with httpx.Client(base_url=url, headers={"X-API-Key": "k-op"}, timeout=30) as c:
            replies = [c.post("/v1/ask", json={"message": m, "as_of": D}) for m in
                       ("C1001的额度", "What's C1003's available credit?", "逾期还清后多久不再展示？") * 3]
            assert [r.status_code for r in replies] == [200] * 9
            # read straight from the file, not through the service: committed, not only visible to its writer
            stored = {r[0]: r for r in _rows(tmp_path / "audit.sqlite3")}
            for r in replies:
                assert r.json()["trace_id"] in stored
            assert _owners(tmp_path / "audit.sqlite3")[replies[0].json()["thread_id"]] == "alice"
            assert c.get(f"/v1/audit/{replies[0].json()['trace_id']}").json()["caller"] == "alice"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
