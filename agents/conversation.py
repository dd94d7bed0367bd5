"""A conversation, not a string of single messages: the typed state a thread keeps between turns, and how a
new message is read against it.

State: the customer in focus, the request waiting for a slot the agent asked for, the last plan and the last
decision (its tool results). A new message may
- change one slot and keep the rest ("换成三千试试", "and for 2,500?", "按下个月1号算呢", "same for X");
- point at the customer in focus (她呢, 这个客户, "and her limit?", "what's left now?");
- ask why the last decision went as it did ("为什么？", "why not?") — answered from the stored decision;
- answer the agent's own question (a purpose, an amount, which customer), completing the waiting request;
- correct a slot ("不是这个，是…", "sorry, I meant …"), re-running the request with it;
- or start something new.
The state is stored with the thread (LangGraph checkpoint), so it survives a restart.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from agents.intents import cues
from agents.plan import Intent, Plan
from agents.reading import Reading, spelled_out

TOOL_INTENTS = (Intent.limit_lookup, Intent.temp_quota, Intent.repair_check)


class Conversation(BaseModel):
    focus: str | None = Field(default=None, description="The customer the conversation is about.")
    pending: Plan | None = Field(default=None, description="A request waiting for the slots the agent asked for.")
    asked: list[str] = Field(default_factory=list, description="The slots the agent asked for.")
    last_plan: Plan | None = None
    last_results: list[dict[str, Any]] = Field(default_factory=list, description="Tool results of the last decision.")


class Resolution(BaseModel):
    """A plan for this turn, or a question to ask instead of acting."""

    plan: Plan
    question: str | None = None          # code of the clarifying question (see agents/composer.clarify)
    question_args: dict[str, str] = Field(default_factory=dict)
    source: str = "message"              # message | follow_up | answer | correction | explain
    not_handled: list[str] = Field(default_factory=list, description="Other requests in the message, not acted on.")


def resolve(r: Reading, conv: Conversation, min_confidence: float = 0.3) -> Resolution:
    lang = r.language
    earlier = conv.pending or conv.last_plan
    if earlier is not None and not re.search(r"[A-Za-z]{2,}|[\u4e00-\u9fff]", r.words):
        lang = earlier.language  # a bare id or amount answers in the conversation's language
    words_cues = cues(r.text)
    prev = conv.last_plan
    as_of = r.day or (r.past_period.value if r.past_period else None)

    def plan(intent: Intent, **slots: Any) -> Plan:
        base = dict(intent=intent, customer_id=None, amount=None, purpose=None, as_of=as_of,
                    knowledge_queries=[spelled_out(r.text)] if intent == Intent.policy_qa else [], language=lang)
        base.update({k: v for k, v in slots.items()})
        return Plan(**base)

    def ask(code: str, intent: Intent, **args: str) -> Resolution:
        return Resolution(plan=plan(intent, customer_id=args.get("customer")), question=code, question_args=args)

    # 1. dates that do not exist, or that could be read two ways
    if (bad := r.date_problem) is not None:
        return ask("date_" + (bad.problem or "invalid"), r.intent, date=bad.raw)

    # 2. which customer
    named = r.customers
    customer: str | None = None
    if r.correction and named:
        customer = named[-1]                       # "不是C1，是C2": the last one named is meant
    elif len(named) > 1:
        if r.intent in (Intent.limit_lookup, Intent.repair_check) and not r.money:
            customer = named[0]
            return Resolution(plan=plan(r.intent, customer_id=customer), question="which_customer",
                              question_args={"customers": ", ".join(named)})
        return ask("which_customer", r.intent, customers=", ".join(named))
    elif named:
        customer = named[0]
    elif r.unknown_ids:
        customer = r.unknown_ids[0]                # the tools answer "not found"
    focus_ref = customer is None and conv.focus is not None and (
        r.pronoun or r.follow_up or r.correction or not words_cues["policy"] or conv.asked)

    # 3. "why?" about the last decision
    if r.why and conv.last_results and not named and not r.money and not words_cues["quota"]:
        return Resolution(plan=plan(Intent.explain, customer_id=conv.focus), source="explain")

    # 4. an answer to the agent's own question completes the waiting request
    if conv.pending is not None and conv.asked and (not named or "customer_id" in conv.asked or r.correction) \
            and not (r.intent in (Intent.repair_check, Intent.policy_qa) and r.confidence >= 0.6 and not r.money):
        p = conv.pending.model_copy(deep=True)
        filled = False
        if "customer_id" in conv.asked and customer:
            p.customer_id, filled = customer, True
        if "amount" in conv.asked and r.amount is not None:
            p.amount, filled = r.amount, True
        if "purpose" in conv.asked and (r.purpose.given or r.text.strip()):
            p.purpose, filled = r.purpose.for_tool() or r.text.strip(), True
        if filled:
            if r.amount is not None:
                p.amount = r.amount
            if r.day:
                p.as_of = r.day
            p.language = lang
            return _checked(r, p, "answer")

    own = r.intent if r.confidence >= min_confidence else None
    has_own_cue = words_cues["quota"] or words_cues["limit"] or words_cues["repair"] or \
        (words_cues["policy"] and not r.follow_up)

    # 5. a follow-up that changes some slots of the last request and keeps the rest
    if prev is not None and prev.intent in TOOL_INTENTS and not has_own_cue \
            and (r.follow_up or r.correction or len(r.text) <= 30 or r.pronoun) \
            and (customer or r.money or r.day or r.purpose.given or r.pronoun or r.correction):
        p = prev.model_copy(deep=True)
        p.language, p.knowledge_queries = lang, []
        if customer:
            p.customer_id = customer
        if r.money:
            p.amount = r.amount
        if r.day:
            p.as_of = r.day
        if r.purpose.category is not None and p.intent == Intent.temp_quota and r.purpose.for_tool():
            p.purpose = r.purpose.for_tool()
        return _checked(r, p, "correction" if r.correction else "follow_up")

    # 6. a request of its own
    ranked = sorted(r.scores.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[0][1] < LOW_CONFIDENCE and ranked[0][1] - ranked[1][1] < CLOSE_CALL \
            and ranked[1][0] != Intent.out_of_scope.value and ranked[0][0] != Intent.out_of_scope.value:
        # not sure what is asked: one question instead of a guess
        return ask("intent_unclear", Intent(ranked[0][0]), customer=customer or "",
                   options=f"{ranked[0][0]}|{ranked[1][0]}")
    intent = own or Intent.out_of_scope
    if intent in (Intent.policy_qa, Intent.out_of_scope) and r.money and words_cues["ask_for"] and not words_cues["policy"]:
        intent = Intent.temp_quota  # "approve 20,000 for everyone": a grant request, whoever it is for
    if intent == Intent.policy_qa and customer is None and (words_cues["limit"] or words_cues["repair"]) \
            and _CHECK.search(r.words) and not _QUESTION.search(r.words) and not r.money:
        # "帮我查一下额度", "I need to check someone's repair eligibility": a lookup that has not named the customer
        # yet; ask for them, and the request waits for the answer
        return Resolution(plan=plan(Intent.repair_check if words_cues["repair"] else Intent.limit_lookup))
    if intent in TOOL_INTENTS and customer is None and focus_ref:
        customer = conv.focus
    if intent == Intent.temp_quota and customer is None and not r.money and not words_cues["ask_for"] \
            and (words_cues["policy"] or words_cues["lookup"]):
        intent = Intent.policy_qa  # "can one get two temporary quotas at once?": about the rule, for nobody
        return Resolution(plan=plan(intent))
    if intent == Intent.temp_quota:
        p = plan(intent, customer_id=customer, amount=r.amount, purpose=r.purpose.for_tool())
        return _checked(r, p, "message")
    if intent in (Intent.limit_lookup, Intent.repair_check):
        if customer is None:
            # a question about limits or repair that names nobody is a question about the policy
            return Resolution(plan=plan(Intent.policy_qa))
        extra = [r.text] if Intent.policy_qa in r.also and words_cues["policy"] else []
        return Resolution(plan=plan(intent, customer_id=customer, knowledge_queries=extra),
                          not_handled=_other_requests(r, intent, words_cues))
    return Resolution(plan=plan(intent))


_CHECK = re.compile(r"帮我查|帮忙查|查一下|查查|查下|看一下|看看|\bcheck\b|\blook up\b|\bpull up\b|\brun a\b", re.I)
_QUESTION = re.compile(r"[?？吗呢]|什么|多少|几|哪|怎么|如何|是否|能否|可否|\b(?:how|what|which|when|why|can|could|does|do|is|are|will)\b",
                       re.I)
LOW_CONFIDENCE = 0.3
CLOSE_CALL = 0.05
_CUE_OF = {Intent.limit_lookup: "limit", Intent.temp_quota: "quota", Intent.repair_check: "repair"}


def _other_requests(r: Reading, intent: Intent, words_cues: dict[str, bool]) -> list[str]:
    """Other tool requests the message makes (scored and cued), which this turn does not act on."""
    return [i.value for i, cue in _CUE_OF.items()
            if i != intent and words_cues[cue] and r.scores.get(i.value, 0) >= 0.35
            and not (i == Intent.limit_lookup and intent == Intent.temp_quota)]


def _checked(r: Reading, p: Plan, source: str) -> Resolution:
    """A temporary-quota plan with a bad amount is a question, never a grant."""
    if p.intent == Intent.temp_quota and r.amount_problem:
        raw = next((a.raw for a in r.money if a.problem), ", ".join(a.raw for a in r.money))
        return Resolution(plan=p.model_copy(update={"amount": None}), question="amount_" + r.amount_problem,
                          question_args={"amount": raw}, source=source)
    return Resolution(plan=p, source=source)


def after_turn(conv: Conversation, plan: Plan, missing: list[str], results: list[dict[str, Any]]) -> Conversation:
    """The state after a turn: the focus moves to the customer acted on; a request missing slots waits."""
    c = conv.model_copy(deep=True)
    if plan.intent == Intent.explain:
        return c
    found = [x for x in results if x.get("outcome") != "not_found"]
    if plan.customer_id and (found or not results):
        c.focus = plan.customer_id
    if missing:
        c.pending, c.asked = plan, list(missing)
    else:
        c.pending, c.asked = None, []
    if plan.intent in TOOL_INTENTS and (results or not missing):
        c.last_plan = plan
    if results:
        c.last_results = results
    return c

