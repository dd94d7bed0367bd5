"""The LLM planner: the model proposes a Plan, pydantic validates it; agents/plan_check.py grounds it slot by slot.

When an LLM is configured it is the primary planner. The model only routes: its plan is checked against the
deterministic reading of the conversation (agents/plan_check.py: customer ids linked to the ledger, amounts and
dates the operator wrote, the prohibited-purpose checks on the message), slot by slot, and the tools decide
from the checked plan.

One call per turn. The only retry (MAX_ATTEMPTS) is for a reply that is not a plan at all: invalid JSON or a
schema violation gets one corrective message. If that fails too, or the endpoint is unavailable, the outcome
has plan=None and a fallback_reason ("invalid_json: ...", "schema_violation: ...", "llm_unavailable: ..."); the
graph then plans with the rules planner and records the reason.

Everything sent to the model is masked first (ID numbers, phones, and any known names); the ledger's customer
ids are kept. The request body is deterministic (agents/llm.py), so recorded cassettes replay byte for byte.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agents.llm import LLMClient, LLMUnavailable, Usage, dumps
from agents.parsing import detect_language, extract_amounts, extract_customer_ids, extract_dates
from agents.plan import Intent, Plan, plan_model
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
- explain: the operator asks why the last decision in this conversation went as it did (为什么, why).
- out_of_scope: anything else.

Rules:
- customer_id: the customer's id exactly as the operator wrote it (any format), only if the operator wrote one \
or points at the customer of the earlier conversation (他, 她, this customer); otherwise null.
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
    """A whole-plan check against the conversation text alone, for callers without a ledger: None when every
    filled slot is grounded, else the first reason. The desk checks slot by slot instead (agents/plan_check.py)."""
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
                reply = self.client.structured(msgs, plan_model())  # Plan, unless a lender's tool is installed
            except LLMUnavailable as e:
                outcome.fallback_reason = f"llm_unavailable: {e}"
                return outcome
            outcome.raw.append(reply.raw)
            outcome.usage = outcome.usage + reply.usage
            plan = reply.value
            reason = reply.error  # not a plan at all; whether its slots are grounded is plan_check's question
            if plan is not None:
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
    }.get(kind, "")
    return (f"Your previous reply was rejected ({reason}). {hint} "
            "Reply again with one JSON object for the operator's message only.").replace("  ", " ")
