"""The LLM planner: the model proposes a Plan, pydantic validates it, grounding checks it.

The model only routes. A plan is accepted when it validates against agents.plan.Plan and every
slot it fills is grounded in what the operator actually wrote:

    customer_id  must appear (case-insensitively) in the conversation text
    amount       must be one of agents.parsing.extract_amounts(conversation)
    as_of        must be one of agents.parsing.extract_dates(conversation)

and a tool route is complete: limit_lookup / temp_quota / repair_check carry the customer id when
the operator wrote one, and temp_quota carries the amount when the operator wrote one.

A rejected reply gets one corrective retry. If that fails too, the outcome has plan=None and a
fallback_reason ("invalid_json: ...", "schema_violation: ...", "ungrounded_customer_id:C9999",
"ungrounded_amount:5000", "ungrounded_as_of:2026-01-01", "missing_customer_id", "missing_amount",
"llm_unavailable: ..."); the graph then
plans with the rules planner and records the reason.

Everything sent to the model is masked first (ID numbers, phones, and any known names).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agents.llm import LLMClient, LLMUnavailable, Usage, dumps
from agents.parsing import detect_language, extract_amounts, extract_customer_ids, extract_dates
from agents.plan import Intent, Plan
from tools.privacy import Keep, mask_text

MAX_ATTEMPTS = 2
TOOL_INTENTS = {Intent.limit_lookup, Intent.temp_quota, Intent.repair_check}

SYSTEM_PROMPT = """You are the planner of a consumer-credit risk desk. You do not decide anything: you only \
read the operator's message (Chinese or English) and say which route serves it, as one JSON object.

intent:
- limit_lookup: the operator asks about a customer's credit limit, available or used credit (额度, 可用额度).
- temp_quota: the operator asks to grant or check a temporary quota for a customer (临时额度), usually with an amount.
- repair_check: the operator asks whether a customer's overdue record can be repaired (信用修复, 逾期).
- policy_qa: a general policy question with no customer (政策, 规定, 利率, 上限).
- out_of_scope: anything else.

Rules:
- customer_id: copy it exactly as written (like C1001), only if the operator wrote one; otherwise null.
- amount: the amount in yuan the operator wrote (4千 = 4000, 1.5万 = 15000), otherwise null. Never invent one.
- as_of: a date the operator wrote, as YYYY-MM-DD, otherwise null.
- purpose: the stated purpose in the operator's words, otherwise null.
- knowledge_queries: short policy questions to look up, for policy_qa; otherwise [].
- language: "zh" if the message is Chinese, "en" if English."""

# Few-shot pairs: (operator message, plan). Kept in code so a change shows up in the cassettes.
EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("What's the available credit for C2001?",
     {"intent": "limit_lookup", "customer_id": "C2001", "amount": None, "purpose": None, "as_of": None,
      "knowledge_queries": [], "language": "en"}),
    ("客户C3002申请临时额度3000元，用于装修",
     {"intent": "temp_quota", "customer_id": "C3002", "amount": 3000, "purpose": "装修", "as_of": None,
      "knowledge_queries": [], "language": "zh"}),
    ("综合融资成本的上限是多少？",
     {"intent": "policy_qa", "customer_id": None, "amount": None, "purpose": None, "as_of": None,
      "knowledge_queries": ["综合融资成本上限"], "language": "zh"}),
]


@dataclass
class PlannerOutcome:
    plan: Plan | None
    fallback_reason: str | None = None
    attempts: int = 0
    raw: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    notes: list[str] = field(default_factory=list)


def conversation_text(message: str, history: Sequence[tuple[str, str]] = ()) -> str:
    """All operator-visible text of the conversation: what grounding checks against."""
    return "\n".join([text for _, text in history] + [message])


def check_grounding(plan: Plan, conversation: str, message: str = "") -> str | None:
    """None when every filled slot is grounded in the conversation, else the first reason."""
    # A message that names a customer asks about that customer: a policy or out-of-scope route ignores it.
    if plan.intent not in TOOL_INTENTS and extract_customer_ids(message):
        return "intent_ignores_customer_id"
    if plan.customer_id is not None and plan.customer_id.strip().lower() not in conversation.lower():
        return f"ungrounded_customer_id:{plan.customer_id}"
    if plan.customer_id is not None and not plan.customer_id.strip():
        return "ungrounded_customer_id:"
    if plan.amount is not None and Decimal(plan.amount) not in extract_amounts(conversation):
        return f"ungrounded_amount:{plan.amount}"
    if plan.as_of is not None and plan.as_of not in extract_dates(conversation):
        return f"ungrounded_as_of:{plan.as_of.isoformat()}"
    # Completeness: a tool route without the id the operator did write would run the wrong lookup.
    if plan.intent in TOOL_INTENTS and plan.customer_id is None and extract_customer_ids(conversation):
        return "missing_customer_id"
    if plan.intent == Intent.temp_quota and plan.amount is None and extract_amounts(conversation):
        return "missing_amount"
    return None


class LLMPlanner:
    name = "llm"

    def __init__(self, client: LLMClient, *, names: Sequence[str] = (), keep: Keep | None = None) -> None:
        self.client = client
        self.names = tuple(names)
        self.keep = keep  # tokens never masked: the ledger's customer ids, whatever they look like

    def messages(self, message: str, history: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
        msgs: list[dict[str, str]] = [{"role": "system", "content": SYSTEM_PROMPT}]
        for text, plan in EXAMPLES:
            msgs.append({"role": "user", "content": text})
            msgs.append({"role": "assistant", "content": dumps(plan)})
        masked = mask_text(message, self.names, self.keep)
        if history:
            lines = "\n".join(f"{role}: {mask_text(text, self.names, self.keep)}" for role, text in history)
            masked = f"Earlier in this conversation:\n{lines}\n\nCurrent message:\n{masked}"
        msgs.append({"role": "user", "content": masked})
        return msgs

    def plan(self, message: str, history: Sequence[tuple[str, str]] = ()) -> PlannerOutcome:
        history = list(history)
        conversation = conversation_text(message, history)
        msgs = self.messages(message, history)
        outcome = PlannerOutcome(plan=None)
        reason: str | None = None
        for _ in range(MAX_ATTEMPTS):
            outcome.attempts += 1
            try:
                reply = self.client.structured(msgs, Plan)
            except LLMUnavailable as e:
                outcome.fallback_reason = f"llm_unavailable: {e}"
                return outcome
            outcome.raw.append(reply.raw)
            outcome.usage = outcome.usage + reply.usage
            plan = reply.value
            reason = reply.error if plan is None else check_grounding(plan, conversation, message)
            if reason is None:
                outcome.plan = self._normalise(plan, message, conversation, outcome.notes)
                return outcome
            msgs = msgs + [
                {"role": "assistant", "content": reply.raw},
                {"role": "user", "content": _correction(reason)},
            ]
        outcome.fallback_reason = reason
        return outcome

    @staticmethod
    def _normalise(plan: Plan, message: str, conversation: str, notes: list[str]) -> Plan:
        """Deterministic clean-ups that never add information: the id in the operator's canonical
        form, and the language detected from the message (the model's guess is not trusted)."""
        update: dict[str, Any] = {}
        if plan.customer_id is not None:
            written = {t.lower(): t for t in extract_customer_ids(conversation)}
            canonical = written.get(plan.customer_id.strip().lower())
            if canonical is not None and canonical != plan.customer_id:
                update["customer_id"] = canonical
        language = detect_language(message)
        if plan.language != language:
            notes.append(f"language_corrected:{plan.language}->{language}")
            update["language"] = language
        return plan.model_copy(update=update) if update else plan


def _correction(reason: str) -> str:
    kind = reason.split(":", 1)[0]
    hint = {
        "invalid_json": "It was not valid JSON.",
        "schema_violation": "It did not match the schema.",
        "ungrounded_customer_id": "It names a customer id the operator did not write; use null or the id as written.",
        "ungrounded_amount": "It has an amount the operator did not write; use null or the amount as written.",
        "ungrounded_as_of": "It has a date the operator did not write; use null or the date as written.",
        "missing_customer_id": "The operator wrote a customer id; put it in customer_id exactly as written.",
        "missing_amount": "The operator wrote an amount; put it in amount as a number in yuan.",
    }.get(kind, "")
    return (f"Your previous reply was rejected ({reason}). {hint} "
            "Reply again with one JSON object for the operator's message only.").replace("  ", " ")
