"""The ledger and the audit log on a real PostgreSQL server (the store several services share). The
ledger's concurrency tests run on both stores (`store_url` in conftest; tests/test_temp_quota.py); these
are the rest. The server comes from the `pg` fixture: a throwaway cluster, or RISKDESK_TEST_PG_URL."""
from __future__ import annotations

import json

import pytest
from factories import customer, ledger_with

from agents.audit import AuditLog, AuditRecord
from agents.contract import GuardVerdict
from tools import LedgerError
from tools.ledger import parse_ledger


def test_a_clashing_fixture_loads_nothing_into_a_postgres_ledger(pg):
    led = ledger_with(customer(), url=pg)
    before = led.customer("T1")
    with pytest.raises(LedgerError, match="T1: already in the ledger"):
        led.load(parse_ledger(json.dumps({"customers": [customer("T2"), customer("T1", name="Other")]})))
    assert led.customer_ids() == ["T1"] and led.customer("T1") == before


def test_audit_log_and_thread_owners_on_postgres(pg):
    audit = AuditLog(pg)
    record = AuditRecord(trace_id="tr1", thread_id="t-1", created_at="2026-11-23T10:00:00.000+00:00", caller="alice",
                         role="operator", as_of="2026-11-23", message="C1001的额度", planner="rules", reply="ok",
                         guard=GuardVerdict(grounded=True, checked_claims=0, ungrounded=[]))
    audit.write(record, owner="alice")
    audit.write(record.model_copy(update={"trace_id": "tr2", "caller": "bob", "created_at": "2026-11-23T10:00:01.000+00:00"}),
                owner="bob")                              # a thread keeps its first owner
    assert audit.thread("t-1").owner == "alice"
    assert [r.trace_id for r in audit.for_thread("t-1")] == ["tr1", "tr2"]
    audit.claim_thread("t-2", "carol")
    assert [(t["thread_id"], t["turns"]) for t in audit.threads()] == [("t-2", 0), ("t-1", 2)]
    assert audit.get("tr2").caller == "bob"
