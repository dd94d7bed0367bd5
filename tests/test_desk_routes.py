"""The desk's own routes (console/desk_routes.py) on a real Desk and SQLite stores: the customer card from the
tools, a reopened thread's turns as the live console showed them, thread and decision search within the
role's rights, masked CSV exports, the supervisors' inbox (maker-checker visible), the approvals stream,
the labels of internal codes, and /docs served without a CDN."""
import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from agents import Desk
from agents.audit import AuditLog
from console.service import create_app
from tools import Ledger, limit_lookup
from tools.ledger import SAMPLE_LEDGER

D = "2026-11-23"
KEYS = {"k-view": ("val", "viewer"), "k-op": ("alice", "operator"), "k-op2": ("carol", "operator"),
        "k-sup": ("bob", "supervisor"), "k-sup2": ("sue", "supervisor")}
VIEW, OP, OP2, SUP, SUP2 = ({"X-API-Key": k} for k in ("k-view", "k-op", "k-op2", "k-sup", "k-sup2"))


@pytest.fixture
def desk(kb, tmp_path):
    ledger = Ledger.from_file(SAMPLE_LEDGER, url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    d = Desk(ledger, kb, audit=AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}"), threads_path=tmp_path / "threads.sqlite3")
    yield d
    d.close()


@pytest.fixture
def client(desk):
    with TestClient(create_app(desk, KEYS)) as c:
        yield c


def ask(client, who, message, thread=None):
    if thread is None:
        thread = client.post("/v1/threads", headers=who).json()["thread_id"]
    r = client.post(f"/v1/threads/{thread}/messages", json={"message": message, "as_of": D},
                    headers={**who, "Accept": "application/json"})
    assert r.status_code == 200, r.text
    return thread, r.json()


def test_customer_card_comes_from_the_tools(client, desk):
    r = client.get("/v1/desk/customers/C1001", params={"as_of": D}, headers=VIEW)
    assert r.status_code == 200, r.text
    card = r.json()
    lim = limit_lookup(desk.ledger, "C1001", __import__("datetime").date(2026, 11, 23))
    assert card["base_limit"] == f"{lim.base_limit:.2f}" and card["total_available"] == f"{lim.total_available:.2f}"
    assert isinstance(card["used"], str)                                 # money: a decimal string, never a float
    assert card["temp_quota"]["expires_on"] == str(lim.temp_quota.expires_on)
    c = desk.ledger.customer("C1001")
    assert card["risk_tier"] == c.risk_tier.value and card["account_age_days"] == (lim.as_of - c.opened_on).days
    assert card["overdue_records"] == len(c.overdue_records) and card["repair_outcome"]
    assert client.get("/v1/desk/customers/C9999", headers=VIEW).status_code == 404
    assert client.get("/v1/desk/customers/C1001", params={"as_of": "2026-02-30"}, headers=VIEW).status_code == 422
    assert client.get("/v1/desk/customers/C1001").status_code == 401


def test_reopened_thread_shows_what_the_live_one_showed(client):
    thread, live = ask(client, OP, "给C1002申请4000元临时额度，买电动车送外卖")
    turns = client.get(f"/v1/desk/threads/{thread}/turns", headers=OP).json()
    [t] = turns
    for k in ("answer", "outcome", "guard", "trace_id", "approval_id", "intent", "customer_id"):
        assert t[k] == live[k], k
    assert [c["clause_id"] for c in t["citations"]] == [c["clause_id"] for c in live["citations"]]
    assert all(c["title"] for c in t["citations"])                        # titles, not bare ids
    assert "5,000" in t["clause_texts"]["LENDER-TQ-TQ5"]                  # the clause's own text
    assert t["as_of"] == D and t["message"].startswith("给C1002")
    assert client.get(f"/v1/desk/threads/{thread}/turns", headers=OP2).status_code == 404   # not carol's
    assert client.get(f"/v1/desk/threads/{thread}/turns", headers=SUP).status_code == 200


def test_search_threads_and_decisions_within_the_role(client):
    t1, _ = ask(client, OP, "给C1002申请4000元临时额度，买电动车送外卖")
    t2, _ = ask(client, OP2, "What's C1001's available credit?")
    mine = client.get("/v1/desk/threads", headers=OP).json()
    assert [r["thread_id"] for r in mine] == [t1] and mine[0]["title"].startswith("给C1002")
    assert mine[0]["customers"] == ["C1002"] and mine[0]["outcomes"] == ["approved"]
    every = client.get("/v1/desk/threads", headers=SUP).json()
    assert {r["thread_id"] for r in every} == {t1, t2}
    assert [r["thread_id"] for r in client.get("/v1/desk/threads", params={"customer": "c1001"}, headers=SUP).json()] == [t2]
    assert [r["thread_id"] for r in client.get("/v1/desk/threads", params={"operator": "alice"}, headers=SUP).json()] == [t1]
    assert client.get("/v1/desk/threads", params={"operator": "carol"}, headers=OP).status_code == 403
    assert client.get("/v1/desk/threads", params={"until": "2000-01-01"}, headers=SUP).json() == []
    dec = client.get("/v1/desk/decisions", params={"outcome": "approved"}, headers=SUP).json()
    assert [(d["customer_id"], d["caller"], d["amount"]) for d in dec] == [("C1002", "alice", "4000.00")]
    assert client.get("/v1/desk/decisions", headers=OP2).json()[0]["customer_id"] == "C1001"
    assert all(d["caller"] == "carol" for d in client.get("/v1/desk/decisions", headers=OP2).json())


def test_csv_exports_are_masked_and_scoped(client):
    ask(client, OP, "C1001的额度是多少？我的电话13812345678")
    ask(client, OP2, "What's C1002's available credit?")
    r = client.get("/v1/desk/export/audit.csv", headers=OP)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [row["caller"] for row in rows] == ["alice"]
    assert "13812345678" not in r.text and "C1001" in r.text               # the phone masked, the id kept
    sup = list(csv.DictReader(io.StringIO(client.get("/v1/desk/export/decisions.csv", headers=SUP).text.lstrip("\ufeff"))))
    assert {row["caller"] for row in sup} == {"alice", "carol"}


def test_inbox_shows_age_words_and_maker_checker(client, desk):
    thread, r = ask(client, SUP, "C1003 temp quota 8000 for a laptop for work")    # bob asks
    [item] = client.get("/v1/desk/approvals", headers=SUP).json()
    assert item["approval_id"] == r["approval_id"] and item["own"] is True        # bob cannot approve his own
    assert item["requester_message"].startswith("C1003 temp quota") and item["thread_id"] == thread
    assert item["reasons"] and item["deciding_rule"] == "TQ5" and item["age_days"] >= 0
    [other] = client.get("/v1/desk/approvals", headers=SUP2).json()
    assert other["own"] is False
    assert client.get("/v1/desk/approvals", headers=VIEW).status_code == 403
    refused = client.post(f"/v1/approvals/{r['approval_id']}/approve", json={"as_of": D}, headers=SUP)
    assert refused.status_code == 403


def test_rejection_reason_reaches_the_thread(client, desk):
    thread, r = ask(client, OP, "C1003 temp quota 8000 for a laptop for work")
    d = client.post(f"/v1/approvals/{r['approval_id']}/reject", json={"as_of": D, "reason": "income not verified"},
                    headers=SUP)
    assert d.status_code == 200 and "income not verified" in d.json()["answer"] and d.json()["guard"]["grounded"]
    turns = client.get(f"/v1/desk/threads/{thread}/turns", headers=OP).json()
    assert "income not verified" in turns[-1]["answer"] and turns[-1]["outcome"] == "denied"


def test_labels_map_internal_codes(client):
    zh = client.get("/v1/desk/labels", params={"lang": "zh"}, headers=VIEW).json()
    en = client.get("/v1/desk/labels", params={"lang": "en"}, headers=VIEW).json()
    assert zh["purpose"]["work_tools"] == "工作工具" and en["reason"]["amount_over_5000"] == "amount above ¥5,000"
    assert zh["outcome"]["rejected"] and zh["role"]["operator"] == "操作员"
    assert set(zh) == set(en) and all(set(zh[k]) == set(en[k]) for k in zh)


def test_docs_are_served_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower() and "/docs/assets/swagger-ui-bundle.js" in page.text
    js = client.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/docs/assets/..%2Fpyproject.toml").status_code in (404, 422)


def test_approvals_stream_pushes_the_pending_list(client, desk):
    _, r = ask(client, OP, "C1003 temp quota 8000 for a laptop for work")
    with client.stream("GET", "/v1/desk/approvals/stream", headers={**SUP, "Accept": "text/event-stream"}) as s:
        assert s.status_code == 200
        for line in s.iter_lines():
            if line.startswith("data:"):
                items = json.loads(line[5:])
                break
    assert [i["approval_id"] for i in items] == [r["approval_id"]]


def test_approvals_stream_answers_a_client_that_takes_no_event_stream_once_as_json(client, desk):
    # SSE is what a browser's EventSource asks for (Accept: text/event-stream); any other client gets the list
    # once and the response ends, instead of an endless body it cannot read.
    _, r = ask(client, OP, "C1003 temp quota 8000 for a laptop for work")
    res = client.get("/v1/desk/approvals/stream", headers={**SUP, "Accept": "application/json"})
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/json")
    assert r["approval_id"] in [i["approval_id"] for i in res.json()]
