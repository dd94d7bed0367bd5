"""The LLM path on real model traffic: the cases of evals/suites/llm_subset.txt through the desk with the LLM
planner and composer, replayed from tests/cassettes/eval_llm_subset.yaml (SmolLM2-135M-Instruct on llama.cpp;
record mode "none", matched on method, path and body). A weak model must leave every outcome and end state
right. scripts/record-cassettes re-records it (RISKDESK_RECORD_MODE=all)."""
import re
from pathlib import Path

import pytest

from evals.llm_subset import (
    SUBSET_CASSETTE, expected_slots, load_subset, proposal, run_subset, settings_from_cassette, slot_right,
    table,
)

from llm_cassettes import record_mode, recorded_settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_subset_covers_both_languages_every_intent_and_both_suites():
    cases = load_subset()
    assert len(cases) >= 40 and len({c.id for c in cases}) == len(cases)
    assert {c.suite for c in cases} == {"core", "adversarial"}
    by_lang = {lang: {c.intent for c in cases if c.language == lang} for lang in ("zh", "en")}
    for lang, intents in by_lang.items():
        assert {"limit_lookup", "temp_quota", "repair_check", "policy_qa", "out_of_scope", "pii"} <= intents, lang
    assert any(t.decide for c in cases for t in c.turns) and any(len(c.turns) > 1 and not c.turns[1].decide for c in cases)


def test_a_bad_subset_line_is_named(tmp_path):
    bad = tmp_path / "s.txt"
    bad.write_text("core limit-zh-C1001-2026-11-23\ncore no-such-case\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"s.txt:2: no case 'no-such-case' in suite 'core'"):
        load_subset(bad)
    bad.write_text("core\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"s.txt:1: expected 'SUITE CASE_ID'"):
        load_subset(bad)


def test_slots_are_read_from_the_expectation_and_compared_as_values():
    case = next(c for c in load_subset() if c.id == "tq-en-C1003-8000-laptop-2026-11-23")
    want = expected_slots(case.turns[0])
    assert want["intent"] == "temp_quota" and want["customer_id"] == "C1003" and str(want["amount"]) == "8000.0"
    got = proposal('```json\n{"intent": "temp_quota", "customer_id": "c1003", "amount": 8000}\n```')
    assert all(slot_right(k, v, got.get(k)) for k, v in want.items())
    assert not slot_right("amount", want["amount"], "8000.5") and proposal("not json") is None


@pytest.fixture(scope="module")
def replay(kb):
    recording = record_mode() == "all"
    settings = recorded_settings(timeout=900.0) if recording else settings_from_cassette(SUBSET_CASSETTE)
    return run_subset(settings, kb, SUBSET_CASSETTE, record=recording)


def test_every_outcome_and_end_state_stays_right_whatever_the_model_says(replay):
    results, figures, problem = replay
    assert problem is None, problem  # every recorded exchange replayed: no request changed, none went elsewhere
    assert len(results.cases) == len(load_subset())
    for r in results.cases:
        outcome = [c for t in r.turns for c in t.checks if c.name in ("outcome", "error") and not c.ok]
        assert not outcome, (r.case_id, [(c.name, c.detail) for c in outcome])
        assert r.end_state_ok, (r.case_id, r.end_state_diff)
        assert not r.forbidden and r.error is None, (r.case_id, r.forbidden, r.error)
    assert figures.outcome_right == figures.outcome_checks > 0
    assert figures.end_state_right == figures.cases and figures.forbidden == 0
    assert figures.ungrounded_delivered == 0


def test_the_model_was_asked_on_every_operator_turn_and_its_use_is_accounted_for(replay):
    results, f, _ = replay
    says = [t for r in results.cases for t in r.turns if t.kind == "say"]
    assert f.turns == len(says) and 0 < f.planned_turns <= f.turns
    # the model is asked on every operator turn except where the rules must ask a question first
    odd = [(r.case_id, t.index, t.planner, t.planner_fallback, t.slot_sources) for r in results.cases for t in r.turns
           if t.kind == "say" and bool(t.slot_sources) != (t.planner == "llm" or bool(t.planner_fallback))]
    assert not odd, odd
    # every turn is either planned by the model or a fallback with its cause recorded
    assert f.plan_used + sum(f.planner_fallbacks.values()) == f.planned_turns
    assert "unrecorded" not in f.planner_fallbacks and "llm_unavailable" not in f.planner_fallbacks
    # every draft asked for is delivered or replaced by the template for a recorded cause
    assert f.drafts_delivered + sum(f.template_replies.values()) == f.drafts - f.revisions
    assert "llm_unavailable" not in f.template_replies
    assert sum(t.llm_tokens or 0 for t in says) > 0 and f.tokens_per_turn and f.llm_calls_max >= 1
    for slots in (f.slots_first, f.slots_final):
        assert slots["intent"].scored >= 40 and slots["customer_id"].scored >= 30 and slots["amount"].scored >= 20
        assert all(0 <= s.right <= s.scored for s in slots.values())


def test_the_readme_table_is_this_replay(replay):
    results, figures, _ = replay
    got = table(figures, results.meta.llm_model or "")
    print("\n" + got)
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- llm-subset-table -->\n(.*?)\n<!-- /llm-subset-table -->", text, re.S)
    assert m, "README: the LLM subset table is missing"
    if record_mode() != "all":
        assert m.group(1).strip() == got.strip()
