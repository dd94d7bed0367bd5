"""Direct tool calls audited like turns (agents/tool_calls.py): `POST /v1/tools/NAME`, `riskdesk tool NAME` and MCP
write one masked record per call, answered or refused (a role that may not, input that does not validate), and a
refused call changes nothing else. A number is never an as-of date (tools/dates.AsOf), while the strict HTTP body
check still takes the YYYY-MM-DD text its schema documents."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient

from agents import Desk
from agents.audit import AuditLog
from console.service import create_app
from knowledge.store import ShippedFirst
from tools.ledger import SAMPLE_LEDGER, Ledger

ROOT = Path(__file__).resolve().parents[1]
D = "2026-11-23"
KEYS = {"k-view": ("vera", "viewer"), "k-op": ("olga", "operator")}
ID_NUMBER, PHONE = "110101199003074518", "13800138000"


@pytest.fixture()
def desk(tmp_path):
    d = Desk(Ledger.from_file(SAMPLE_LEDGER), ShippedFirst(), audit=AuditLog(f"sqlite:///{tmp_path}/a.db"),
             threads_path=str(tmp_path / "t.db"))
    yield d
    d.close()


def _quotas(desk) -> int:  # noqa: ANN001
    return sum(len(c.temp_quotas) for c in (desk.ledger.customer(f"C10{i:02d}") for i in range(1, 46)) if c)


def test_http_calls_are_audited_answered_and_refused(desk):
    with TestClient(create_app(desk, KEYS)) as c:
        r = c.post("/v1/tools/limit_lookup", json={"customer_id": "C1001", "as_of": D}, headers={"X-API-Key": "k-view",
                                                                                                   "User-Agent": "probe/1"})
        assert r.status_code == 200 and r.json()["outcome"] == "found"
        rec = desk.audit.get(r.headers["X-Trace-Id"])
        documented = c.get("/openapi.json").json()["paths"]["/v1/tools/limit_lookup"]["post"]["responses"]["200"]
        assert "X-Trace-Id" in documented["headers"]  # the header a client reads is in the schema it reads
        assert (rec.caller, rec.role, rec.planner, rec.agents) == ("vera", "viewer", "http", ["http_client:probe/1"])
        assert rec.tool_calls[0].tool == "limit_lookup" and rec.tool_calls[0].result["outcome"] == "found"
        assert rec.plan["intent"] == "limit_lookup" and rec.plan["customer_id"] == "C1001" and rec.as_of == D
        assert "LENDER-LIMIT-LOOKUP" in rec.cited

        before = _quotas(desk)  # a viewer may not request a quota: 403, audited, nothing written
        r = c.post("/v1/tools/temp_quota", json={"customer_id": "C1002", "amount": "1000", "purpose": "medical",
                                                 "as_of": D}, headers={"X-API-Key": "k-view"})
        assert r.status_code == 403 and "operator" in r.json()["detail"]
        rec = desk.audit.get(r.headers["X-Trace-Id"])
        assert rec.tool_calls[0].result == {"outcome": "refused", "error": r.json()["detail"], "status": 403}
        assert _quotas(desk) == before and desk.approvals(None) == []

        # an operator's decision: the deciding rule and the clauses of the rules applied
        r = c.post("/v1/tools/temp_quota", json={"customer_id": "C1012", "amount": "3000", "purpose": "炒股",
                                                 "as_of": D}, headers={"X-API-Key": "k-op"})
        assert r.status_code == 200 and r.json()["outcome"] == "denied"
        rec = desk.audit.get(r.headers["X-Trace-Id"])
        assert rec.plan["deciding_rule"] == r.json()["deciding_rule"] and rec.plan["outcome"] == "denied"
        assert f"LENDER-TQ-{r.json()['deciding_rule']}" in rec.cited and rec.caller == "olga"

        # bad input: 422, audited with the input masked (an ID number and a phone number in it)
        n = len(desk.audit.records())
        r = c.post("/v1/tools/limit_lookup", json={"customer_id": f"{ID_NUMBER} {PHONE}", "as_of": 0},
                   headers={"X-API-Key": "k-view"})
        assert r.status_code == 422
        records = desk.audit.records()
        assert len(records) == n + 1
        refused = records[0]
        stored = refused.model_dump_json()
        assert ID_NUMBER not in stored and PHONE not in stored and refused.tool_calls[0].result["status"] == 422
        assert refused.tool_calls[0].result["outcome"] == "refused" and "never a number" in stored

        # the desk's audit views list the direct calls with the turns
        rows = c.get("/v1/desk/export/audit.csv", headers={"X-API-Key": "k-view"}).text
        assert "limit_lookup" in rows and "http" in rows
        got = c.get(f"/v1/audit/{desk.audit.records(caller='vera')[0].trace_id}", headers={"X-API-Key": "k-view"})
        assert got.status_code == 200 and got.json()["planner"] == "http"


def test_a_number_is_never_an_as_of_date_and_a_date_string_is(desk):
    with TestClient(create_app(desk, KEYS)) as c:
        h = {"X-API-Key": "k-view"}
        for body in ({"customer_id": "C1001", "as_of": 0}, {"customer_id": "C1001", "as_of": 20261123},
                     {"customer_id": "C1001", "as_of": "86400"}, {"customer_id": "C1001", "as_of": 1.5}):
            r = c.post("/v1/tools/limit_lookup", json=body, headers=h)
            assert r.status_code == 422, (body, r.text)
            assert any(e["loc"][-1] == "as_of" for e in r.json().get("errors", r.json().get("detail", []))), r.text
        r = c.post("/v1/tools/limit_lookup", json={"customer_id": "C1001", "as_of": D}, headers=h)
        assert r.status_code == 200 and r.json()["as_of"] == D  # the strict body check takes the text
        r = c.post("/v1/tools/repair_check", json={"customer_id": "C1022", "as_of": "2026-01-15"}, headers=h)
        assert r.status_code == 200
        r = c.post("/v1/ask", json={"message": "What's C1001's available credit?", "as_of": 0}, headers=h)
        assert r.status_code == 422
        r = c.post("/v1/ask", json={"message": "What's C1001's available credit?", "as_of": D, "role": "viewer"},
                   headers=h)
        assert r.status_code == 200 and r.json()["outcome"] == "found"


def test_mcp_refusals_are_audited(desk):
    from mcp import Client

    from console.mcp_tools import Caller, build_server

    async def go() -> list:
        async with Client(build_server(lambda: desk, lambda ctx: Caller("mia", "viewer", "probe"))) as m:
            r1 = await m.call_tool("limit_lookup", {"customer_id": "C1001", "as_of": 0})
            r2 = await m.call_tool("temp_quota", {"customer_id": "C1002", "amount": "1000", "purpose": "medical",
                                                  "as_of": D})
            r3 = await m.call_tool("limit_lookup", {"customer_id": "C1001", "as_of": D})
            return [r1, r2, r3]

    r1, r2, r3 = anyio.run(go)
    assert r1.is_error and "never a number" in r1.content[0].text
    assert r2.is_error and "needs the operator role" in r2.content[0].text and not r3.is_error
    recs = desk.audit.for_thread("mcp")
    assert [(x.tool_calls[0].tool, x.tool_calls[0].result["outcome"]) for x in recs] == [
        ("limit_lookup", "refused"), ("temp_quota", "refused"), ("limit_lookup", "found")]
    assert all(x.caller == "mia" and x.agents == ["mcp_client:probe"] for x in recs)
    assert recs[2].cited and recs[2].plan["intent"] == "limit_lookup"


def _cli(home: Path, *args: str, operator: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RISKDESK_HOME": str(home), "RISKDESK_TODAY": D}
    env.pop("RISKDESK_API_KEY", None)
    env.pop("RISKDESK_OPERATOR", None)
    if operator:
        env["RISKDESK_OPERATOR"] = operator
    return subprocess.run([sys.executable, "-m", "console", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)


def test_cli_calls_are_audited_and_shown_by_riskdesk_audit(tmp_path):
    ledger = str(SAMPLE_LEDGER)
    ok = _cli(tmp_path, "tool", "limit_lookup", "customer_id=C1001", f"as_of={D}", "--ledger", ledger, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["outcome"] == "found"
    trace = ok.stderr.split("trace ")[1].split()[0]
    shown = _cli(tmp_path, "audit", "show", trace, "--json")
    assert shown.returncode == 0, shown.stderr
    rec = json.loads(shown.stdout)
    assert (rec["planner"], rec["caller"], rec["tool_calls"][0]["tool"]) == ("cli", "cli", "limit_lookup")

    bad = _cli(tmp_path, "tool", "limit_lookup", "customer_id=C1001", "as_of=0", "--ledger", ledger)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr  # a number is no date on the CLI either
    refused = _cli(tmp_path, "tool", "temp_quota", "customer_id=C1002", "amount=1000", "purpose=medical",
                   f"as_of={D}", "--ledger", ledger, operator="vic:viewer")
    assert refused.returncode == 2 and "only the operator role" in refused.stderr
    log = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    recs = log.for_thread("direct-cli")
    assert [(r.tool_calls[0].tool, r.tool_calls[0].result["outcome"], r.caller) for r in recs] == [
        ("limit_lookup", "found", "cli"), ("limit_lookup", "refused", "cli"), ("temp_quota", "refused", "vic")]
    assert recs[2].tool_calls[0].result["status"] == 403 and recs[1].tool_calls[0].result["status"] == 422
