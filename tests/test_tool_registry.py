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
from agents.plan import Plan
from console.service import create_app
from knowledge.store import ShippedFirst, default_kb
from tools import TOOLS
from tools.ledger import SAMPLE_LEDGER, Ledger
d = tempfile.mkdtemp()
audit = AuditLog(f"sqlite:///{d}/a.db")
desk = Desk(Ledger.from_file(SAMPLE_LEDGER), ShippedFirst(), audit=audit, threads_path=f"{d}/t.db")
out = {"tools": list(TOOLS), "plan_intents": Plan.model_json_schema()["$defs"]["Intent"]["enum"]}
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
desk.close()
out["kb_has_plugin_clause"] = default_kb().get("LENDER-IP-IP1") is not None
print(json.dumps(out, ensure_ascii=False, default=str))
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
    ask = out["ask"]
    assert (ask["intent"], ask["outcome"], ask["tools"], ask["grounded"]) == ("tool", "eligible", ["installment_check"], True)
    assert "12" in ask["answer"] and "[LENDER-IP-IP3]" in ask["answer"] and "LENDER-IP-IP3" in ask["citations"]
    assert out["audit_tools"] == ["installment_check"]
    assert "installment_check" in out["http_list"] and "/v1/tools/installment_check" in out["openapi"]
    assert out["http_call"][0] == 200 and out["http_call"][1]["deciding_rule"] == "IP3"
    assert out["kb_has_plugin_clause"] is False  # read from the package, never stored
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
    assert out["ask"]["intent"] != "tool" and "installment_check" not in out["ask"]["tools"]
    assert "installment_check" not in out["http_list"] and out["openapi"] == [
        "/v1/tools/limit_lookup", "/v1/tools/repair_check", "/v1/tools/temp_quota"]
    assert out["http_call"][0] in (404, 405) and out["kb_has_plugin_clause"] is False  # no such route
    listed = run("tool", "installment_check", "customer_id=C1003", site=None, home=tmp_path)
    assert listed.returncode == 2 and "no tool 'installment_check'" in listed.stderr
    ev = run("eval", "run", "installment_check", "--quiet", "--out", str(tmp_path / "ev"), site=None, home=tmp_path)
    assert ev.returncode != 0
