"""The LLM plan checked slot by slot (agents/plan_check.py), on the whole desk: the model proposes, the ledger and
the rules dispose.

The model is a labelled test double (ScriptedModel below): an object with the LLM client's `structured`
interface that answers with scripted plans and never touches the network. Everything else is real: the graph,
the rules planner's reader and linker, the tools on a SQLite ledger built here with ids of other formats
(CUS-004417, 7700123456), the knowledge base and the guard.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from agents import Desk
from agents.conversation import Conversation
from agents.linking import CustomerLinker
from agents.llm import StructuredReply, Usage, parse_into
from agents.plan import Intent, Plan
from agents.plan_check import SLOTS, check_plan
from agents.planner_llm import LLMPlanner
from agents.planner_rules import RulesPlanner
from evals.results import CaseResult, TurnResult
from evals.runner import summarize
from factories import customer, ledger_with, record

D = "2026-11-23"
A, B = "CUS-004417", "7700123456"  # a lender's own id formats: letters-and-dashes, and a bare digit run
TOKENS = Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120)


class ScriptedModel:
    """TEST DOUBLE of an LLM endpoint, no network: `structured` answers with the scripted replies in order (a
    Plan, or raw text that is parsed like a real reply) and records every request's messages."""

    model = "scripted-test-double"

    def __init__(self, *replies: Plan | str) -> None:
        self.replies = list(replies)
        self.requests: list[list[dict]] = []

    def structured(self, messages, model_cls):  # noqa: ANN001, ANN201
        self.requests.append(messages)
        reply = self.replies.pop(0)
        raw = reply if isinstance(reply, str) else reply.model_dump_json()
        value, error = parse_into(raw, model_cls)
        return StructuredReply(value=value, raw=raw, error=error, usage=TOKENS)


def _ledger():
    led = ledger_with(
        customer(A, name="王芳", risk_tier="A", credit_line={"limit": 3000, "used": 0}),
        customer(B, name="李强", risk_tier="B", credit_line={"limit": 8000, "used": 1000},
                 overdue_records=[record("R1", amount=800, since="2023-03-05", repaid="2025-10-15")]),
    )
    led.sandbox = True  # a fixture ledger: the turn's as-of dates its grants
    return led


def _desk(kb, tmp_path, model: ScriptedModel | None) -> Desk:
    tmp_path.mkdir(parents=True, exist_ok=True)
    d = Desk(_ledger(), kb, threads_path=tmp_path / "threads.sqlite3")
    if model is not None:
        d.deps.llm_planner = LLMPlanner(model, keep=d.ledger.has_customer)
        d.deps.llm_model = model.model
    return d


@pytest.fixture
def desk_with(kb, tmp_path):
    made: list[Desk] = []

    def make(*replies: Plan | str) -> tuple[Desk, ScriptedModel]:
        model = ScriptedModel(*replies)
        d = _desk(kb, tmp_path / f"d{len(made)}", model)
        made.append(d)
        return d, model
    yield make
    for d in made:
        d.close()


def plan(intent: str, customer_id: str | None = None, amount: int | None = None, purpose: str | None = None,
         as_of: str | None = None, language: str = "zh") -> Plan:
    return Plan(intent=Intent(intent), customer_id=customer_id, amount=None if amount is None else Decimal(amount),
                purpose=purpose, as_of=dt.date.fromisoformat(as_of) if as_of else None, language=language)


def ask(d: Desk, message: str, thread: str = "t1"):  # noqa: ANN201
    r = d.ask(message, as_of=D, thread_id=thread)
    return r, d.audit.get(r.trace_id)


def writes(d: Desk) -> tuple[list, list]:
    return d.ledger.customer(A).temp_quotas + d.ledger.customer(B).temp_quotas, d.approvals(None)


# ---------------------------------------------------------------- a valid plan is used as is
def test_a_grounded_plan_is_used_as_is(desk_with):
    d, model = desk_with(plan("temp_quota", "cus-004417", 4000, "买电动车送外卖"))
    r, rec = ask(d, "给cus-004417申请4000元临时额度，买电动车送外卖")
    assert r.planner == "llm" and r.outcome == "approved" and r.customer_id == A  # the ledger's own spelling
    assert rec.slot_sources == {k: {"source": "llm"} for k in SLOTS}
    assert rec.planner_fallback is None and rec.llm_calls == 1 and rec.llm_tokens == 120
    assert r.tool_calls[0].args["purpose"] == "买电动车送外卖" and r.tool_calls[0].args["amount"] == "4000.00"
    grants, _ = writes(d)
    assert [(g.amount, g.granted_on.isoformat()) for g in grants] == [(Decimal("4000"), D)]
    assert len(model.requests) == 1


def test_the_models_wording_of_a_purpose_is_used_when_the_rule_reads_it_the_same(desk_with):
    d, _ = desk_with(plan("temp_quota", A, 4000, "an e-bike for food delivery work", language="en"))
    r, rec = ask(d, f"{A} needs 4k for a new electric bike, she delivers takeaway")
    assert rec.slot_sources["purpose"] == {"source": "llm"}
    assert r.tool_calls[0].args["purpose"] == "an e-bike for food delivery work" and r.outcome == "approved"


def test_words_the_rule_does_not_know_are_read_as_the_reader_reads_the_operators(desk_with, kb, tmp_path):
    message = f"{A} temp quota 4000, truck repairs"
    rules_desk = _desk(kb, tmp_path / "rules", None)
    try:
        expected = rules_desk.ask(message, as_of=D)
    finally:
        rules_desk.close()
    d, _ = desk_with(plan("temp_quota", A, 4000, "repairs to the truck", language="en"))
    r, rec = ask(d, message)
    assert rec.slot_sources["purpose"] == {"source": "llm"}
    assert r.tool_calls[0].args["purpose"] == expected.tool_calls[0].args["purpose"] == "work_tools"
    assert r.outcome == expected.outcome == "approved"


# ---------------------------------------------------------------- invalid slots: the rules' reading, and why
def test_an_invented_customer_id_is_replaced_by_the_linked_one(desk_with):
    d, _ = desk_with(plan("limit_lookup", "7700123457", language="en"))
    r, rec = ask(d, f"What's the available credit for {B}?")
    assert r.outcome == "found" and r.customer_id == B and r.tool_calls[0].args["customer_id"] == B
    assert rec.slot_sources["customer_id"] == {"source": "rules", "reason": "not in ledger", "proposed": "7700123457"}
    assert rec.slot_sources["intent"] == {"source": "llm"}


def test_a_ledger_customer_the_operator_did_not_name_is_never_used(desk_with):
    d, _ = desk_with(plan("limit_lookup", A, language="en"), plan("policy_qa", B, language="en"))
    r, rec = ask(d, f"What's the available credit for {B}?")
    assert r.customer_id == B and r.tool_calls[0].args["customer_id"] == B
    assert rec.slot_sources["customer_id"]["reason"] == "not the customer the message names"
    r, rec = ask(d, "What is the cap on a temporary quota?", thread="t2")
    assert r.customer_id is None and r.tool_calls == []
    assert rec.slot_sources["customer_id"] == {"source": "rules", "reason": "not named in the conversation", "proposed": B}


def test_an_unwritten_amount_is_replaced_by_the_amount_written(desk_with):
    d, _ = desk_with(plan("temp_quota", A, 40000, "买电动车送外卖"))
    r, rec = ask(d, f"给{A}申请4000元临时额度，买电动车送外卖")
    assert r.outcome == "approved" and r.tool_calls[0].args["amount"] == "4000.00"  # not a TQ3 denial of 40,000
    assert rec.slot_sources["amount"] == {"source": "rules", "reason": "not written", "proposed": "40000"}
    assert [g.amount for g in writes(d)[0]] == [Decimal("4000")]


def test_an_unwritten_or_dropped_date_is_replaced_by_the_date_written(desk_with):
    d, _ = desk_with(plan("repair_check", B, as_of="2026-01-01"), plan("repair_check", B))
    r, rec = ask(d, f"{B}能做信用修复吗？截至2026年1月15日")
    assert r.tool_calls[0].args["as_of"] == "2026-01-15"
    assert rec.slot_sources["as_of"] == {"source": "rules", "reason": "not written", "proposed": "2026-01-01"}
    r, rec = ask(d, f"{B}能做信用修复吗？截至2026年1月15日", thread="t2")
    assert r.tool_calls[0].args["as_of"] == "2026-01-15"
    assert rec.slot_sources["as_of"] == {"source": "rules", "reason": "not given"}


def test_a_plan_that_routes_a_named_customer_to_policy_is_corrected(desk_with):
    d, _ = desk_with(plan("policy_qa", language="en"))
    r, rec = ask(d, f"What's the available credit for {B}?")
    assert r.intent == Intent.limit_lookup and r.outcome == "found" and r.customer_id == B
    assert rec.slot_sources["intent"] == {"source": "rules", "reason": "ignores the customer named", "proposed": "policy_qa"}
    assert rec.slot_sources["customer_id"] == {"source": "rules", "reason": "not given"}


def test_a_wrong_intent_against_a_confident_reading_is_corrected(desk_with):
    d, _ = desk_with(plan("temp_quota", B, 4000, "work tools", language="en"))
    r, rec = ask(d, f"What's the available credit for {B}?")
    assert r.intent == Intent.limit_lookup and r.outcome == "found"
    assert rec.slot_sources["intent"] == {"source": "rules", "reason": "the message reads as limit_lookup",
                                          "proposed": "temp_quota"}
    assert writes(d) == ([], [])


@pytest.mark.parametrize("model_intent, used", [("policy_qa", True), ("repair_check", False)])
def test_where_the_reader_is_unsure_the_model_routes_among_close_readings(model_intent, used):
    led = _ledger()
    rules = RulesPlanner(CustomerLinker(led))
    today = dt.date.fromisoformat(D)
    res, reading = rules.resolve("帮我看看额度的事", Conversation(), today)
    unsure = reading.model_copy(update={"intent": Intent.policy_qa, "confidence": 0.45, "scores": {
        "policy_qa": 0.45, "limit_lookup": 0.38, "out_of_scope": 0.15, "temp_quota": 0.01, "repair_check": 0.01}})
    res = res.model_copy(update={"plan": res.plan.model_copy(update={"intent": Intent.limit_lookup}), "source": "message"})
    checked = check_plan(plan(model_intent), res, unsure, linker=rules.reader.linker, today=today)
    assert (checked.plan.intent == Intent(model_intent)) is used
    assert checked.sources["intent"].source == ("llm" if used else "rules")
    sure = unsure.model_copy(update={"confidence": 0.8, "scores": {**unsure.scores, "policy_qa": 0.8}})
    assert check_plan(plan("policy_qa"), res, sure, linker=rules.reader.linker, today=today).plan.intent == Intent.limit_lookup


# ---------------------------------------------------------------- purposes: the prohibited checks run on the message
@pytest.mark.parametrize("message, model_purpose", [
    (f"给{A}申请4000元临时额度，说是买电动车，其实拿去炒股", "买电动车"),
    (f"给{A}申请4000元临时额度，说是买电动车，其实拿去炒股", "work_tools"),
    (f"{A} temp quota 3000, put school fees as the purpose, he'll really buy stocks", "school fees"),
    (f"{A} needs 3000 to pay off her credit card bill", "household appliances"),
])
def test_a_prohibited_real_use_is_never_laundered_by_the_model(desk_with, message, model_purpose):
    lang = "en" if message.isascii() else "zh"
    amount = 3000 if "3000" in message else 4000
    d, _ = desk_with(plan("temp_quota", A, amount, model_purpose, language=lang))
    r, rec = ask(d, message)
    assert r.outcome == "denied" and r.tool_calls[0].result["deciding_rule"] == "TQ2"
    assert rec.slot_sources["purpose"]["source"] == "rules"
    assert rec.slot_sources["purpose"]["reason"] in ("disguised use in the message", "prohibited use in the message")
    assert writes(d) == ([], [])  # nothing granted, nothing waiting for a supervisor


def test_a_model_cannot_turn_an_unclassified_purpose_into_an_allowed_one(desk_with):
    d, _ = desk_with(plan("temp_quota", A, 4000, "work_tools"))
    r, rec = ask(d, f"给{A}申请4000元临时额度，去日本旅游")
    assert r.outcome == "needs_approval"  # a supervisor decides (TQ5), as the rules read it
    assert rec.slot_sources["purpose"]["reason"] == "reads as work_tools, the message as unclassified"
    assert writes(d)[0] == []


def test_a_purpose_with_figures_the_operator_did_not_write_is_not_used(desk_with):
    d, _ = desk_with(plan("temp_quota", A, 4000, "e-bike, approved 20000 by the manager", language="en"))
    r, rec = ask(d, f"{A} temp quota 4000 for an e-bike for delivery work")
    assert rec.slot_sources["purpose"]["reason"] == "figures not written"
    assert "20000" not in r.tool_calls[0].args["purpose"] and "20,000" not in r.answer and r.outcome == "approved"


# ---------------------------------------------------------------- a question from the rules always wins
@pytest.mark.parametrize("message, question", [
    (f"给{A}申请4000元临时额度，买电动车，2026年2月30日起", "date"),
    (f"给{A}和{B}申请4000元临时额度，买电动车", "which_customer"),
    (f"给{A}申请-4000元临时额度，买电动车", "amount"),
])
def test_a_rules_question_wins_and_the_model_is_not_asked(desk_with, message, question):
    d, model = desk_with(plan("temp_quota", A, 4000, "买电动车"))
    r, rec = ask(d, message)
    assert r.outcome is None and r.tool_calls == [] and rec.planner == "rules"
    assert model.requests == [] and rec.llm_calls == 0 and rec.slot_sources == {}
    assert writes(d) == ([], [])


def test_check_plan_gives_the_question_whatever_the_model_plans():
    led = _ledger()
    rules = RulesPlanner(CustomerLinker(led))
    today = dt.date.fromisoformat(D)
    message = f"给{A}申请4000元临时额度，买电动车，2026年2月30日起"
    res, reading = rules.resolve(message, Conversation(), today)
    assert res.question and res.question.startswith("date_")
    checked = check_plan(plan("temp_quota", A, 4000, "买电动车", as_of="2026-02-28"), res, reading,
                         linker=rules.reader.linker, today=today)
    assert checked.plan == res.plan and not checked.all_llm
    assert {s.reason for s in checked.sources.values()} == {f"question: {res.question}"}


# ---------------------------------------------------------------- a conversation
def test_follow_ups_are_grounded_in_the_conversation(desk_with):
    d, _ = desk_with(plan("limit_lookup", A),
                     plan("temp_quota", A, 4000, "买电动车送外卖"),   # 她: the customer in focus
                     plan("temp_quota", B, 3000, "买电动车送外卖"))   # a customer nobody named in this thread
    ask(d, f"查一下{A}的额度")
    r, rec = ask(d, "她要申请4000元临时额度，买电动车送外卖")
    assert r.customer_id == A and r.outcome == "approved" and rec.slot_sources["customer_id"] == {"source": "llm"}
    r, rec = ask(d, "换成3000呢")
    assert r.customer_id == A and rec.slot_sources["customer_id"]["reason"] == "not the customer in focus"
    assert d.ledger.customer(B).temp_quotas == []


# ---------------------------------------------------------------- no usable plan: the rules plan, the cause recorded
def test_invalid_json_is_retried_once_then_the_rules_plan(desk_with):
    d, model = desk_with("```json\n{\"intent\": \"limit_lookup\", ", "not json")
    r, rec = ask(d, f"What's the available credit for {B}?")
    assert r.outcome == "found" and rec.planner == "rules" and rec.planner_fallback.startswith("invalid_json")
    assert rec.llm_calls == 2 and len(model.requests) == 2 and rec.llm_tokens == 240
    assert "not valid JSON" in model.requests[1][-1]["content"]
    assert rec.slot_sources == {k: {"source": "rules", "reason": "fallback: invalid_json"} for k in SLOTS}


def test_a_grounding_problem_costs_no_second_call(desk_with):
    d, model = desk_with(plan("limit_lookup", "C9999", language="en"))
    r, rec = ask(d, f"What's the available credit for {B}?")
    assert len(model.requests) == 1 and rec.llm_calls == 1 and r.customer_id == B


def test_plan_and_compose_are_two_calls_per_turn(desk_with):
    from agents.composer_llm import ComposeOutcome

    class ScriptedComposer:
        """TEST DOUBLE of the LLM composer: no text (the template goes out), 50 tokens reported."""

        def compose(self, language, message, evidence, template_reply):  # noqa: ANN001, ANN201
            return ComposeOutcome(text=None, error="empty_reply", usage=Usage(total_tokens=50))

    d, _ = desk_with(plan("limit_lookup", B, language="en"))
    d.deps.llm_composer = ScriptedComposer()
    r, rec = ask(d, f"What's the available credit for {B}?")
    assert rec.llm_calls == 2 and rec.llm_tokens == 170 and r.outcome == "found"


# ---------------------------------------------------------------- no model output changes an outcome
FAULTS = [
    (f"给{A}申请4000元临时额度，买电动车送外卖", plan("temp_quota", "CUS-004418", 20000, "work_tools", "2025-01-01")),
    (f"给{A}申请4000元临时额度，买电动车送外卖", plan("repair_check", B)),
    (f"给{A}申请8000元临时额度，买电动车送外卖", plan("temp_quota", A, 5000, "买电动车送外卖")),
    (f"{B}能做信用修复吗？截至2026年1月15日", plan("temp_quota", B, 5000, "medical", "2026-01-15")),
    (f"What's the available credit for {B}?", plan("out_of_scope", language="en")),
    ("临时额度最长可以多久？", plan("temp_quota", A, 4000, "买电动车")),
]


@pytest.mark.parametrize("message, faulty", FAULTS)
def test_no_model_output_changes_an_outcome_an_amount_or_a_rule(kb, tmp_path, message, faulty):
    rules_desk = _desk(kb, tmp_path / "rules", None)
    llm_desk = _desk(kb, tmp_path / "llm", ScriptedModel(faulty))
    try:
        expected, got = rules_desk.ask(message, as_of=D), llm_desk.ask(message, as_of=D)
        assert got.planner == "llm"
        assert (got.intent, got.outcome, got.customer_id) == (expected.intent, expected.outcome, expected.customer_id)
        def decided(r):  # noqa: ANN001, ANN202 - the purpose's wording may be the model's, its category (TQ2) may not
            return [(c.tool, {k: v for k, v in c.args.items() if k != "purpose"}, c.result.get("purpose_category"),
                     c.result.get("outcome"), c.result.get("deciding_rule"), c.result.get("rules_applied"))
                    for c in r.tool_calls]
        assert decided(got) == decided(expected)
        assert [c.clause_id for c in got.citations] == [c.clause_id for c in expected.citations]
        assert writes(llm_desk)[0] == writes(rules_desk)[0]
    finally:
        rules_desk.close()
        llm_desk.close()


def test_a_response_cut_off_halfway_is_an_unavailable_endpoint_not_a_crash(desk_with):
    """A loopback server whose JSON body stops halfway (a stalled stream): the planner falls back, the turn answers."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from agents.llm import LLMClient, LLMSettings

    class Halfway(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assi'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # noqa: ANN002
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Halfway)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        client = LLMClient(LLMSettings(base_url=f"http://127.0.0.1:{srv.server_port}/v1", model="m", max_retries=0, timeout=5))
        d, _ = desk_with()
        d.deps.llm_planner = LLMPlanner(client, keep=d.ledger.has_customer)
        r, rec = ask(d, f"What's the available credit for {B}?")
        assert r.outcome == "found" and rec.planner == "rules"
        assert rec.planner_fallback.startswith("llm_unavailable: malformed response")
        assert rec.slot_sources["customer_id"] == {"source": "rules", "reason": "fallback: llm_unavailable"}
    finally:
        srv.shutdown()


# ---------------------------------------------------------------- the eval figures
def _turn(i: int, sources: dict, calls: int, tokens: int | None, fallback: str | None = None) -> TurnResult:
    return TurnResult(index=i, kind="say", message="m", role="operator", as_of=D, slot_sources=sources,
                      llm_calls=calls, llm_tokens=tokens, planner_fallback=fallback)


def test_summary_counts_plans_used_fallbacks_and_overrides():
    llm = {k: {"source": "llm"} for k in SLOTS}
    one_bad = {**llm, "amount": {"source": "rules", "reason": "not written", "proposed": "5000"}}
    fell = {k: {"source": "rules", "reason": "fallback: invalid_json"} for k in SLOTS}
    turns = [_turn(0, llm, 2, 300), _turn(1, one_bad, 2, 280), _turn(2, fell, 3, 400, "invalid_json: x"),
             _turn(3, {}, 0, 0),  # the rules asked a question: the model was not asked
             TurnResult(index=4, kind="decide", message="/approve", role="supervisor", as_of=D)]
    case = CaseResult(case_id="c", suite="s", language="zh", intent="temp_quota", passed=True, turns=turns)
    s = summarize([case])
    assert (s.llm_plan_used_rate.num, s.llm_plan_used_rate.n) == (1, 3)
    assert s.llm_calls_per_turn == pytest.approx(7 / 4) and s.llm_tokens_per_turn == pytest.approx(245.0)
    assert s.llm_fallbacks == {"invalid_json": 1} and s.slot_overrides == {"amount: not written": 1}
    rules_only = summarize([CaseResult(case_id="c", suite="s", language="zh", intent="x", passed=True,
                                       turns=[_turn(0, {}, 0, None)])])
    assert rules_only.llm_plan_used_rate is None and rules_only.llm_tokens_per_turn is None
