"""Approvals that always end, and four eyes (issue 14 §3).

Attacks, each against the real Desk or HTTP service on a persistent SQLite store in tmp_path:
- after one failed approve (422 for a date, 409 for a conflict) every later approve or reject of the same
  approval replayed the first error, even after a restart, and a reject returned the approve's 409;
- an approval that could no longer be granted stayed pending for ever;
- 50 identical needs-approval requests created 50 pending approvals for one customer;
- one supervisor asked for a quota and approved it alone; `riskdesk approvals approve --by NAME` let anyone
  name any approver;
- a client claimed the `approval-<id>` thread the desk writes a decision's record to, and read it.
"""
from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, Text, create_engine, inspect
from typer.testing import CliRunner

from agents import ApprovalDecision, PermissionDenied
from console.service import create_app
from factories import customer, ledger_with
from tools import ApprovalError, Ledger, approve, list_approvals, temp_quota
from tools.ledger import SAMPLE_LEDGER, parse_ledger

from security.stores import TODAY, open_desk

KEYS = {"k-op": ("alice", "operator"), "k-op2": ("carol", "operator"), "k-sup": ("bob", "supervisor"),
        "k-sup2": ("dora", "supervisor")}
OP, OP2, SUP, SUP2 = ({"X-API-Key": k} for k in ("k-op", "k-op2", "k-sup", "k-sup2"))
PENDING = "给C1003申请8000元临时额度，买笔记本电脑工作用"      # > 5,000: a supervisor decides
FRIDGE = "给C1004申请3000元临时额度，买冰箱"                  # tier C: a supervisor decides
DENTIST = "给C1004申请2000元临时额度，看牙"                   # the same customer, another purpose


@pytest.fixture
def client(desk):
    with TestClient(create_app(desk, KEYS, turn_workers=8)) as c:
        yield c


def status(desk, approval_id):
    return next(a.status for a in desk.approvals(None) if a.approval_id == approval_id)


# ------------------------------------------------------------------ every decision is evaluated fresh

def test_a_failed_approve_for_a_date_does_not_stick(client, desk):
    asked = client.post("/v1/ask", json={"message": PENDING}, headers=OP).json()
    ap = asked["approval_id"]
    assert asked["outcome"] == "needs_approval" and desk._thread_waiting_on(ap) == asked["thread_id"]
    for bad in ("1950-01-01", "2027-03-01"):                     # out of range, and not today
        r = client.post(f"/v1/approvals/{ap}/approve", json={"as_of": bad}, headers=SUP)
        assert r.status_code == 422, r.text
    assert status(desk, ap) == "pending" and desk._thread_waiting_on(ap) == asked["thread_id"]
    done = client.post(f"/v1/approvals/{ap}/approve", headers=SUP)
    assert done.status_code == 200 and done.json()["outcome"] == "approved", done.text
    assert done.json()["thread_id"] == asked["thread_id"]       # recorded in the paused conversation
    assert len(desk.ledger.customer("C1003").temp_quotas) == 1


def test_a_reject_works_after_a_failed_approve_even_after_a_restart(kb, tmp_path, store):
    desk = open_desk(kb, tmp_path, store)
    with TestClient(create_app(desk, KEYS)) as c:
        fridge = c.post("/v1/ask", json={"message": FRIDGE}, headers=OP).json()
        dentist = c.post("/v1/ask", json={"message": DENTIST}, headers=OP).json()
        assert fridge["approval_id"] != dentist["approval_id"]
        assert c.post(f"/v1/approvals/{dentist['approval_id']}/approve", headers=SUP).json()["outcome"] == "approved"
        # another quota is live now: the fridge can no longer be granted (TQ4)
        r = c.post(f"/v1/approvals/{fridge['approval_id']}/approve", headers=SUP)
        assert r.status_code == 409 and "TQ4" in r.json()["detail"]
    desk.close()
    desk = open_desk(kb, tmp_path, store)                         # a restart
    with TestClient(create_app(desk, KEYS)) as c:
        again = c.post(f"/v1/approvals/{fridge['approval_id']}/approve", headers=SUP)
        assert again.status_code == 409 and "TQ4" in again.json()["detail"]   # decided afresh, same facts
        no = c.post(f"/v1/approvals/{fridge['approval_id']}/reject", json={"reason": "one quota at a time"}, headers=SUP)
        assert no.status_code == 200, no.text
        assert no.json()["outcome"] == "denied" and no.json()["thread_id"] == fridge["thread_id"]
    assert status(desk, fridge["approval_id"]) == "rejected"
    assert len(desk.ledger.customer("C1004").temp_quotas) == 1
    desk.close()


def test_an_approval_past_its_decide_by_day_expires_with_a_reason(kb, tmp_path, store):
    first = open_desk(kb, tmp_path, store)
    ap = first.ask(PENDING, caller="alice").approval_id
    assert first.approvals()[0].decide_by.isoformat() == "2026-12-22"
    first.close()
    later = open_desk(kb, tmp_path, store, today="2026-12-23")    # the service a month on
    with TestClient(create_app(later, KEYS)) as c:
        assert c.get("/v1/approvals", headers=SUP).json() == []
        [gone] = c.get("/v1/approvals?status=expired", headers=SUP).json()
        assert gone["approval_id"] == ap and gone["decided_by"] == "system" and "2026-12-22" in gone["reason"]
        r = c.post(f"/v1/approvals/{ap}/approve", headers=SUP)
        assert r.status_code == 409 and "expired" in r.json()["detail"]
        no = c.post(f"/v1/approvals/{ap}/reject", headers=SUP)
        assert no.status_code == 200 and no.json()["outcome"] == "denied"
        assert "expired" in no.json()["answer"] or "已过期" in no.json()["answer"]
    assert later.ledger.customer("C1003").temp_quotas == []
    later.close()


def test_an_approval_expires_on_the_next_decision_too(tmp_path):
    led = ledger_with(customer(risk_tier="C"), url=f"sqlite:///{tmp_path / 'one.sqlite3'}")
    r = temp_quota(led, "T1", 1000, "work_tools", dt.date(2026, 11, 23), requested_by="alice")
    assert r.outcome == "needs_approval"
    with pytest.raises(ApprovalError, match="expired: not decided by 2026-12-22"):
        approve(led, r.approval_id, "bob", dt.date(2026, 12, 23))
    [a] = list_approvals(led, None)
    assert (a.status, a.decided_by) == ("expired", "system") and led.customer("T1").temp_quotas == []
    with pytest.raises(ApprovalError, match="expired"):
        approve(led, r.approval_id, "bob", dt.date(2026, 12, 1))


# ------------------------------------------------------------------ one pending approval per customer and purpose

def test_fifty_identical_requests_make_one_pending_approval(client, desk):
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: client.post("/v1/ask", json={"message": PENDING}, headers=OP), range(50)))
    assert {r.status_code for r in replies} == {200}
    ids = {r.json()["approval_id"] for r in replies}
    assert len(ids) == 1 and {r.json()["outcome"] for r in replies} == {"needs_approval"}
    attached = [r.json()["tool_calls"][0]["result"]["attached"] for r in replies]
    assert attached.count(False) == 1 and attached.count(True) == 49
    pending = client.get("/v1/approvals", headers=SUP).json()
    assert [a["approval_id"] for a in pending] == list(ids) and pending[0]["requested_by"] == "alice"
    # another operator's identical request joins it too; the same purpose at another amount is refused
    assert client.post("/v1/ask", json={"message": PENDING}, headers=OP2).json()["approval_id"] in ids
    other = client.post("/v1/ask", json={"message": PENDING.replace("8000", "9000")}, headers=OP).json()
    assert other["outcome"] is None and "pending approval" in other["answer"] and other["guard"]["grounded"]
    assert len(client.get("/v1/approvals", headers=SUP).json()) == 1
    done = client.post(f"/v1/approvals/{next(iter(ids))}/approve", headers=SUP)
    assert done.json()["outcome"] == "approved" and len(desk.ledger.customer("C1003").temp_quotas) == 1


# ------------------------------------------------------------------ maker-checker

def test_the_requester_cannot_approve_their_own_request(client, desk):
    mine = client.post("/v1/ask", json={"message": PENDING}, headers=SUP).json()  # bob asks, as a supervisor
    ap = mine["approval_id"]
    r = client.post(f"/v1/approvals/{ap}/approve", headers=SUP)
    assert r.status_code == 403 and "bob requested" in r.json()["detail"] and "another supervisor" in r.json()["detail"]
    assert status(desk, ap) == "pending" and desk.ledger.customer("C1003").temp_quotas == []
    with pytest.raises(PermissionDenied, match="four eyes"):
        desk.decide(ap, ApprovalDecision(decision="approve", supervisor="bob"))
    ok = client.post(f"/v1/approvals/{ap}/approve", headers=SUP2)   # dora: the second pair of eyes
    assert ok.status_code == 200 and ok.json()["outcome"] == "approved"
    [a] = desk.approvals("approved")
    assert (a.requested_by, a.decided_by) == ("bob", "dora")


def test_the_cli_decides_as_a_known_identity(monkeypatch, tmp_path, store):
    from console.cli import app
    monkeypatch.setenv("RISKDESK_LEDGER_URL", store)
    monkeypatch.setenv("RISKDESK_TODAY", TODAY)
    monkeypatch.setenv("RISKDESK_API_KEYS", "cli-sup:dora:supervisor,cli-op:carol:operator")
    monkeypatch.delenv("RISKDESK_API_KEY", raising=False)
    monkeypatch.delenv("RISKDESK_OPERATOR", raising=False)
    runner = CliRunner()
    monkeypatch.setenv("RISKDESK_OPERATOR", "bob:supervisor")      # bob asks for the quota at his terminal
    asked = runner.invoke(app, ["quota", "C1003", "8000", "-p", "laptop for work", "--json"])
    ap = json.loads(asked.stdout)["approval_id"]
    own = runner.invoke(app, ["approvals", "approve", ap])
    assert own.exit_code == 2 and "four eyes" in own.output
    monkeypatch.delenv("RISKDESK_OPERATOR")
    for args, words in [([], "known identity"), (["--by", "mallory"], "--by no longer"),
                        (["--key", "nope"], "unknown API key"), (["--key", "cli-op"], "only the supervisor role may approve")]:
        r = runner.invoke(app, ["approvals", "approve", ap, *args])
        assert r.exit_code == 2 and words in r.output, (args, r.output)
    assert [a.status for a in list_approvals(Ledger.open(store))] == ["pending"]
    ok = runner.invoke(app, ["approvals", "approve", ap, "--key", "cli-sup", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["approval"]["decided_by"] == "dora"
    assert json.loads(ok.stdout)["approval"]["requested_by"] == "bob"


# ------------------------------------------------------------------ thread ids

def test_a_client_cannot_claim_an_approval_thread(client, desk):
    asked = client.post("/v1/ask", json={"message": FRIDGE}, headers=OP).json()
    ap = asked["approval_id"]
    # carol tries to take the thread the desk would record a decision on outside any conversation
    claim = client.post("/v1/ask", json={"message": "C1001的额度", "thread_id": f"approval-{ap}"}, headers=OP2)
    assert claim.status_code == 422 and "thread_id" in claim.json()["detail"]
    assert client.post(f"/v1/threads/approval-{ap}/messages", json={"message": "hi"}, headers=OP2).status_code == 422
    client.post("/v1/ask", json={"message": "C1001的额度", "thread_id": asked["thread_id"]}, headers=OP)  # pause dropped
    done = desk.decide(ap, ApprovalDecision(decision="reject", supervisor="bob", reason="no"), caller="bob")
    assert done.thread_id == f"approval-{ap}" and desk.audit.thread(done.thread_id).owner == "bob"
    assert client.get(f"/v1/threads/approval-{ap}", headers=OP2).status_code == 404
    for look_alike in [f"Approval-{ap}", f"APPROVAL-{ap}"]:  # the reserved prefix in any case
        r = client.post("/v1/ask", json={"message": "C1001的额度", "thread_id": look_alike}, headers=OP2)
        assert r.status_code == 422, look_alike
    for bad in ["a b", "t:1", "x" * 65, "../etc", "线程"]:
        r = client.post("/v1/ask", json={"message": "C1001的额度", "thread_id": bad}, headers=OP)
        assert r.status_code == 422, bad
    spec = client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]["thread_id"]
    assert "approval-" in json.dumps(spec) and "64" in json.dumps(spec)


def test_a_client_cannot_ask_in_a_direct_call_thread(client, desk):
    # direct tool calls (HTTP, CLI, MCP) are recorded in these threads; a turn asked in one would mix into them
    for name in ["direct-http", "Direct-CLI", "MCP", "mcp"]:
        r = client.post("/v1/ask", json={"message": "C1001的额度", "thread_id": name}, headers=OP)
        assert r.status_code == 422 and "thread_id" in r.json()["detail"], name
        assert client.post(f"/v1/threads/{name}/messages", json={"message": "hi"}, headers=OP).status_code == 422
    assert desk.audit.for_thread("direct-http") == [] and desk.audit.for_thread("mcp") == []
    for fine in ["direct-https", "mcp-2", "my-mcp"]:  # only the names themselves are reserved
        assert client.post("/v1/ask", json={"message": "C1001的额度", "thread_id": fine}, headers=OP).status_code == 200


def test_decisions_outside_a_thread_go_to_the_reserved_namespace(client, desk):
    asked = client.post("/v1/ask", json={"message": FRIDGE}, headers=OP).json()
    client.post("/v1/ask", json={"message": "C1001的额度", "thread_id": asked["thread_id"]}, headers=OP)  # pause dropped
    done = client.post(f"/v1/approvals/{asked['approval_id']}/reject", json={"reason": "no"}, headers=SUP).json()
    assert done["thread_id"] == f"approval-{asked['approval_id']}"
    assert client.get(f"/v1/threads/{done['thread_id']}", headers=SUP).status_code == 200
    assert client.get(f"/v1/threads/{done['thread_id']}", headers=OP).status_code == 404


# ------------------------------------------------------------------ the requested_by column on older stores

OLD = MetaData()
Table("approvals", OLD, Column("approval_id", String(40), primary_key=True),
      Column("customer_id", String(32), nullable=False), Column("amount_fen", Integer, nullable=False),
      Column("purpose", Text, nullable=False), Column("category", String(32)),
      Column("requested_on", Date, nullable=False), Column("reasons", Text, nullable=False),
      Column("status", String(16), nullable=False), Column("decided_by", String(64)), Column("decided_on", Date),
      Column("reason", Text))


def test_an_older_store_gains_requested_by_in_place(store_url):
    engine = create_engine(store_url)
    OLD.create_all(engine)                                 # a store made before maker-checker
    with engine.begin() as conn:
        conn.execute(OLD.tables["approvals"].insert().values(
            approval_id="AP-OLD", customer_id="C1003", amount_fen=800000, purpose="laptop for work",
            category="work_tools", requested_on=dt.date(2026, 11, 23), reasons='["amount_over_5000"]', status="pending"))
    assert "requested_by" not in {c["name"] for c in inspect(engine).get_columns("approvals")}
    engine.dispose()
    led = Ledger.open(store_url)                           # the upgrade happens at open, idempotently
    led.load(parse_ledger(SAMPLE_LEDGER.read_bytes()))
    Ledger.open(store_url).engine.dispose()
    assert "requested_by" in {c["name"] for c in inspect(led.engine).get_columns("approvals")}
    [old] = list_approvals(led)
    assert (old.approval_id, old.requested_by) == ("AP-OLD", None)
    assert approve(led, "AP-OLD", "bob", dt.date(2026, 11, 23)).grant.amount == 8000
