"""The tool registry (tools/registry.py): the built-in tools register through the entry-point group like any
other, and the example package examples/riskdesk-installment, once installed (pip, into a throwaway target
directory on the path), appears in the CLI, the HTTP API, the rules planner, the plan schema, the guard, the
audit and the eval harness; without it, nothing of it is left."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tools.registry import BUILTIN, registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "riskdesk-installment"
LEDGER = str(ROOT / "tools" / "data" / "sample_ledger.json")

PROBE = r"""
import json, sys, tempfile
from fastapi.testclient import TestClient
from agents import Desk
from agents.audit import AuditLog
from agents.plan import Plan, plan_model
from console.service import create_app
from knowledge.store import ShippedFirst, default_kb
from tools import TOOLS
from tools.ledger import SAMPLE_LEDGER, Ledger
d = tempfile.mkdtemp()
audit = AuditLog(f"sqlite:///{d}/a.db")
desk = Desk(Ledger.from_file(SAMPLE_LEDGER), ShippedFirst(), audit=audit, threads_path=f"{d}/t.db")
out = {"tools": list(TOOLS), "plan_intents": Plan.model_json_schema()["$defs"]["Intent"]["enum"],
       "plan_tool": plan_model().model_json_schema()["properties"].get("tool")}
r = desk.ask("C1003 能办分期还款吗", as_of="2026-11-23")
out["ask"] = {"intent": r.intent.value, "outcome": r.outcome, "answer": r.answer, "grounded": r.guard.grounded,
              "tools": [c.tool for c in r.tool_calls], "citations": [c.clause_id for c in r.citations]}
rec = audit.get(r.trace_id)
out["audit_tools"] = [c["tool"] if isinstance(c, dict) else c.tool for c in rec.tool_calls] if rec else None
with TestClient(create_app(desk, {"k": ("al", "viewer")})) as c:
    out["http_list"] = [t["name"] for t in c.get("/v1/tools", headers={"X-API-Key": "k"}).json()]
    res = c.post("/v1/tools/installment_check", json={"customer_id": "C1005", "as_of": "2026-11-23"},
                 headers={"X-API-Key": "k"})
    out["http_call"] = [res.status_code, res.json()]
    out["openapi"] = sorted(p for p in c.get("/openapi.json").json()["paths"] if p.startswith("/v1/tools/"))
    out["http_trace"] = res.headers.get("X-Trace-Id")
import anyio
from mcp import Client
from console.mcp_tools import Caller, build_server
from tools.registry import registry
async def mcp_probe():
    async with Client(build_server(lambda: desk, lambda ctx: Caller("mo", "viewer", "probe"))) as m:
        listed = {t.name: t for t in (await m.list_tools()).tools}
        out["mcp_list"] = sorted(listed)
        spec = listed.get("installment_check")
        if spec is not None:
            want = registry()["installment_check"].input.model_json_schema()
            out["mcp_schema"] = spec.input_schema == want
            out["mcp_meta"] = spec.meta
        r = await m.call_tool("installment_check", {"customer_id": "C1005", "as_of": "2026-11-23"})
        out["mcp_call"] = [r.is_error, (r.structured_content or {}).get("deciding_rule"), r.content[0].text]
        r = await m.call_tool("installment_check", {"customer_id": "C1005", "as_of": "2026-02-30"})
        out["mcp_bad"] = [r.is_error, r.content[0].text]
anyio.run(mcp_probe)
out["audit_direct"] = {t: [[c.tool_calls[0].tool, c.tool_calls[0].result.get("outcome"), c.cited, c.caller, c.role]
                           for c in audit.for_thread(t)] for t in ("direct-http", "mcp")}
desk.close()
out["kb_has_plugin_clause"] = default_kb().get("LENDER-IP-IP1") is not None
print(json.dumps(out, ensure_ascii=False, default=str))
"""


# A labelled test double of an OpenAI-compatible model (loopback): its plan names the tool given in the probe's
# argument; a composer request gets a reply the guard may refuse (the template is then used).
LLM_PROBE = r"""
import json, sys, tempfile, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from agents import Desk
from agents.audit import AuditLog
from agents.llm import LLMSettings
from knowledge.store import ShippedFirst
from tools.ledger import SAMPLE_LEDGER, Ledger
seen = []
class ScriptedModel(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        schema = (body.get("response_format") or {}).get("schema")
        if schema is not None:
            seen.append(schema["properties"].get("tool"))
            content = json.dumps({"intent": "tool", "tool": sys.argv[1], "customer_id": "C1003", "language": "en"})
        else:
            content = "See the result."
        data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "scripted-plan",
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": content}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
srv = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedModel)
threading.Thread(target=srv.serve_forever, daemon=True).start()
d = tempfile.mkdtemp()
audit = AuditLog(f"sqlite:///{d}/a.db")
llm = LLMSettings(base_url=f"http://127.0.0.1:{srv.server_port}/v1", model="scripted-plan", max_retries=0, timeout=10)
desk = Desk(Ledger.from_file(SAMPLE_LEDGER), ShippedFirst(), llm=llm, audit=audit, threads_path=f"{d}/t.db")
r = desk.ask("Could C1003 pay back what is owed in monthly parts?", as_of="2026-11-23")
rec = audit.get(r.trace_id)
print(json.dumps({"intent": r.intent.value, "outcome": r.outcome, "tools": [c.tool for c in r.tool_calls],
                  "planner": rec.planner, "sources": rec.slot_sources, "plan_tool": (rec.plan or {}).get("tool"),
                  "schema_tool": seen[0] if seen else None}, default=str))
desk.close()
srv.shutdown()
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example package installed with pip into a throwaway directory (never the shared environment)."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    src = build / "riskdesk-installment"
    subprocess.run(["cp", "-r", str(EXAMPLE), str(src)], check=True)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-build-isolation",
                        "--quiet", "--target", str(target), str(src)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return target


def run(*args: str, site: Path | None, home: Path, code: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(([str(site)] if site else []) + [str(ROOT)]),
           "RISKDESK_HOME": str(home)}
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "console", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)


def test_the_built_in_tools_register_through_the_entry_point_group():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["riskdesk.tools"]
    assert declared == BUILTIN  # the fallback for a stale install is the same declaration
    tools = registry()
    assert list(tools)[:3] == ["limit_lookup", "temp_quota", "repair_check"]
    assert tools["temp_quota"].writes and tools["temp_quota"].role == "operator"
    assert tools["repair_check"].rules["R2"] == "PBOC-REPAIR-R2" and not tools["limit_lookup"].writes


def test_installing_the_example_makes_it_appear_everywhere(installed, tmp_path):
    listed = run("tool", "list", "--json", site=installed, home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "installment_check" in [t["name"] for t in json.loads(listed.stdout)]
    called = run("tool", "installment_check", "customer_id=C1003", "as_of=2026-11-23", "--ledger", LEDGER, "--json",
                 site=installed, home=tmp_path)
    assert json.loads(called.stdout)["max_terms"] == 12, called.stderr
    probe = run(site=installed, home=tmp_path, code=PROBE)
    assert probe.returncode == 0, probe.stderr
    out = json.loads(probe.stdout.strip().splitlines()[-1])
    assert "installment_check" in out["tools"] and "tool" in out["plan_intents"]
    assert out["plan_tool"]["anyOf"][0]["enum"] == ["installment_check"]  # the model can name the installed tool
    ask = out["ask"]
    assert (ask["intent"], ask["outcome"], ask["tools"], ask["grounded"]) == ("tool", "eligible", ["installment_check"], True)
    assert "12" in ask["answer"] and "[LENDER-IP-IP3]" in ask["answer"] and "LENDER-IP-IP3" in ask["citations"]
    assert out["audit_tools"] == ["installment_check"]
    assert "installment_check" in out["http_list"] and "/v1/tools/installment_check" in out["openapi"]
    assert out["http_call"][0] == 200 and out["http_call"][1]["deciding_rule"] == "IP3"
    assert out["kb_has_plugin_clause"] is False  # read from the package, never stored
    # MCP lists it with its own input schema and runs it; the direct calls are audited like turns
    assert "installment_check" in out["mcp_list"] and out["mcp_schema"] is True
    assert out["mcp_meta"]["riskdesk/role"] == "viewer" and out["mcp_meta"]["riskdesk/tool"]["rules"]["IP3"] == "LENDER-IP-IP3"
    assert out["mcp_call"][:2] == [False, "IP3"] and "[LENDER-IP-IP3]" in out["mcp_call"][2]
    assert out["mcp_bad"][0] is True and "as_of" in out["mcp_bad"][1]
    assert out["audit_direct"]["direct-http"] == [["installment_check", "ineligible",
                                                   ["LENDER-IP-IP1", "LENDER-IP-IP2", "LENDER-IP-IP3"], "al", "viewer"]]
    assert out["audit_direct"]["mcp"][0][:2] == ["installment_check", "ineligible"]
    assert out["audit_direct"]["mcp"][1][:2] == ["installment_check", "refused"]
    assert out["http_trace"]
    ev = run("eval", "run", "installment_check", "--quiet", "--out", str(tmp_path / "ev"), site=installed, home=tmp_path)
    assert ev.returncode == 0, ev.stderr
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert len(summary["case_pass"]) == 5 and all(summary["case_pass"].values()), summary["case_pass"]


def test_without_the_package_nothing_of_it_is_left(installed, tmp_path):
    first = run(site=installed, home=tmp_path, code=PROBE)  # used once in this home, then "uninstalled"
    assert first.returncode == 0, first.stderr
    probe = run(site=None, home=tmp_path, code=PROBE)
    assert probe.returncode == 0, probe.stderr
    out = json.loads(probe.stdout.strip().splitlines()[-1])
    assert out["tools"] == ["limit_lookup", "temp_quota", "repair_check"] and "tool" not in out["plan_intents"]
    assert out["plan_tool"] is None  # no `tool` slot in the plan schema: the LLM request body is as recorded
    assert out["ask"]["intent"] != "tool" and "installment_check" not in out["ask"]["tools"]
    assert "installment_check" not in out["http_list"] and out["openapi"] == [
        "/v1/tools/limit_lookup", "/v1/tools/repair_check", "/v1/tools/temp_quota"]
    assert out["http_call"][0] in (404, 405) and out["kb_has_plugin_clause"] is False  # no such route
    assert "installment_check" not in out["mcp_list"] and out["mcp_list"] == [
        "approval_decide", "approvals_list", "ask", "limit_lookup", "policy_search", "repair_check", "temp_quota"]
    assert out["mcp_call"][0] is True and "unknown tool" in out["mcp_call"][2]
    listed = run("tool", "installment_check", "customer_id=C1003", site=None, home=tmp_path)
    assert listed.returncode == 2 and "no tool 'installment_check'" in listed.stderr
    ev = run("eval", "run", "installment_check", "--quiet", "--out", str(tmp_path / "ev"), site=None, home=tmp_path)
    assert ev.returncode != 0


def test_the_llm_plan_names_an_installed_tool_and_the_turn_runs_it(installed, tmp_path):
    env_run = lambda name: subprocess.run(  # noqa: E731
        [sys.executable, "-c", LLM_PROBE, name], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), str(ROOT)]), "RISKDESK_HOME": str(tmp_path)})
    named = env_run("installment_check")
    assert named.returncode == 0, named.stderr
    out = json.loads(named.stdout.strip().splitlines()[-1])
    assert out["schema_tool"]["anyOf"][0]["enum"] == ["installment_check"]
    assert (out["intent"], out["tools"], out["outcome"], out["planner"]) == ("tool", ["installment_check"], "eligible", "llm")
    assert out["sources"]["intent"] == {"source": "llm"} and out["sources"]["tool"] == {"source": "llm"}
    assert out["plan_tool"] == "installment_check"
    unknown = env_run("payday_check")  # a name no installed tool has: plan_check refuses it, the rules route
    assert unknown.returncode == 0, unknown.stderr
    out = json.loads(unknown.stdout.strip().splitlines()[-1])
    assert out["intent"] != "tool" and "installment_check" not in out["tools"] and out["plan_tool"] is None
    assert out["sources"]["intent"]["source"] == "rules" and "unknown tool 'payday_check'" in out["sources"]["intent"]["reason"]
