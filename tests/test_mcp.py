"""riskdesk as an MCP server, driven by the official SDK's own client: over stdio (`riskdesk mcp`, a subprocess)
and over streamable HTTP (`/mcp` in `riskdesk serve`, loopback). Tools listed with their pydantic schemas, each
one called, roles enforced, bad arguments answered with a tool error that changes nothing, and a temp_quota
that needs approval decided through approval_decide by another identity."""
from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from factories import free_port
from served import serve

from agents.audit import AuditLog
from agents.contract import AskRequest, AskResult
from console.mcp_tools import TOOLS
from tools.ledger import SAMPLE_LEDGER, Ledger, parse_ledger

ROOT = Path(__file__).resolve().parents[1]
D = "2026-11-23"


def _store(tmp_path) -> str:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    Ledger.open(url).load(parse_ledger(SAMPLE_LEDGER.read_bytes()))
    return url


def _counts(url: str) -> tuple[int, int]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return (conn.execute("SELECT count(*) FROM temp_quotas").fetchone()[0],
                conn.execute("SELECT count(*) FROM approvals").fetchone()[0])


def _stdio(identity: str, url: str, home: Path):  # noqa: ANN202
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters
    env = {"PYTHONPATH": str(ROOT), "RISKDESK_OPERATOR": identity, "RISKDESK_LEDGER_URL": url,
           "RISKDESK_HOME": str(home), "RISKDESK_TODAY": D, "HOME": os.environ.get("HOME", "/tmp")}
    return Client(StdioServerParameters(command=sys.executable, args=["-m", "console", "mcp"], env=env, cwd=str(ROOT)),
                  read_timeout_seconds=120)


def _http(url: str, key: str, lang: str = "en"):  # noqa: ANN202
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    client = httpx2.AsyncClient(headers={"X-API-Key": key, "Accept-Language": lang}, timeout=120)
    return Client(streamable_http_client(url + "/mcp", http_client=client), read_timeout_seconds=120)


async def _check_listing(c) -> None:  # noqa: ANN001
    tools = {t.name: t for t in (await c.list_tools()).tools}
    assert set(tools) == {"ask", "limit_lookup", "temp_quota", "repair_check", "policy_search", "approvals_list",
                          "approval_decide"}
    for name, t in tools.items():  # the same pydantic models as the REST API and the CLI's --json
        assert t.input_schema == TOOLS[name].input.model_json_schema(), name
        assert t.output_schema == TOOLS[name].output.model_json_schema(mode="serialization"), name
    assert tools["ask"].input_schema == AskRequest.model_json_schema()
    assert tools["ask"].output_schema == AskResult.model_json_schema(mode="serialization")


async def _call_each_read_tool(c) -> None:  # noqa: ANN001
    r = await c.call_tool("limit_lookup", {"customer_id": "C1001", "as_of": D})
    assert not r.is_error and r.structured_content["total_available"] == "4300.00"  # money: a decimal string
    assert "4,300" in r.content[0].text
    r = await c.call_tool("repair_check", {"customer_id": "C1022", "as_of": "2026-01-15"})
    assert not r.is_error and r.structured_content["outcome"] in ("eligible", "partially_eligible", "ineligible")
    r = await c.call_tool("policy_search", {"query": "信用修复要交钱给中介吗", "as_of": "2026-01-15", "k": 3})
    assert not r.is_error and any(h["clause_id"].startswith("PBOC-REPAIR") for h in r.structured_content["clauses"])
    r = await c.call_tool("ask", {"message": "What's C1001's available credit?", "as_of": D})
    assert not r.is_error and r.structured_content["outcome"] == "found" and "4,300" in r.content[0].text


async def _bad_arguments(c, url: str) -> None:  # noqa: ANN001
    before = _counts(url)
    for args, words in (({"customer_id": "NOBODY-1", "amount": "1000", "purpose": "medical", "as_of": D}, "unknown customer"),
                        ({"customer_id": "C1002", "amount": "abc", "purpose": "medical", "as_of": D}, "amount"),
                        ({"customer_id": "C1002", "amount": "1000", "purpose": "medical", "as_of": "2026-02-30"}, "as_of"),
                        ({"customer_id": "C1002", "amount": "1000", "purpose": "medical", "as_of": "2027-01-01"},
                         "cannot date a grant")):
        r = await c.call_tool("temp_quota", args)
        assert r.is_error and words in r.content[0].text, (args, r.content[0].text)
    r = await c.call_tool("limit_lookup", {"customer_id": "NOBODY-1", "as_of": D})
    assert r.is_error and "unknown customer" in r.content[0].text
    assert _counts(url) == before  # nothing written


def test_stdio_tools_roles_errors_and_a_decision_by_another_identity(tmp_path, kb):
    url = _store(tmp_path)

    async def run() -> str:
        async with _stdio("lee:operator", url, tmp_path) as c:
            await _check_listing(c)
            await _call_each_read_tool(c)
            await _bad_arguments(c, url)
            r = await c.call_tool("approval_decide", {"approval_id": "AP-X", "decision": "approve"})
            assert r.is_error and "needs the supervisor role" in r.content[0].text
            r = await c.call_tool("temp_quota", {"customer_id": "C1003", "amount": "8000", "purpose": "medical",
                                                 "as_of": D})
            assert not r.is_error and r.structured_content["outcome"] == "needs_approval"
            return r.structured_content["approval_id"]

    approval_id = anyio.run(run)

    async def decide() -> None:
        async with _stdio("sam:supervisor", url, tmp_path) as c:
            listed = await c.call_tool("approvals_list", {})
            assert [a["approval_id"] for a in listed.structured_content["approvals"]] == [approval_id]
            r = await c.call_tool("approval_decide", {"approval_id": approval_id, "decision": "approve"})
            assert not r.is_error and r.structured_content["outcome"] == "approved", r.content[0].text

    anyio.run(decide)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT status, decided_by, requested_by FROM approvals WHERE approval_id = ?",
                            (approval_id,)).fetchone() == ("approved", "sam", "lee")
    calls = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}").for_thread("mcp")
    assert calls and all(r.agents[0].startswith("mcp_client:") and r.agents[0] != "mcp_client:unknown" for r in calls)
    assert {r.caller for r in calls} == {"lee", "sam"}


KEYS = {"k-view": ("vera", "viewer"), "k-op": ("alice", "operator"), "k-sup": ("bob", "supervisor")}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    home = tmp_path_factory.mktemp("mcp-home")
    port = free_port()
    proc = serve(home, port, KEYS, {"RISKDESK_RATE_PER_KEY": "20/second"})
    yield f"http://127.0.0.1:{port}", home
    proc.terminate()
    proc.wait(20)


def test_http_tools_roles_errors_and_a_decision_by_another_key(service):
    base, home = service
    url = f"sqlite:///{home / 'ledger.sqlite3'}"

    async def run() -> None:
        async with _http(base, "k-view") as c:
            await _check_listing(c)
            await _call_each_read_tool(c)
            before = _counts(url)
            r = await c.call_tool("temp_quota", {"customer_id": "C1002", "amount": "4000", "purpose": "电动车送外卖",
                                                 "as_of": D})
            assert r.is_error and "needs the operator role" in r.content[0].text and "vera is viewer" in r.content[0].text
            r = await c.call_tool("ask", {"message": "给C1002申请4000元临时额度，买电动车送外卖", "role": "operator"})
            assert r.is_error and "cannot act as operator" in r.content[0].text
            assert _counts(url) == before
        async with _http(base, "k-op", "zh-CN") as c:
            await _bad_arguments(c, url)
            r = await c.call_tool("temp_quota", {"customer_id": "C1003", "amount": "8000", "purpose": "medical",
                                                 "as_of": D})
            assert not r.is_error and r.structured_content["outcome"] == "needs_approval"
            assert "临时额度" in r.content[0].text  # the caller's language
            approval_id = r.structured_content["approval_id"]
            r = await c.call_tool("approval_decide", {"approval_id": approval_id, "decision": "approve"})
            assert r.is_error and "needs the supervisor role" in r.content[0].text
        async with _http(base, "k-sup") as c:
            r = await c.call_tool("approval_decide", {"approval_id": approval_id, "decision": "approve"})
            assert not r.is_error and r.structured_content["outcome"] == "approved", r.content[0].text

    anyio.run(run)
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        assert conn.execute("SELECT status, decided_by, requested_by FROM approvals WHERE customer_id = 'C1003'"
                            ).fetchone() == ("approved", "bob", "alice")


def test_http_mcp_needs_a_key_and_is_rate_limited_like_rest(service):
    base, _ = service
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    r = httpx2.post(base + "/mcp", json=body, headers={"Accept": "application/json, text/event-stream"})
    assert r.status_code == 401 and "API key" in r.json()["detail"]
    from concurrent.futures import ThreadPoolExecutor
    with httpx2.Client(headers={"X-API-Key": "k-view", "Accept": "application/json, text/event-stream"}) as client:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: client.post(base + "/mcp", json=body).status_code, range(80)))
    assert 429 in statuses  # the same per-key budget as the REST API (20/second here)
    assert 401 not in statuses
