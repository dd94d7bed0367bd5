"""The HTTP service through the ASGI test client: every endpoint, auth and roles, error codes,
SSE progress, the approvals flow, and idempotency under concurrent requests."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agents import AskResult, Desk
from agents.audit import AuditLog
from agents.contract import AskRequest
from console.service import ApiKey, KeyConfigError, create_app, keys_from_env, load_keys_file, parse_keys_env
from tools import Ledger
from tools.ledger import SAMPLE_LEDGER

D = "2026-11-23"
KEYS = {"k-view": ("val", "viewer"), "k-op": ("alice", "operator"), "k-op2": ("carol", "operator"),
        "k-sup": ("bob", "supervisor")}
VIEW, OP, OP2, SUP = ({"X-API-Key": k} for k in ("k-view", "k-op", "k-op2", "k-sup"))
PENDING = "C1003 temp quota 8000 for a laptop for work"
AUTO = "给C1002申请4000元临时额度，买电动车送外卖"


@pytest.fixture
def desk(kb, tmp_path):
    ledger = Ledger.from_file(SAMPLE_LEDGER, url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    d = Desk(ledger, kb, audit=AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}"), threads_path=tmp_path / "threads.sqlite3")
    yield d
    d.close()


@pytest.fixture
def client(desk):
    # 8 turn threads (the rules-planner default is 1) so concurrent requests really run the desk concurrently
    with TestClient(create_app(desk, KEYS, turn_workers=8)) as c:
        yield c


def grants(desk, cid):
    return desk.ledger.customer(cid).temp_quotas


def sse(text):
    """Parse an SSE body into [(event, data)]."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if event:
            out.append((event, json.loads("\n".join(data))))
    return out


# ------------------------------------------------------------------ probes, console, openapi

def test_probes_and_console(client):
    assert client.get("/healthz").json() == {"status": "ok", "detail": ""}
    assert client.get("/readyz").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_readyz_is_503_until_the_desk_is_open(desk):
    gate = threading.Event()

    def slow_open():
        gate.wait(10)
        return desk
    with TestClient(create_app(None, KEYS, open_desk=slow_open)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "starting"
        busy = c.post("/v1/ask", json={"message": "hi"}, headers=OP)
        assert busy.status_code == 503 and "starting" in busy.json()["detail"] and busy.headers["retry-after"]
        assert c.get("/healthz").status_code == 200
        gate.set()
        for _ in range(100):
            if c.get("/readyz").status_code == 200:
                break
            threading.Event().wait(0.05)
        assert c.get("/readyz").status_code == 200


def test_readyz_reports_a_desk_that_failed_to_open():
    def broken():
        raise RuntimeError("ledger unreachable")
    with TestClient(create_app(None, KEYS, open_desk=broken)) as c:
        for _ in range(100):
            r = c.get("/readyz")
            if r.json()["status"] != "starting":
                break
            threading.Event().wait(0.02)
        assert r.status_code == 503 and r.json()["status"] == "unavailable" and "ledger unreachable" in r.json()["detail"]


def test_openapi_is_generated_from_the_contract_models(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for name in ("AskRequest", "AskResult", "Approval", "AuditRecord", "ErrorBody", "ThreadMessage", "DecisionRequest"):
        assert name in schemas, name
    assert set(schemas["AskResult"]["properties"]) == set(AskResult.model_fields)
    assert set(schemas["AskRequest"]["properties"]) == set(AskRequest.model_fields)
    ask = spec["paths"]["/v1/ask"]["post"]
    assert ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskRequest")
    assert ask["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskResult")
    assert {p["name"] for p in ask["parameters"]} == {"Idempotency-Key"}
    assert ask["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert set(spec["components"]["securitySchemes"]) == {"APIKeyHeader", "HTTPBearer"}
    msgs = spec["paths"]["/v1/threads/{thread_id}/messages"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in msgs
    for path in ("/v1/threads", "/v1/threads/{thread_id}", "/v1/approvals", "/v1/approvals/{approval_id}/approve",
                 "/v1/approvals/{approval_id}/reject", "/v1/audit/{trace_id}", "/healthz", "/readyz"):
        assert path in spec["paths"], path


# ------------------------------------------------------------------ auth

@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "nope"}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}])
@pytest.mark.parametrize("method, path", [("POST", "/v1/ask"), ("GET", "/v1/approvals"), ("POST", "/v1/threads"),
                                          ("GET", "/v1/threads/t-1"), ("GET", "/v1/audit/abc"), ("GET", "/v1/me"),
                                          ("POST", "/v1/approvals/AP-1/approve")])
def test_no_or_bad_key_is_401(client, headers, method, path):
    r = client.request(method, path, headers=headers, json={"message": "hi"} if path == "/v1/ask" else None)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer" and "key" in r.json()["detail"].lower()


def test_bearer_and_header_keys_name_the_caller(client):
    assert client.get("/v1/me", headers={"Authorization": "Bearer k-sup"}).json() == {"name": "bob", "role": "supervisor"}
    assert client.get("/v1/me", headers=VIEW).json() == {"name": "val", "role": "viewer"}


def test_roles_403(client):
    assert client.get("/v1/approvals", headers=VIEW).status_code == 403
    r = client.post("/v1/approvals/AP-XYZ/approve", headers=OP)
    assert r.status_code == 403 and "supervisor" in r.json()["detail"]
    r = client.post("/v1/ask", json={"message": "What's C1001's available credit?", "role": "supervisor"}, headers=OP)
    assert r.status_code == 403 and "cannot act as supervisor" in r.json()["detail"]
    r = client.post("/v1/ask", json={"message": "What's C1001's available credit?", "role": "operator"}, headers=VIEW)
    assert r.status_code == 403


def test_a_request_acts_with_the_keys_role_or_a_lower_one(client, desk):
    # a viewer key without an explicit role is a viewer (not the model's default "operator"): no quota written
    r = client.post("/v1/ask", json={"message": AUTO, "as_of": D}, headers=VIEW)
    assert r.status_code == 200 and r.json()["outcome"] is None and grants(desk, "C1002") == []
    assert client.get(f"/v1/audit/{r.json()['trace_id']}", headers=SUP).json()["role"] == "viewer"
    # a supervisor may choose to act as a viewer
    r = client.post("/v1/ask", json={"message": AUTO, "as_of": D, "role": "viewer"}, headers=SUP)
    assert r.status_code == 200 and grants(desk, "C1002") == []


# ------------------------------------------------------------------ /v1/ask and audit

def test_ask_is_the_cli_json_and_the_audit_names_the_caller(client, desk):
    r = client.post("/v1/ask", json={"message": AUTO, "as_of": D}, headers=OP)
    assert r.status_code == 200
    result = AskResult.model_validate(r.json())
    assert (result.outcome, result.customer_id, result.guard.grounded) == ("approved", "C1002", True)
    assert {"LENDER-TQ-TQ5", "LENDER-TQ-TQ6"} <= {c.clause_id for c in result.citations}
    assert json.loads(result.model_dump_json()) == r.json()
    record = client.get(f"/v1/audit/{result.trace_id}", headers=OP)
    assert record.status_code == 200 and record.json()["caller"] == "alice" and record.json()["role"] == "operator"
    assert client.get(f"/v1/audit/{result.trace_id}", headers=SUP).status_code == 200
    assert client.get(f"/v1/audit/{result.trace_id}", headers=OP2).status_code == 404  # not carol's turn
    assert client.get("/v1/audit/deadbeef", headers=SUP).status_code == 404
    assert len(grants(desk, "C1002")) == 1


def test_ask_continues_a_thread(client):
    first = client.post("/v1/ask", json={"message": "What's C1001's available credit?", "as_of": D}, headers=OP).json()
    again = client.post("/v1/ask", json={"message": "What's C1001's available credit?", "as_of": D,
                                         "thread_id": first["thread_id"]}, headers=OP).json()
    assert again["thread_id"] == first["thread_id"]
    view = client.get(f"/v1/threads/{first['thread_id']}", headers=OP).json()
    assert len(view["messages"]) == 4 and [t["trace_id"] for t in view["turns"]] == [first["trace_id"], again["trace_id"]]
    # carol may not continue or read alice's thread; the supervisor may read it
    assert client.post("/v1/ask", json={"message": "hi", "thread_id": first["thread_id"]}, headers=OP2).status_code == 404
    assert client.get(f"/v1/threads/{first['thread_id']}", headers=OP2).status_code == 404
    assert client.get(f"/v1/threads/{first['thread_id']}", headers=SUP).status_code == 200


def test_thread_list_shows_own_threads_newest_first_and_supervisors_all(client):
    a1 = client.post("/v1/ask", json={"message": "C1001的额度", "as_of": D}, headers=OP).json()["thread_id"]
    time.sleep(0.005)  # created_at has millisecond resolution
    a2 = client.post("/v1/threads", headers=OP).json()["thread_id"]
    client.post("/v1/ask", json={"message": "C1001的额度", "as_of": D, "thread_id": a1}, headers=OP)
    c1 = client.post("/v1/ask", json={"message": "C1002的额度", "as_of": D}, headers=OP2).json()["thread_id"]
    mine = client.get("/v1/threads", headers=OP).json()
    assert [t["thread_id"] for t in mine] == [a2, a1]                       # newest first, only alice's
    assert {t["thread_id"]: t["turns"] for t in mine} == {a2: 0, a1: 2} and mine[1]["owner"] == "alice"
    assert mine[1]["last_turn_at"] >= mine[1]["created_at"] and mine[0]["last_turn_at"] is None
    everyone = [t["thread_id"] for t in client.get("/v1/threads", headers=SUP).json()]
    assert everyone[:3] == [c1, a2, a1]
    assert [t["thread_id"] for t in client.get("/v1/threads?owner=carol", headers=SUP).json()] == [c1]
    page = client.get("/v1/threads?limit=1", headers=OP).json()
    assert [t["thread_id"] for t in page] == [a2]
    rest = client.get("/v1/threads", params={"before": page[0]["created_at"]}, headers=OP).json()
    assert a2 not in [t["thread_id"] for t in rest]
    r = client.get("/v1/threads?owner=carol", headers=OP)
    assert r.status_code == 403 and "supervisor" in r.json()["detail"]
    assert client.get("/v1/threads?limit=0", headers=OP).status_code == 422
    assert client.get("/v1/threads").status_code == 401


def test_inline_turns_wait_for_a_busy_thread_without_blocking_the_service(desk):
    # the default with the rules planner: turns run on the event loop; a thread whose lock is held
    # elsewhere (another request, another worker process) waits in a turn thread instead
    app = create_app(desk, KEYS)
    with TestClient(app) as c:
        first = c.post("/v1/ask", json={"message": "C1001的额度", "as_of": D}, headers=OP).json()
        lock = app.state.riskdesk.locks("t:" + first["thread_id"])
        lock.acquire()
        try:
            with ThreadPoolExecutor(1) as pool:
                pending = pool.submit(c.post, "/v1/ask", json={"message": "C1001的额度", "as_of": D,
                                                               "thread_id": first["thread_id"]}, headers=OP)
                time.sleep(0.3)
                assert not pending.done()                              # waits for the thread's lock
                assert c.get("/healthz").status_code == 200            # while the service answers others
                assert c.post("/v1/ask", json={"message": "C1002的额度", "as_of": D}, headers=OP).status_code == 200
                lock.release()
                lock = None
                assert pending.result(10).status_code == 200
        finally:
            if lock is not None:
                lock.release()
    assert len(desk.history(first["thread_id"])) == 4


# ------------------------------------------------------------------ 422: bad input says what is wrong

@pytest.mark.parametrize("body, field, words", [
    ({"message": ""}, "message", "at least 1 character"),
    ({}, "message", "Field required"),
    ({"message": 42}, "message", "valid string"),
    ({"message": "x" * 4001}, "message", "at most 4000"),
    ({"message": "hi", "role": "admin"}, "role", "viewer"),
    ({"message": "hi", "as_of": "23/11/2026"}, "as_of", "pattern"),
    ({"message": "hi", "as_of": "2026-13-45"}, "as_of", "not a real date"),
    ({"message": "hi", "as_of": "9999-12-31"}, "as_of", "between"),
    ({"message": "hi", "thread_id": "x" * 200}, "thread_id", "at most 64"),  # client thread ids: 1-64 safe characters
    ({"message": "\ud800 hi"}, "message", "unicode"),
    ([1, 2], None, "valid dictionary"),
])
def test_bad_input_is_422_with_a_message(client, body, field, words):
    r = client.post("/v1/ask", content=json.dumps(body), headers=OP | {"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert words in detail, detail
    if field:
        assert field in detail and any(field in e["loc"] for e in r.json()["errors"])


def test_malformed_json_and_bad_headers_are_422(client):
    r = client.post("/v1/ask", content=b'{"message": "hi",', headers=OP | {"Content-Type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    r = client.post("/v1/ask", content=b"\xff\xfe", headers=OP | {"Content-Type": "application/json"})
    assert r.status_code == 422
    r = client.post("/v1/ask", content=b'{"message": "\xc3\x28"}', headers=OP | {"Content-Type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    r = client.post("/v1/ask", json={"message": "hi"}, headers=OP | {"Idempotency-Key": "has space"})
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]
    r = client.post("/v1/ask", json={"message": "hi"}, headers=OP | {"Idempotency-Key": "k" * 65})
    assert r.status_code == 422
    assert client.get("/v1/threads/bad%20id", headers=OP).status_code == 422
    assert client.get("/v1/approvals?status=maybe", headers=OP).status_code == 422


# ------------------------------------------------------------------ threads + SSE

def test_thread_messages_stream_progress_then_the_result(client):
    t = client.post("/v1/threads", headers=OP)
    assert t.status_code == 201 and t.json()["owner"] == "alice" and t.json()["messages"] == []
    tid = t.json()["thread_id"]
    assert client.get(f"/v1/threads/{tid}", headers=OP).json()["messages"] == []
    r = client.post(f"/v1/threads/{tid}/messages", json={"message": "What's C1001's available credit?", "as_of": D},
                    headers=OP)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse(r.text)
    names = [e for e, _ in events]
    assert names == ["supervisor", "risk_operator", "policy_researcher", "composer", "compliance_reviewer", "deliver", "result"]
    data = dict(events)
    assert data["supervisor"]["plan"]["intent"] == "limit_lookup"                   # the plan
    assert data["risk_operator"]["tool_calls"][0]["tool"] == "limit_lookup"         # tool calls
    assert data["policy_researcher"]["clauses"][0]["clause_id"]                      # citations
    assert data["compliance_reviewer"]["guard"]["grounded"] is True                  # guard verdict
    result = AskResult.model_validate(data["result"])                                # the answer
    assert result.thread_id == tid and result.outcome == "found" and "¥4,300" in result.answer
    view = client.get(f"/v1/threads/{tid}", headers=OP).json()
    assert [m["role"] for m in view["messages"]] == ["operator", "assistant"] and view["turns"][0]["caller"] == "alice"


def test_thread_messages_as_json_and_errors(client):
    tid = client.post("/v1/threads", headers=OP).json()["thread_id"]
    r = client.post(f"/v1/threads/{tid}/messages", json={"message": "C1001的额度", "as_of": D},
                    headers=OP | {"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["language"] == "zh" and r.json()["thread_id"] == tid
    assert client.post("/v1/threads/t-nope/messages", json={"message": "hi"}, headers=OP).status_code == 404
    assert client.get("/v1/threads/t-nope", headers=OP).status_code == 404
    assert client.post(f"/v1/threads/{tid}/messages", json={"message": "hi"}, headers=OP2).status_code == 404
    r = client.post(f"/v1/threads/{tid}/messages", json={"message": ""}, headers=OP)
    assert r.status_code == 422 and "message" in r.json()["detail"]
    r = client.post(f"/v1/threads/{tid}/messages", json={"message": "hi", "role": "supervisor"}, headers=OP)
    assert r.status_code == 403


def test_needs_approval_streams_await_approval(client):
    tid = client.post("/v1/threads", headers=OP).json()["thread_id"]
    events = sse(client.post(f"/v1/threads/{tid}/messages", json={"message": PENDING, "as_of": D}, headers=OP).text)
    names = [e for e, _ in events]
    assert "await_approval" in names or names[-2] == "deliver"
    assert events[-1][0] == "result" and events[-1][1]["outcome"] == "needs_approval" and events[-1][1]["approval_id"]


# ------------------------------------------------------------------ approvals

def test_approvals_flow(client, desk):
    asked = client.post("/v1/ask", json={"message": PENDING, "as_of": D}, headers=OP).json()
    assert asked["outcome"] == "needs_approval" and asked["customer_id"] == "C1003"
    ap = asked["approval_id"]
    listed = client.get("/v1/approvals", headers=OP).json()
    assert [a["approval_id"] for a in listed] == [ap] and listed[0]["status"] == "pending"
    assert client.post(f"/v1/approvals/{ap}/approve", headers=OP).status_code == 403

    done = client.post(f"/v1/approvals/{ap}/approve", json={"as_of": D}, headers=SUP)
    assert done.status_code == 200 and done.json()["outcome"] == "approved", done.text
    assert client.get(f"/v1/audit/{done.json()['trace_id']}", headers=SUP).json()["caller"] == "bob"
    again = client.post(f"/v1/approvals/{ap}/approve", json={"as_of": D}, headers=SUP)
    assert again.status_code == 200 and again.json()["outcome"] == "approved"       # a no-op
    [g] = grants(desk, "C1003")
    assert g.amount == 8000 and str(g.expires_on) == "2026-12-22"
    late = client.post(f"/v1/approvals/{ap}/reject", json={"reason": "changed my mind"}, headers=SUP)
    assert late.status_code == 409 and "already approved" in late.json()["detail"]
    assert client.get("/v1/approvals", headers=SUP).json() == []
    decided = client.get("/v1/approvals?status=approved", headers=SUP).json()
    assert decided[0]["decided_by"] == "bob"
    assert client.post("/v1/approvals/AP-NOPE/approve", headers=SUP).status_code == 404
    assert client.post("/v1/approvals/AP-NOPE/reject", headers=SUP).status_code == 404


def test_reject_then_approve_is_409(client, desk):
    ap = client.post("/v1/ask", json={"message": PENDING, "as_of": D}, headers=OP).json()["approval_id"]
    r = client.post(f"/v1/approvals/{ap}/reject", json={"reason": "no docs", "as_of": D}, headers=SUP)
    assert r.status_code == 200 and r.json()["outcome"] == "denied"
    assert client.post(f"/v1/approvals/{ap}/reject", headers=SUP).status_code == 200  # twice: no-op
    r = client.post(f"/v1/approvals/{ap}/approve", headers=SUP)
    assert r.status_code == 409 and "rejected" in r.json()["detail"]
    assert grants(desk, "C1003") == []
    assert client.post(f"/v1/approvals/{ap}/approve", json={"reason": 5}, headers=SUP).status_code == 422


def test_concurrent_approvals_grant_once(client, desk):
    ap = client.post("/v1/ask", json={"message": PENDING, "as_of": D}, headers=OP).json()["approval_id"]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.post(f"/v1/approvals/{ap}/approve", json={"as_of": D}, headers=SUP).status_code,
                              range(8)))
    assert codes == [200] * 8 and len(grants(desk, "C1003")) == 1


# ------------------------------------------------------------------ idempotency under concurrency

def test_concurrent_requests_with_one_idempotency_key_grant_once(client, desk):
    def go(_):
        return client.post("/v1/ask", json={"message": AUTO, "as_of": D}, headers=OP | {"Idempotency-Key": "retry-42"})
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(go, range(12)))
    assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200]
    assert {r.json()["outcome"] for r in results} == {"approved"}
    replayed = [r.json()["tool_calls"][0]["result"]["replayed"] for r in results]
    assert replayed.count(False) == 1 and replayed.count(True) == 11
    assert len(grants(desk, "C1002")) == 1


def test_idempotency_keys_are_scoped_per_caller_and_work_on_messages(client, desk):
    tid = client.post("/v1/threads", headers=OP).json()["thread_id"]
    hdr = OP | {"Idempotency-Key": "same", "Accept": "application/json"}
    with ThreadPoolExecutor(6) as pool:
        rs = list(pool.map(lambda _: client.post(f"/v1/threads/{tid}/messages", json={"message": AUTO, "as_of": D},
                                                 headers=hdr), range(6)))
    assert {r.json()["outcome"] for r in rs} == {"approved"} and len(grants(desk, "C1002")) == 1
    # carol's "same" key is hers, not alice's: her request is decided on its own (TQ4: one live quota)
    r = client.post("/v1/ask", json={"message": AUTO, "as_of": D}, headers=OP2 | {"Idempotency-Key": "same"})
    assert r.json()["outcome"] == "denied" and r.json()["tool_calls"][0]["result"]["deciding_rule"] == "TQ4"
    # SSE with the key replays too
    tid2 = client.post("/v1/threads", headers=OP).json()["thread_id"]
    events = sse(client.post(f"/v1/threads/{tid2}/messages", json={"message": AUTO, "as_of": D},
                             headers=OP | {"Idempotency-Key": "same"}).text)
    assert events[-1][1]["tool_calls"][0]["result"]["replayed"] is True and len(grants(desk, "C1002")) == 1


def test_concurrent_different_requests_grant_once_tq4(client, desk):
    with ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda i: client.post("/v1/ask", json={"message": AUTO, "as_of": D},
                                                 headers=OP | {"Idempotency-Key": f"k{i}"}), range(8)))
    assert sorted(r.json()["outcome"] for r in rs) == ["approved"] + ["denied"] * 7
    assert len(grants(desk, "C1002")) == 1


# ------------------------------------------------------------------ keys config and `riskdesk serve`

def test_keys_from_env_and_files(tmp_path):
    assert parse_keys_env(" key1:alice:operator, key2:bob:supervisor ,") == {
        "key1": ApiKey(name="alice", role="operator"), "key2": ApiKey(name="bob", role="supervisor")}
    with pytest.raises(KeyConfigError, match="KEY:NAME:ROLE"):
        parse_keys_env("key1:alice")
    with pytest.raises(KeyConfigError, match="role"):
        parse_keys_env("key1:alice:admin")
    js = tmp_path / "keys.json"
    js.write_text(json.dumps({"keys": [{"key": "j1", "name": "jo", "role": "viewer"}]}))
    toml = tmp_path / "keys.toml"
    toml.write_text('[[keys]]\nkey = "t1"\nname = "tom"\nrole = "supervisor"\n')
    assert load_keys_file(js) == {"j1": ApiKey(name="jo", role="viewer")}
    assert load_keys_file(toml) == {"t1": ApiKey(name="tom", role="supervisor")}
    env = {"RISKDESK_API_KEYS_FILE": str(toml), "RISKDESK_API_KEYS": "t1:tim:viewer,e1:eve:operator"}
    assert keys_from_env(env) == {"t1": ApiKey(name="tim", role="viewer"), "e1": ApiKey(name="eve", role="operator")}
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": [{"key": "has space", "name": "x", "role": "viewer"}]}')
    with pytest.raises(KeyConfigError, match=r"keys\[0\]"):
        load_keys_file(bad)
    with pytest.raises(KeyConfigError, match="cannot read"):
        load_keys_file(tmp_path / "missing.json")


def test_keys_new_stores_only_a_digest_and_the_printed_key_signs_in(desk, tmp_path):
    from console.cli import app
    file = tmp_path / "keys.toml"
    r = CliRunner().invoke(app, ["keys", "new", "dora", "supervisor", "--file", str(file)])
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("rk-") and key not in file.read_text() and "sha256 = " in file.read_text()
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    keys = load_keys_file(file)
    assert list(keys.values()) == [ApiKey(name="dora", role="supervisor")] and list(keys)[0].startswith("sha256:")
    with TestClient(create_app(desk, keys)) as c:
        assert c.get("/v1/me", headers={"X-API-Key": key}).json() == {"name": "dora", "role": "supervisor"}
        assert c.get("/v1/me", headers={"X-API-Key": list(keys)[0]}).status_code == 401  # the digest is not a key
    again = CliRunner().invoke(app, ["keys", "new", "dora", "viewer", "--file", str(file)])
    assert again.exit_code == 2 and "exists already" in again.output
    assert load_keys_file(file) == keys                                                # unchanged
    bad_role = CliRunner().invoke(app, ["keys", "new", "eve", "admin", "--file", str(file)])
    assert bad_role.exit_code == 2 and "role" in bad_role.output and load_keys_file(file) == keys


@pytest.mark.parametrize("entry, words", [
    ({"sha256": "abc", "name": "x", "role": "viewer"}, "64 lower-case hex"),
    ({"key": "k", "sha256": "a" * 64, "name": "x", "role": "viewer"}, "exactly one of"),
    ({"name": "x", "role": "viewer"}, "exactly one of"),
])
def test_hashed_key_entries_are_checked(tmp_path, entry, words):
    f = tmp_path / "keys.json"
    f.write_text(json.dumps({"keys": [entry]}))
    with pytest.raises(KeyConfigError, match=words):
        load_keys_file(f)


def test_create_app_reads_keys_from_the_environment(desk, monkeypatch):
    monkeypatch.setenv("RISKDESK_API_KEYS", "envkey:eve:supervisor")
    with TestClient(create_app(desk)) as c:
        assert c.get("/v1/me", headers={"X-API-Key": "envkey"}).json() == {"name": "eve", "role": "supervisor"}
    monkeypatch.delenv("RISKDESK_API_KEYS")
    with TestClient(create_app(desk)) as c:  # no keys at all: nothing but 401
        assert c.get("/v1/me", headers={"X-API-Key": "envkey"}).status_code == 401


def test_serve_refuses_a_public_bind_without_keys(monkeypatch):
    from console.cli import app
    from console.serve_cli import dev_keys, is_loopback
    monkeypatch.delenv("RISKDESK_API_KEYS", raising=False)
    monkeypatch.delenv("RISKDESK_API_KEYS_FILE", raising=False)
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert r.exit_code == 2 and "no API keys configured" in r.output
    monkeypatch.setenv("RISKDESK_API_KEYS", "broken")
    r = CliRunner().invoke(app, ["serve"])
    assert r.exit_code == 2 and "KEY:NAME:ROLE" in r.output
    keys = dev_keys()
    assert sorted(v.role for v in keys.values()) == ["operator", "supervisor", "viewer"] and len(set(keys)) == 3
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_a_turn_that_fails_mid_stream_ends_with_an_error_event(client, desk, monkeypatch):
    def broken(*_a, **_k):
        yield {"event": "supervisor", "data": {"plan": {"intent": "limit_lookup"}}}
        raise RuntimeError("boom")
    tid = client.post("/v1/threads", headers=OP).json()["thread_id"]
    monkeypatch.setattr(desk, "stream", broken)
    events = sse(client.post(f"/v1/threads/{tid}/messages", json={"message": "hi"}, headers=OP).text)
    assert [e for e, _ in events] == ["supervisor", "error"]
    assert events[-1][1]["status"] == 500 and "RuntimeError" in events[-1][1]["detail"] and "boom" not in events[-1][1]["detail"]


def test_a_far_future_date_in_the_message_is_not_a_500(client):
    r = client.post("/v1/ask", json={"message": "C1009 temp quota 3000 for a laptop for work as of 9999-12-31"}, headers=OP)
    assert r.status_code == 200, r.text


def test_a_wrong_method_names_every_method_of_the_path(client):
    r = client.delete("/v1/threads", headers=OP)
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    assert client.put("/v1/ask", headers=OP).headers["allow"] == "POST"
