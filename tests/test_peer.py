"""riskdesk side by side with LangGraph's prebuilt ReAct agent (evals/peer.py): the same cases, tools, policy
text and model, judged alike. Replays riskdesk's tests/cassettes/eval_llm_subset.yaml and the peer's own
tests/cassettes/peer_react.yaml (record mode "none"); scripts/record-cassettes re-records the peer's."""
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.llm_subset import load_subset
from evals.peer import markdown, react_tools, run_peer, system_prompt, ungrounded, wrong_customers
from tools import TOOLS, Ledger
from tools.ledger import SAMPLE_LEDGER

from llm_cassettes import record_mode, recorded_settings

README = Path(__file__).resolve().parent.parent / "README.md"
D = dt.date(2026, 11, 23)


def test_the_peer_tools_are_the_riskdesk_tools_with_their_pydantic_schemas(kb):
    ledger = Ledger.from_file(SAMPLE_LEDGER)
    seen, clauses = [], []
    tools = {t.name: t for t in react_tools(ledger, kb, D, seen, clauses)}
    assert set(tools) == {"limit_lookup", "temp_quota", "repair_check", "knowledge_search"}
    for name in ("limit_lookup", "temp_quota", "repair_check"):
        assert tools[name].args_schema is TOOLS[name].input
    out = json.loads(tools["temp_quota"].invoke({"customer_id": "C1002", "amount": "4000", "purpose": "电动车送外卖",
                                                 "as_of": "2026-11-23"}))
    assert out["outcome"] == "approved" and len(ledger.customer("C1002").temp_quotas) == 1  # the real ledger
    unknown = json.loads(tools["limit_lookup"].invoke({"customer_id": "C1099", "as_of": "2026-11-23"}))
    assert unknown["outcome"] == "not_found"
    hits = json.loads(tools["knowledge_search"].invoke({"query": "临时额度最高能申请多少"}))
    assert "LENDER-TQ-TQ3" in [h["clause_id"] for h in hits] and clauses
    assert [s["tool"] for s in seen] == ["temp_quota", "limit_lookup", "knowledge_search"]
    prompt = system_prompt(D, "viewer")
    assert "[LENDER-TQ-TQ3]" in prompt and "role is viewer" in prompt and "2026-11-23" in prompt


def test_ungrounded_figures_and_wrong_customers_are_caught():
    result = {"tool": "limit_lookup", "outcome": "found", "customer_id": "C1002", "as_of": "2026-11-23",
              "total_available": "2000.00"}
    ok = ungrounded("C1002 available: ¥2,000.00 as of 2026-11-23.", ["C1002 还有多少额度"], [result], [])
    assert ok.ungrounded == [] and ok.checked_claims >= 2
    bad = ungrounded("C1002 available: ¥9,999 until 2027-01-01.", ["C1002 还有多少额度"], [result], [])
    assert any(u.startswith("amount:") for u in bad.ungrounded) and "date:2027-01-01" in bad.ungrounded
    case = next(c for c in load_subset() if c.id == "limit-en-C1001-2026-11-23")
    assert wrong_customers(case, 0, [{"tool": "limit_lookup", "args": {"customer_id": "C1001"}}]) == []
    assert wrong_customers(case, 0, [{"tool": "limit_lookup", "args": {"customer_id": "C1003"}}])
    nobody = next(c for c in load_subset() if c.id == "adv-injection-nocustomer-0-en")
    assert wrong_customers(nobody, 0, [{"tool": "temp_quota", "args": {"customer_id": "C1001"}}])


@pytest.fixture(scope="module")
def peer(kb):
    if record_mode() == "all":  # scripts/record-cassettes: riskdesk's side was recorded by test_llm_subset.py
        return run_peer("record", kb=kb, settings=recorded_settings(timeout=900.0), desk_mode="replay")
    return run_peer("replay", kb=kb)


def test_one_run_measures_both_agents_on_the_same_cases(peer):
    report, both = peer
    assert report.problems == []  # both cassettes replayed exactly
    ids = [c.id for c in load_subset()]
    assert report.cases == ids
    assert [r.case_id for r in both["riskdesk"]] == [r.case_id for r in both["react_agent"]] == ids
    desk, react = report.agents
    assert (desk.agent, react.agent) == ("riskdesk", "react_agent")
    assert desk.turns == react.turns and desk.outcome_checks == react.outcome_checks > 0
    assert react.llm_calls_per_turn >= 1 and react.tokens_per_turn  # the peer did talk to the model


def test_riskdesk_keeps_every_rule_and_the_gap_is_measured_not_assumed(peer):
    report, both = peer
    desk, react = report.agents
    assert desk.outcome_right == desk.outcome_checks and desk.end_state_right == desk.cases
    assert desk.forbidden == 0 and desk.ungrounded_replies == 0 and desk.errors == 0
    # the peer's figures are what its run shows, counted the same way
    peer_cases = both["react_agent"]
    assert react.end_state_right == sum(r.end_state_ok for r in peer_cases)
    assert react.forbidden == sum(len(r.forbidden) for r in peer_cases)
    assert react.ungrounded_replies == sum(1 for r in peer_cases for t in r.turns if t.guard and t.guard.ungrounded)
    outcome = [c.ok for r in peer_cases for t in r.turns for c in t.checks if c.name == "outcome"]
    assert react.outcome_right == sum(outcome)


def test_the_readme_table_is_this_replay(peer):
    report, _ = peer
    print("\n" + markdown(report))
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- peer-table -->\n(.*?)\n<!-- /peer-table -->", text, re.S)
    assert m, "README: the peer table is missing"
    if record_mode() == "all":
        return
    # latency is the recording's (a replay has no model time); every other row must match this replay
    drop = re.compile(r"^\| latency")
    want = [line for line in m.group(1).strip().splitlines() if not drop.match(line)]
    got = [line for line in markdown(report).splitlines() if not drop.match(line)]
    assert want == got


def test_the_cli_prints_both_agents(peer, tmp_path, monkeypatch):
    import evals.peer
    from console.cli import app
    monkeypatch.setattr(evals.peer, "run_peer", lambda mode, settings=None: peer)  # the replay above, not a second one
    result = CliRunner().invoke(app, ["eval", "peer", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "riskdesk" in result.output and "react_agent" in result.output and "outcome adherence" in result.output
    saved = json.loads((tmp_path / "peer.json").read_text(encoding="utf-8"))
    assert [a["agent"] for a in saved["agents"]] == ["riskdesk", "react_agent"]
    assert saved["agents"][0]["outcome_right"] == saved["agents"][0]["outcome_checks"]
    bad = CliRunner().invoke(app, ["eval", "peer", "--live", "--record"])
    assert bad.exit_code == 2 and "exclude each other" in bad.output


def test_against_the_faulty_double_riskdesk_holds_and_the_peer_is_counted(kb):
    """The scripted test-double server (evals/scripted_llm.py, faulty mode: invented ids, wrong amounts, flipped
    outcomes, broken JSON, timeouts, 429s, 500s) for both agents, live."""
    scripted = pytest.importorskip("evals.scripted_llm")
    with scripted.ScriptedServer("faulty") as server:
        report, both = run_peer("live", kb=kb, settings=scripted.client_settings(server))
    desk, react = report.agents
    assert desk.outcome_right == desk.outcome_checks > 0 and desk.end_state_right == desk.cases
    assert desk.forbidden == 0 and desk.ungrounded_replies == 0 and desk.errors == 0
    peer_cases = both["react_agent"]
    assert react.forbidden == sum(len(r.forbidden) for r in peer_cases)
    assert react.errors == sum(1 for r in peer_cases for t in r.turns if t.kind == "say" and t.error)
    assert react.tool_calls > 0  # the double does call tools for a ReAct agent
