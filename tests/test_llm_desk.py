"""The whole desk with an LLM planner and composer, on recorded SmolLM2-135M traffic.

Whatever the small model does, the rules decide: outcomes and writes are the tools', an invalid
or ungrounded plan falls back to the rules planner (recorded in the audit), and a draft that fails
the guard is revised once, then replaced by the template."""
import pytest

from agents import ApprovalDecision, Desk
from tools import Ledger
from tools.ledger import SAMPLE_LEDGER

from llm_cassettes import llm_vcr, recorded_settings

D = "2026-11-23"


@pytest.fixture
def desk(kb, tmp_path):
    d = Desk(Ledger.from_file(SAMPLE_LEDGER), kb, llm=recorded_settings(), threads_path=tmp_path / "t.sqlite3")
    yield d
    d.close()


TURNS = [
    ("给C1002申请4000元临时额度，买电动车送外卖", "temp_quota", "approved"),
    ("C1003 temp quota 8000 for a laptop for work", "temp_quota", "needs_approval"),
    ("What's C1001's available credit?", "limit_lookup", "found"),
    ("C1022能做信用修复吗？截至2026年1月15日", "repair_check", "partially_eligible"),
    ("What is the financing cost cap for consumer finance companies from 2026?", "policy_qa", None),
    ("信用修复要交钱给中介吗", "policy_qa", None),
]


def test_rules_decide_whatever_the_model_says(desk):
    records = []
    with llm_vcr().use_cassette("desk_turns.yaml"):
        for message, intent, outcome in TURNS:
            r = desk.ask(message, as_of=D)
            rec = desk.audit.get(r.trace_id)
            records.append(rec)
            assert (r.intent.value, r.outcome) == (intent, outcome), (message, rec.planner_fallback)
            assert r.guard.grounded, (message, r.answer, r.guard.ungrounded)
            assert rec.llm_model == "smollm2-135m-instruct" or rec.planner_fallback
            assert rec.llm_calls >= 1
    # the small model never fills customer ids: on every customer turn the id came from the rules' reading, and the
    # audit record says so slot by slot
    customer_turns = [rec for rec, (_, intent, _) in zip(records, TURNS) if intent != "policy_qa"]
    for rec in customer_turns:
        if rec.planner == "llm":
            assert rec.slot_sources["customer_id"]["source"] == "rules", rec.slot_sources
        else:
            assert rec.planner_fallback
    # every LLM draft was checked; an ungrounded one never went out
    for rec in records:
        if rec.draft_source == "llm" and rec.draft_guard and not rec.draft_guard.grounded:
            assert rec.reply != rec.draft
    assert len(desk.ledger.customer("C1002").temp_quotas) == 1
    assert desk.ledger.customer("C1003").temp_quotas == []


def test_approval_after_an_llm_turn_grants_once(desk):
    with llm_vcr().use_cassette("desk_approval.yaml"):
        r = desk.ask("C1003 temp quota 8000 for a laptop for work", as_of=D)
        assert r.outcome == "needs_approval"
        done = desk.decide(r.approval_id, ApprovalDecision(decision="approve", supervisor="lee", as_of=D))
    assert done.outcome == "approved" and len(desk.ledger.customer("C1003").temp_quotas) == 1
