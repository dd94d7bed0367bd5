"""Money on the wire (issue 14 §2, last bullet): a decimal string or integer fen, never a JSON float.

Attack: amounts crossed every boundary as JSON floats (the AskResult's tool results and tool-call arguments,
GET /v1/approvals, the audit record, `riskdesk ... --json`), so any client that parses JSON the usual way
holds binary floating point money. Every JSON document below is parsed with a `parse_float` that raises.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agents import Desk
from agents.audit import AuditLog
from console.service import create_app
from tools import Ledger
from tools.ledger import SAMPLE_LEDGER, parse_ledger
from tools.money import yuan_str
from tools.temp_quota import TempQuotaResult

TODAY = "2026-11-23"
KEYS = {"k-op": ("alice", "operator"), "k-sup": ("bob", "supervisor")}
OP, SUP = {"X-API-Key": "k-op"}, {"X-API-Key": "k-sup"}
TURNS = ["给C1002申请4000元临时额度，买电动车送外卖",          # approved: grant, cap
         "给C1003申请8000元临时额度，买笔记本电脑工作用",        # needs approval
         "C1003 temp quota 25000 for a laptop for work",       # denied, the cap stated
         "What's C1001's available credit?",                   # limit lookup with a temporary quota
         "C1022能做信用修复吗？截至2026年1月15日"]              # repair check: overdue amounts


class FloatInJson(AssertionError):
    pass


def no_floats(text: str):
    """Parse JSON; any number with a fraction or exponent is a failure."""
    def refuse(literal: str):
        raise FloatInJson(f"a JSON float on the wire: {literal}")
    return json.loads(text, parse_float=refuse)


def float_paths(text: str) -> list[str]:
    """Where the floats of a JSON document are (parsed exactly, then walked)."""
    found: list[str] = []

    def walk(v, path):
        if isinstance(v, Decimal):
            found.append(path)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")
    walk(json.loads(text, parse_float=Decimal), "$")
    return found


@pytest.fixture
def desk(kb, tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    Ledger.open(url).load(parse_ledger(SAMPLE_LEDGER.read_bytes()))
    d = Desk(Ledger.open(url), kb, audit=AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}"),
             threads_path=tmp_path / "threads.sqlite3", clock=TODAY)
    yield d
    d.close()


def test_no_float_in_ask_approvals_or_audit(desk):
    with TestClient(create_app(desk, KEYS)) as c:
        replies = [c.post("/v1/ask", json={"message": m}, headers=OP) for m in TURNS]
        for r in replies:
            assert r.status_code == 200, r.text
            no_floats(r.text)
        approved, pending, denied, limit, repair = (no_floats(r.text) for r in replies)
        assert approved["tool_calls"][0]["args"]["amount"] == "4000.00"
        assert approved["tool_calls"][0]["result"]["grant"]["amount"] == "4000.00"
        assert denied["tool_calls"][0]["result"]["cap"] == "20000.00"
        assert limit["tool_calls"][0]["result"]["total_available"] == "4300.00"
        assert all(isinstance(rec["amount"], str) for rec in repair["tool_calls"][0]["result"]["records"])
        listed = c.get("/v1/approvals?status=all", headers=SUP)
        assert no_floats(listed.text)[0]["amount"] == "8000.00"
        done = c.post(f"/v1/approvals/{pending['approval_id']}/approve", headers=SUP)
        assert no_floats(done.text)["tool_calls"][0]["result"]["grant"]["amount"] == "8000.00"
        for r in [*replies, done]:
            audit = c.get(f"/v1/audit/{r.json()['trace_id']}", headers=SUP)
            assert audit.status_code == 200
            # the only fractions in an audit record are its per-node timings (milliseconds, not money)
            assert all(p.startswith("$.timings_ms.") for p in float_paths(audit.text)), float_paths(audit.text)
            assert audit.json()["tool_calls"][0]["result"]["outcome"] == r.json()["tool_calls"][0]["result"]["outcome"]


MONEY = {"amount", "cap", "base_limit", "used", "available", "total_available", "limit"}


def test_streamed_progress_carries_no_money_float(desk):
    with TestClient(create_app(desk, KEYS)) as c:
        tid = c.post("/v1/threads", headers=OP).json()["thread_id"]
        body = c.post(f"/v1/threads/{tid}/messages", json={"message": TURNS[0]}, headers=OP).text
    events = [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
    assert events
    money = [p for data in events for p in float_paths(data) if p.rsplit(".", 1)[-1].split("[")[0] in MONEY]
    assert money == []
    result = no_floats(events[-1])                                   # the final AskResult: no float at all
    assert result["tool_calls"][0]["result"]["grant"]["amount"] == "4000.00"


def test_cli_json_carries_no_float():
    from console.cli import app
    runner = CliRunner()
    ledger = ["--ledger", str(SAMPLE_LEDGER)]
    for args in (["limit", "C1001", "--as-of", TODAY], ["quota", "C1002", "4000", "-p", "电动车送外卖", "--as-of", TODAY],
                 ["quota", "C1003", "8000", "-p", "laptop for work", "--as-of", TODAY],
                 ["repair", "C1022", "--as-of", "2026-01-15"], ["approvals", "list", "--all"]):
        r = runner.invoke(app, [*args, "--json", *ledger])
        assert r.exit_code == 0, r.output
        no_floats(r.stdout)
    r = runner.invoke(app, ["ask", TURNS[0], "--json", "--as-of", TODAY, *ledger])
    assert r.exit_code == 0 and no_floats(r.stdout)["tool_calls"][0]["args"]["amount"] == "4000.00"


def test_the_wire_form_and_its_schema():
    assert [yuan_str(v) for v in (Decimal("4000"), Decimal("0.1"), 20000, "12.30")] == ["4000.00", "0.10", "20000.00", "12.30"]
    r = TempQuotaResult(outcome="denied", customer_id="X", as_of=dt.date(2026, 11, 23), amount=Decimal("0.30"),
                        purpose="p", cap=Decimal("5000"))
    assert no_floats(r.model_dump_json())["amount"] == "0.30"
    assert TempQuotaResult.model_validate_json(r.model_dump_json()) == r           # round-trips exactly
    schema = TempQuotaResult.model_json_schema(mode="serialization")["properties"]["amount"]
    assert schema["type"] == "string"
    from evals.runner import _jsonable
    assert _jsonable({"grants": [{"amount": Decimal("4000.00"), "granted_on": dt.date(2026, 11, 23)}]}) == {
        "grants": [{"amount": "4000.00", "granted_on": "2026-11-23"}]}
