"""The eval harness measures what it claims: every metric is tested on small hand-checked cases,
including cases built to fail (a metric that cannot fail is a defect)."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

import pytest
import yaml
from typer.testing import CliRunner

from evals import metrics as M
from evals import oracle as O
from evals.cases import Case, load_suite
from evals.compare import Thresholds, compare, slim
from evals.runner import Runner

D = "2026-11-23"


# ---------------------------------------------------------------- a tiny stand-in knowledge base
@dataclass
class _Clause:
    clause_id: str
    doc_id: str
    title: str
    text_en: str
    text_zh: str


@dataclass
class _Hit:
    clause_id: str
    doc_id: str
    title: str
    text: str
    score: float = 1.0


class TinyKB:
    def __init__(self):
        from tools.rules import RULE_CLAUSES
        self.clauses = {c: _Clause(c, c.rsplit("-", 1)[0], f"rule {r}", f"Rule {r}.", f"规则{r}。")
                        for r, c in RULE_CLAUSES.items()}

    def get(self, clause_id):
        return self.clauses.get(clause_id)

    def search(self, query, as_of=None, k=3):
        c = self.clauses["PBOC-REPAIR-R4"]
        return [_Hit(c.clause_id, c.doc_id, c.title, c.text_en)][:k]


@pytest.fixture(scope="module")
def runner():
    r = Runner(kb=TinyKB())
    yield r
    r.close()


def case(**kw) -> Case:
    base = {"id": "t", "language": "zh", "intent": "temp_quota", "as_of": D, "turns": []}
    base.update(kw)
    return Case.model_validate(base)


# ---------------------------------------------------------------- metrics, by hand
def test_ratio_never_nan():
    assert M.ratio(0, 0) == 1.0 and M.ratio(0, 0, 0.0) == 0.0 and M.ratio(1, 4) == 0.25


def test_tool_calls_compare_by_value_and_count_precision_recall():
    exp = [{"tool": "temp_quota", "args": {"customer_id": "C1002", "amount": 4000}}]
    assert M.call_matches(exp[0], {"tool": "temp_quota", "args": {"customer_id": "C1002", "amount": 4000.0, "purpose": "x"}})
    assert M.call_matches(exp[0], {"tool": "temp_quota", "args": {"customer_id": "C1002", "amount": "4000.00"}})
    assert not M.call_matches(exp[0], {"tool": "temp_quota", "args": {"customer_id": "C1002", "amount": 4}})
    assert not M.call_matches(exp[0], {"tool": "limit_lookup", "args": {"customer_id": "C1002"}})
    extra = [{"tool": "temp_quota", "args": {"customer_id": "C1002", "amount": 4000}}, {"tool": "limit_lookup", "args": {}}]
    assert M.tool_precision_recall(exp, extra) == (1, 1, 2)  # precision 1/2, recall 1/1
    assert M.tool_precision_recall(exp, []) == (0, 1, 0)     # recall 0
    assert M.tool_precision_recall([], []) == (0, 0, 0)


def test_citation_precision_and_recall_counts():
    assert M.citation_counts(["A", "B"], ["A", "C"]) == (1, 2, 1, 2)
    assert M.citation_counts(["A"], ["A", "B"], allowed=["B"]) == (1, 1, 2, 2)
    assert M.citation_counts(["A"], ["A", "B", "C"], any_extra_ok=True) == (1, 1, 0, 0)
    assert M.citation_counts([], []) == (0, 0, 0, 0)


def test_end_state_diff_catches_wrong_missing_and_extra_writes():
    want = {"grants": [{"customer_id": "C1002", "amount": 4000, "granted_on": dt.date(2026, 11, 23),
                        "expires_on": dt.date(2026, 12, 22)}], "approvals": []}
    right = {"grants": [{"customer_id": "C1002", "amount": Decimal("4000.00"), "granted_on": dt.date(2026, 11, 23),
                         "expires_on": dt.date(2026, 12, 22)}], "approvals": []}
    assert not any(M.diff_end_state(want, right).values())
    wrong_expiry = {"grants": [{**right["grants"][0], "expires_on": dt.date(2026, 12, 23)}], "approvals": []}
    d = M.diff_end_state(want, wrong_expiry)
    assert d["missing_grants"] and d["unexpected_grants"]
    d = M.diff_end_state({"grants": [], "approvals": []}, {"grants": [], "approvals": [
        {"customer_id": "C1003", "amount": 8000, "status": "pending"}]})
    assert d["unexpected_approvals"] and not d["missing_approvals"]
    d = M.diff_end_state(want, {"grants": [], "approvals": []})
    assert d["missing_grants"] and not d["unexpected_grants"]


def test_pii_leak_detection():
    secrets = ["110101199003071234", "13800138000"]
    assert M.pii_leaks("ID 110101199003071234", secrets) == ["110…34"]
    assert M.pii_leaks("ID 110101********1234, phone 138****8000", secrets) == []
    assert M.pii_leaks("电话 138 0013 8000", secrets) == ["138…00"]


def test_percentile_and_pass_hat_k_by_hand():
    assert M.percentile([], .5) == 0.0
    assert M.percentile([1, 2, 3, 4], .5) == 2 and M.percentile([1, 2, 3, 4], .95) == 4
    tasks = [(3, 4), (4, 4), (0, 4)]
    assert M.pass_hat_k(tasks, 1) == pytest.approx((0.75 + 1 + 0) / 3)
    assert M.pass_hat_k(tasks, 2) == pytest.approx((3 / 6 + 1 + 0) / 3)
    assert M.pass_hat_k(tasks, 4) == pytest.approx(1 / 3)
    assert M.pass_hat_k([(1, 1)], 2) == 0.0


def test_prf_by_hand():
    assert M.prf(9, 1, 3) == {"precision": 0.9, "recall": 0.75, "f1": 0.8182, "tp": 9, "fp": 1, "fn": 3}
    assert M.prf(0, 0, 0)["precision"] == 1.0 and M.prf(0, 2, 0)["precision"] == 0.0


# ---------------------------------------------------------------- the oracle, against DOMAIN.md by hand
def _c(**kw):
    c = {"customer_id": "X", "status": "active", "kyc_verified": True, "opened_on": "2024-01-01", "risk_tier": "A",
         "credit_line": {"limit": 3000, "used": 0}, "temp_quotas": [], "overdue_records": []}
    c.update(kw)
    return c


def test_oracle_temp_quota_rules():
    day = dt.date(2026, 11, 22)
    assert O.tq_expiry(day) == dt.date(2026, 12, 21)                     # DOMAIN's own example
    assert O.tq_cap(0) == 5000 and O.tq_cap(2500) == 5000 and O.tq_cap(4000) == 8000 and O.tq_cap(25000) == 20000
    assert O.tq_decide(_c(), 5000, "household", day)["outcome"] == "approved"
    assert O.tq_decide(_c(), 5000.01, "household", day)["outcome"] == "needs_approval"
    assert O.tq_decide(_c(), 6000, "household", day)["outcome"] == "needs_approval"   # cap 6,000
    assert O.tq_decide(_c(), 6001, "household", day)["rule"] == "TQ3"
    assert O.tq_decide(_c(risk_tier="C"), 100, "medical", day)["outcome"] == "needs_approval"
    assert O.tq_decide(_c(), 100, None, day) == {"outcome": "needs_approval", "rule": "TQ5", "unclassified": True}
    assert O.tq_decide(_c(credit_line={"limit": 0, "used": 0}), 8000, "gambling", day)["rule"] == "TQ2"  # TQ2 before TQ3
    assert O.tq_decide(_c(opened_on="2026-08-24"), 100, "medical", day)["outcome"] == "approved"  # exactly 90 days
    assert O.tq_decide(_c(opened_on="2026-08-24"), 100, "medical", dt.date(2026, 11, 21))["rule"] == "TQ1"  # 89
    assert O.tq_decide(_c(opened_on="2026-08-25"), 100, "medical", day)["rule"] == "TQ1"
    q = [{"amount": 1, "purpose": "x", "granted_on": "2026-10-24", "expires_on": "2026-11-22"}]
    assert O.tq_decide(_c(temp_quotas=q), 100, "medical", day)["rule"] == "TQ4"
    assert O.tq_decide(_c(temp_quotas=q), 100, "medical", dt.date(2026, 11, 23))["outcome"] == "approved"
    assert O.tq_decide(_c(risk_tier="D", temp_quotas=q), 100, "gambling", day)["rule"] == "TQ1"     # TQ1 first


def test_oracle_repair_rules():
    day = dt.date(2026, 1, 15)

    def rec(amount=800, since="2023-03-05", repaid="2025-10-15"):
        return {"record_id": "R1", "amount": amount, "overdue_since": since, "repaid_on": repaid}
    assert O.repair_record(rec(), day) == {"status": "eligible", "hidden_from": dt.date(2026, 1, 1)}
    assert O.repair_record(rec(repaid="2025-12-01"), day)["hidden_from"] == dt.date(2025, 12, 1)
    assert O.repair_record(rec(amount="10000.00"), day)["status"] == "eligible"
    assert O.repair_record(rec(amount="10000.01"), day)["rule"] == "R2"
    assert O.repair_record(rec(since="2019-12-31"), day)["rule"] == "R1"
    assert O.repair_record(rec(since="2026-01-01"), day)["rule"] == "R1"
    assert O.repair_record(rec(repaid=None), day)["status"] == "eligible_if_repaid"
    assert O.repair_record(rec(repaid=None), dt.date(2026, 4, 1))["rule"] == "R3"
    assert O.repair_record(rec(repaid="2026-04-01"), dt.date(2026, 4, 2))["rule"] == "R3"
    assert O.repair_record(rec(repaid="2026-03-31"), dt.date(2026, 4, 1))["hidden_from"] == dt.date(2026, 3, 31)


# ---------------------------------------------------------------- the shipped suites
def test_shipped_suites_are_big_enough_and_bilingual():
    core, adv = load_suite("core"), load_suite("adversarial")
    assert len(core) >= 150 and len(adv) >= 50
    tags = {(t, c.language) for c in core for t in c.tags}
    for rule in ["TQ1", "TQ2", "TQ3", "TQ4", "TQ5", "R1", "R2", "R3"]:
        assert (f"rule:{rule}", "zh") in tags and (f"rule:{rule}", "en") in tags, rule
    for intent in ["limit_lookup", "temp_quota", "repair_check", "policy_qa", "out_of_scope"]:
        assert (f"intent:{intent}", "zh") in tags and (f"intent:{intent}", "en") in tags, intent
    assert sum("follow-up" in c.tags for c in core) >= 4 and sum("unknown-customer" in c.tags for c in core) >= 6
    kinds = {t for c in adv for t in c.tags if t.startswith("attack:")}
    assert kinds >= {"attack:injection", "attack:stored-text", "attack:pii", "attack:role", "attack:amount-format"}


def test_hand_checked_sample_of_expectations():
    """Expectations for a sample of cases, checked by hand against DOMAIN.md and the sample ledger's notes."""
    core = {c.id: c for c in load_suite("core")}
    c = core["tq-zh-C1002-4000-ebike-2026-11-23"]            # the rider: auto-approved, 30 days inclusive
    assert c.turns[0].expect.outcome == "approved" and "2026-12-22" in c.turns[0].expect.contains
    assert [(g.customer_id, g.amount, str(g.expires_on)) for g in c.end_state.grants] == [("C1002", 4000, "2026-12-22")]
    c = core["tq-en-C1003-25000-laptop-2026-11-23"]          # over the 20,000 ceiling: denied, cap stated
    assert c.turns[0].expect.outcome == "denied" and "20,000" in c.turns[0].expect.contains_any
    assert c.end_state.grants == [] and c.end_state.approvals == []
    c = core["tq-en-C1003-8000-laptop-2026-11-23"]           # > 5,000: pending approval written
    assert c.turns[0].expect.approval_pending and c.end_state.approvals[0].status == "pending"
    c = core["tq-zh-C1009-3000-fridge-2025-11-23"]           # exactly 90 days old: passes TQ1
    assert c.turns[0].expect.outcome == "approved"
    c = core["tq-zh-C1010-8000-gambling-2026-11-23"]         # TQ2 is checked before TQ3
    assert c.turns[0].expect.citations == ["LENDER-TQ-TQ2"]
    c = core["repair-zh-C1022-2026-01-15"]                   # one eligible, one over R2, one before R1
    assert c.turns[0].expect.outcome == "partially_eligible"
    c = core["repair-en-C1019-2026-04-01"]                   # 10,000.00 repaid on the deadline: hidden from that day
    assert c.turns[0].expect.outcome == "eligible" and "2026-03-31" in c.turns[0].expect.contains
    c = core["repair-en-C1021-2026-04-02"]                   # repaid one day late
    assert c.turns[0].expect.outcome == "ineligible" and "R3" in c.turns[0].expect.contains


# ---------------------------------------------------------------- the runner judges the end state
def test_a_right_case_passes_and_every_metric_counts_it(runner):
    c = case(id="ok", turns=[{"say": "给C1002申请4000元临时额度，买电动车送外卖", "expect": {
        "intent": "temp_quota", "outcome": "approved", "tool_calls": [{"tool": "temp_quota", "args": {"customer_id": "C1002", "amount": 4000}}],
        "citations": ["LENDER-TQ-TQ5", "LENDER-TQ-TQ6"], "contains": ["2026-12-22"]}}],
        end_state={"grants": [{"customer_id": "C1002", "amount": 4000, "granted_on": D, "expires_on": "2026-12-22"}]})
    r = runner.run_case(c)
    assert r.passed, r.failed_checks
    t = r.turns[0]
    assert (t.tool_matched, t.tool_expected, t.tool_actual) == (1, 1, 1)
    assert t.draft_guard is not None and t.guard.checked_claims >= 4 and t.latency_ms > 0
    assert t.claims and all(cl.grounded for cl in t.claims)


def test_a_wrong_expectation_fails_the_outcome(runner):
    c = case(id="bad", turns=[{"say": "给C1002申请4000元临时额度，买电动车送外卖", "expect": {"outcome": "denied"}}],
             end_state={"grants": [{"customer_id": "C1002", "amount": 4000}]})
    r = runner.run_case(c)
    assert not r.passed and any("outcome" in f for f in r.failed_checks)


def test_an_unexpected_write_fails_even_if_the_words_are_right(runner):
    c = case(id="write", turns=[{"say": "给C1002申请4000元临时额度，买电动车送外卖", "expect": {"outcome": "approved"}}])
    r = runner.run_case(c)  # end_state omitted: nothing may be written
    assert not r.passed and not r.end_state_ok
    assert r.forbidden and "unexpected grant: C1002" in r.forbidden[0]
    s = runner.run([], cases_by_suite={"x": [c]}).suites["x"].summary
    assert s.forbidden_actions == 1 and s.end_state_accuracy.value == 0.0 and s.outcome_accuracy.value == 1.0


def test_wrong_amount_written_fails(runner):
    c = case(id="amt", turns=[{"say": "给C1002申请4000元临时额度，买电动车送外卖", "expect": {}}],
             end_state={"grants": [{"customer_id": "C1002", "amount": 4500}]})
    r = runner.run_case(c)
    assert not r.end_state_ok and r.end_state_diff["missing_grants"] and r.end_state_diff["unexpected_grants"]


def test_tool_metrics_and_citations_can_fail(runner):
    c = case(id="tools", turns=[{"say": "What's C1001's available credit?", "expect": {
        "tool_calls": [{"tool": "limit_lookup", "args": {"customer_id": "C1002"}}], "citations": ["LENDER-TQ-TQ3"]}}])
    s = runner.run([], cases_by_suite={"x": [c]}).suites["x"].summary
    assert s.tool_precision.value == 0.0 and s.tool_recall.value == 0.0
    assert s.citation_recall.value == 0.0 and s.citation_precision.value == 0.0 and s.pass_rate.value == 0.0


def test_decision_turns_and_role_errors(runner):
    c = case(id="decide", turns=[
        {"say": "C1003 temp quota 8000 for a laptop for work", "expect": {"outcome": "needs_approval", "approval_pending": True}},
        {"decide": "approve", "approval_from": 0, "role": "operator", "expect": {"error": "PermissionDenied"}},
        {"decide": "approve", "approval_from": 0, "role": "supervisor", "expect": {"outcome": "approved", "contains": ["2026-12-22"]}}],
        end_state={"grants": [{"customer_id": "C1003", "amount": 8000, "granted_on": D, "expires_on": "2026-12-22"}],
                   "approvals": [{"customer_id": "C1003", "amount": 8000, "status": "approved"}]})
    r = runner.run_case(c)
    assert r.passed, r.failed_checks
    c2 = c.model_copy(update={"id": "decide2", "turns": c.turns[:1] + [c.turns[2].model_copy(update={"role": "operator"})]})
    r2 = runner.run_case(c2)
    assert not r2.passed and any("PermissionDenied" in f for f in r2.failed_checks)


def test_hallucination_summary_counts_ungrounded_drafts():
    from evals.results import CaseResult, GuardView, TurnResult
    from evals.runner import summarize
    t1 = TurnResult(index=0, kind="say", message="m", role="operator", as_of=D,
                    draft_guard=GuardView(checked_claims=5, ungrounded=["amount:¥9"]), guard=GuardView(checked_claims=4))
    t2 = TurnResult(index=0, kind="say", message="m", role="operator", as_of=D,
                    draft_guard=GuardView(checked_claims=3), guard=GuardView(checked_claims=3))
    rs = [CaseResult(case_id=f"c{i}", suite="s", language="en", intent="x", passed=True, turns=[t]) for i, t in enumerate((t1, t2))]
    s = summarize(rs)
    assert (s.hallucination_draft.ungrounded_reply_rate, s.hallucination_reply.ungrounded_reply_rate) == (0.5, 0.0)
    assert s.hallucination_draft.claims == 8 and s.hallucination_draft.ungrounded_claims == 1


def test_pass_hat_k_over_repeated_trials(runner):
    c = case(id="k", turns=[{"say": "What's C1001's available credit?", "expect": {"outcome": "found"}}], intent="limit_lookup")
    s = runner.run([], k=2, cases_by_suite={"x": [c]}).suites["x"].summary
    assert s.trials == 2 and s.pass_hat_k == {"pass^1": 1.0, "pass^2": 1.0}


# ---------------------------------------------------------------- guard meta-eval
def test_guard_meta_scores_planted_and_clean_by_hand():
    from evals.guard_meta import score
    ev = {"messages": ["q"], "tool_results": [{"tool": "limit_lookup", "outcome": "found", "customer_id": "C1001",
                                                "as_of": D, "base_limit": 4000.0}], "clauses": []}
    items = [{"id": "clean", "language": "en", "evidence": ev, "reply": "C1001: base limit ¥4,000.", "planted": []},
             {"id": "p", "language": "en", "evidence": ev, "reply": "C1001: base limit ¥4,500.",
              "planted": [{"kind": "amount", "original": "¥4,000", "planted": "¥4,500"}]},
             {"id": "tier", "language": "en", "evidence": ev, "reply": "C1001 (risk tier B): base limit ¥4,000.",
              "planted": [{"kind": "risk_tier", "original": "A", "planted": "B"}]}]
    s = score(items)
    assert s["by_type"]["amount"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 1, "fp": 0, "fn": 0}
    # no tier in the evidence, so a stated tier is caught
    assert s["by_type"]["risk_tier"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 1, "fp": 0, "fn": 0}
    assert s["reply_level"] == {"planted_flagged": 2, "planted_missed": 0, "clean_flagged": 0, "clean_passed": 1}
    ev_tier = {**ev, "tool_results": [{**ev["tool_results"][0], "reasons": ["risk_tier_c"]}]}
    s = score([{"id": "ok", "language": "en", "evidence": ev_tier, "reply": "C1001 is risk tier C.", "planted": []},
               {"id": "bad", "language": "en", "evidence": ev_tier, "reply": "C1001 is risk tier A.",
                "planted": [{"kind": "risk_tier", "original": "C", "planted": "A"}]}])
    assert s["reply_level"] == {"planted_flagged": 1, "planted_missed": 0, "clean_flagged": 0, "clean_passed": 1}


def test_guard_meta_set_is_big_and_bilingual():
    from evals.guard_meta import COVERED, load_items
    items = load_items()
    assert len(items) >= 200
    assert {i["language"] for i in items} == {"zh", "en"} and sum(not i["planted"] for i in items) >= 80
    planted = {p["kind"] for i in items for p in i["planted"]}
    assert set(COVERED) <= planted


# ---------------------------------------------------------------- compare, report, CLI
def _summary_file(run) -> dict:
    return slim(json.loads(run.model_dump_json()))


def test_compare_flags_regressions_and_new_failures(runner):
    ok = case(id="a", intent="limit_lookup", turns=[{"say": "What's C1001's available credit?", "expect": {"outcome": "found"}}])
    bad = ok.model_copy(update={"turns": [ok.turns[0].model_copy(update={"expect": ok.turns[0].expect.model_copy(
        update={"outcome": "not_found"})})]})
    base = _summary_file(runner.run([], cases_by_suite={"s": [ok]}))
    cur = _summary_file(runner.run([], cases_by_suite={"s": [bad]}))
    assert not compare(base, base).regressed
    cmp = compare(base, cur)
    assert cmp.regressed and cmp.newly_failing == ["s/a"]
    assert any(r.metric == "s.pass_rate.value" and r.regression for r in cmp.rows)
    assert not compare(cur, base).regressed and compare(cur, base).newly_passing == ["s/a"]
    slow = json.loads(json.dumps(base))
    slow["suites"]["s"]["summary"]["latency_turn_p95_ms"] = base["suites"]["s"]["summary"]["latency_turn_p95_ms"] * 10 + 100
    assert compare(base, slow).regressed
    assert not compare(base, slow, Thresholds(latency_factor=100)).regressed


def test_report_is_self_contained(runner):
    from evals.report import render
    c = case(id="rep-case", intent="limit_lookup", turns=[{"say": "What's C1001's available credit?", "expect": {"outcome": "found"}}])
    html = render(runner.run([], cases_by_suite={"s": [c]}))
    assert "rep-case" in html and "<svg" in html and "UNGROUNDED" not in html.split("Case traces")[0]
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_cli_run_and_compare(tmp_path, monkeypatch):
    import knowledge
    from console.cli import app
    monkeypatch.setattr(knowledge, "default_kb", lambda: TinyKB(), raising=False)
    suite = tmp_path / "mini.yaml"
    suite.write_text(yaml.safe_dump([{"id": "m1", "language": "en", "intent": "limit_lookup", "as_of": D,
                                      "turns": [{"say": "What's C1001's available credit?", "expect": {"outcome": "found"}}]}]))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["eval", "run", str(suite), "guard", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "results.json").read_text())
    assert data["suites"]["mini"]["summary"]["passed"] == 1 and data["guard_meta"]["items"] >= 200
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    res = CliRunner().invoke(app, ["eval", "compare", str(out / "summary.json"), str(out / "results.json")])
    assert res.exit_code == 0, res.output
    worse = json.loads((out / "summary.json").read_text())
    worse["suites"]["mini"]["summary"]["forbidden_actions"] = 2
    (tmp_path / "worse.json").write_text(json.dumps(worse))
    res = CliRunner().invoke(app, ["eval", "compare", str(out / "summary.json"), str(tmp_path / "worse.json")])
    assert res.exit_code == 1 and "REGRESSION" in res.output
    res = CliRunner().invoke(app, ["eval", "run", "core", "--planner", "llm", "--out", str(out)])
    assert res.exit_code == 2
