"""The LLM's plan checked slot by slot against the deterministic reading: the model proposes, the ledger and the
rules dispose.

    checked = check_plan(proposed, resolution, reading, conv, linker=linker, earlier=["C7 的额度"], today=today)
    checked.plan        # the plan the tools act on: every slot grounded
    checked.sources     # slot -> SlotSource(source="llm" | "rules", reason="not in ledger", proposed="X-9")

Each slot of the model's plan is used when it is grounded, and replaced by the deterministic reading (the rules
planner's Resolution, or the Reading of the message) when it is not, with the reason recorded:

    intent       the model's (for `tool`, only with the name of an installed tool of the lender's in `tool`: an
                 unknown or missing name is refused), unless it routes a message that names a customer away from the tools ("ignores the
                 customer named"), asks to explain when nothing was decided, or disagrees with a reading the rules
                 are sure of (a confident intent of the message, or a follow-up, an answer, a correction or a
                 "why?" read against the conversation). Where the rules are unsure (confidence below INTENT_SURE),
                 the model routes among the intents the reader scores close to its best (within INTENT_MARGIN), or
                 to a lender's tool it names (the reader scores no such tool: its own words route before the model).
    customer_id  links to a ledger customer (the rules planner's linker, any id format) named in the conversation:
                 in this message, in an earlier operator message, or the customer in focus. When the rules
                 found the customer, the model must name the same one (a different customer is a wrong customer,
                 never a choice). An id the operator wrote that the ledger does not hold may be copied as
                 written, when the rules use the same one: the tools answer "not found".
    amount       one the reader found in the conversation (Decimal equality); the rules' amount when they have one.
    as_of        a date written (the reader's dates, relative ones as the reader resolved them, or carried by the
                 conversation); the rules' date when they have one.
    purpose      the model's words, judged as the rules would judge them: used when the temporary-quota rule
                 (TQ2) puts them in the same category as the rules' purpose (words the rule's vocabulary does not
                 know are read as the reader reads the operator's, agents/purpose_reading.py, and the tool gets
                 the category they read as, exactly as the rules planner hands its own). The prohibited checks
                 run on the message: when the reader finds a prohibited or disguised real use, the model's words
                 are used only if the rule reads them as that same real use, else the reader's purpose goes to the
                 tool.
                 Every figure in the model's words must be one the operator wrote (a purpose is quoted back).

A slot the model leaves empty is "not given" and the rules' value is used; that is no fault when the route
never uses the slot (USED_BY) or the date left out is the turn's own day.

A clarifying question from the rules (an invalid date, a bad amount, two customers, an unclear intent) always
wins: the whole plan is the rules'. The language is always the detected one (the rules'), and knowledge queries
are the rules' whenever the rules route the same way (a model's rephrasings only search where the model routed).
No model output can change an outcome, an amount granted or a rule cited: the tools decide from this plan.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.amounts import find_amounts
from agents.conversation import Conversation, Resolution
from agents.datetext import find_dates
from agents.linking import CustomerLinker, fold
from agents.parsing import RULE_OR_CLAUSE_ID, detect_language
from agents.plan import Intent, Plan, ToolPlan
from agents.purpose_reading import read_purpose
from agents.reading import Reading
from tools.purpose import PROHIBITED, classify_purpose

SLOTS = ("intent", "customer_id", "amount", "as_of", "purpose")
# the slots each route acts on (the others are carried, never used by a tool)
USED_BY = {Intent.limit_lookup: ("customer_id", "as_of"), Intent.repair_check: ("customer_id", "as_of"),
           Intent.temp_quota: ("customer_id", "amount", "purpose", "as_of"), Intent.policy_qa: ("as_of",),
           Intent.explain: (), Intent.out_of_scope: ()}
TOOL_INTENTS = {Intent.limit_lookup, Intent.temp_quota, Intent.repair_check}
INTENT_SURE = 0.5          # the reader's confidence from which its own intent wins a disagreement
INTENT_MARGIN = 0.15       # below it, the model's intent must score within this of the reader's best
MAX_PURPOSE_CHARS = 200
_FIGURES = re.compile(r"\d+(?:[.,]\d+)*|[零〇一二三四五六七八九十百千万亿两]{2,}|[十百千万亿两]")


class SlotSource(BaseModel):
    source: Literal["llm", "rules"]
    reason: str | None = Field(default=None, description="Why the rules' value was used, e.g. 'not in ledger'.")
    proposed: str | None = Field(default=None, description="The model's value, when it was not used.")


class CheckedPlan(BaseModel):
    plan: Plan
    sources: dict[str, SlotSource]
    queries_from: Literal["llm", "rules"] = Field(
        default="rules", description="Whose knowledge queries the plan carries (the model's only where it routed).")

    @property
    def all_llm(self) -> bool:
        return all(s.source == "llm" for s in self.sources.values())

    def overrides(self) -> list[str]:
        """'slot: reason' for every slot the rules won."""
        return [f"{k}: {s.reason}" for k, s in self.sources.items() if s.source == "rules"]

    def sources_json(self) -> dict[str, dict[str, Any]]:
        return {k: s.model_dump(exclude_none=True) for k, s in self.sources.items()}


def rules_sources(reason: str) -> dict[str, dict[str, Any]]:
    """Every slot from the rules, for one reason (the model gave no usable plan: 'fallback: invalid_json ...')."""
    return {k: {"source": "rules", "reason": reason} for k in SLOTS}


class Written(BaseModel):
    """What the operator wrote in earlier messages of the conversation: ledger customers, amounts, dates."""

    texts: list[str] = Field(default_factory=list)
    customers: set[str] = Field(default_factory=set)
    amounts: set[Decimal] = Field(default_factory=set)
    dates: set[dt.date] = Field(default_factory=set)


def written_in(texts: Sequence[str], today: dt.date, linker: CustomerLinker | None) -> Written:
    """The slots the reader finds in these messages (the same finders as agents/reading.py, without intents)."""
    out = Written(texts=list(texts))
    for text in texts:
        mentions = linker.link(text) if linker is not None else []
        out.customers.update(m.customer_id for m in mentions if m.customer_id)
        dates = find_dates(text, today, detect_language(text))
        out.dates.update(d.value for d in dates if d.value is not None and not d.problem)
        blocked = [(m.start, m.end) for m in mentions] + [(d.start, d.end) for d in dates]
        blocked += [(m.start(), m.end()) for m in RULE_OR_CLAUSE_ID.finditer(fold(text))]
        out.amounts.update(a.value for a in find_amounts(text, blocked)
                           if a.value is not None and not a.problem and (a.currency or abs(a.value) >= 100))
    return out


def check_plan(proposed: Plan, resolution: Resolution, reading: Reading, conv: Conversation | None = None, *,
               linker: CustomerLinker | None, earlier: Sequence[str] = (), today: dt.date) -> CheckedPlan:
    """The plan the tools act on: the model's slots where grounded, the deterministic reading's elsewhere."""
    return _Check(proposed, resolution, reading, conv or Conversation(), linker,
                  written_in(earlier, today, linker), today).run()


class _Check:
    def __init__(self, proposed: Plan, resolution: Resolution, reading: Reading, conv: Conversation,
                 linker: CustomerLinker | None, earlier: Written, today: dt.date) -> None:
        self.m, self.res, self.r, self.conv, self.linker, self.earlier = proposed, resolution, reading, conv, linker, earlier
        self.today, self.intent = today, resolution.plan.intent
        self.rules = resolution.plan
        self.sources: dict[str, SlotSource] = {}
        carried = [p for p in (conv.pending, conv.last_plan) if p is not None]
        self.carried_amounts = {p.amount for p in carried if p.amount is not None}
        self.carried_dates = {p.as_of for p in carried if p.as_of is not None}

    def run(self) -> CheckedPlan:
        if self.res.question:  # a clarifying question from the rules always wins
            why = f"question: {self.res.question}"
            return CheckedPlan(plan=self.rules, sources={k: SlotSource(source="rules", reason=why,
                                                                       proposed=_show(getattr(self.m, k)))
                                                         for k in SLOTS})
        self.intent = intent = self._slot("intent", self.m.intent, self._intent())
        same_route = intent == self.rules.intent
        slots = {
            "customer_id": self._slot("customer_id", self.m.customer_id, self._customer(same_route)),
            "amount": self._slot("amount", self.m.amount, self._amount(same_route)),
            "as_of": self._slot("as_of", self.m.as_of, self._as_of(same_route)),
            "purpose": self._slot("purpose", self.m.purpose, self._purpose(intent, same_route)),
        }
        own = not same_route and intent == Intent.policy_qa
        queries = [q for q in self.m.knowledge_queries if q.strip()] if own else \
            self.rules.knowledge_queries if same_route else []
        kind: type[Plan] = Plan
        if intent == Intent.tool and _installed():  # the tool the model named, checked with the intent (_unknown_tool)
            self.sources["tool"] = SlotSource(source="llm")
            slots["tool"], kind = getattr(self.m, "tool", None), ToolPlan
        plan = kind(intent=intent, knowledge_queries=queries, language=self.rules.language, **slots)
        return CheckedPlan(plan=plan, sources=self.sources, queries_from="llm" if own else "rules")

    def _slot(self, name: str, model_value: Any, verdict: tuple[Any, Any, str | None]) -> Any:
        """verdict: (value to use, rules' value, reason the model's value is not used or None)."""
        value, rules_value, reason = verdict
        if reason == "not given" and (name not in USED_BY.get(self.intent, ()) or
                                      (name == "as_of" and rules_value == self.today)):
            reason = None  # leaving out what the route does not use, or today's date, changes nothing
            value = rules_value
        if reason is None:
            self.sources[name] = SlotSource(source="llm")
            return value
        self.sources[name] = SlotSource(source="rules", reason=reason, proposed=_show(model_value))
        return rules_value

    # ---- intent
    def _intent(self) -> tuple[Intent, Intent, str | None]:
        m, rules, r = self.m.intent, self.rules.intent, self.r
        own_tool = m == Intent.tool and _installed()  # without one, `tool` goes the way it always went
        if own_tool and (why := _unknown_tool(getattr(self.m, "tool", None))):
            return m, rules, why
        if m == rules:
            return m, rules, None
        named = r.customers or r.unknown_ids or (self.rules.customer_id and rules in TOOL_INTENTS)
        if m not in TOOL_INTENTS and not own_tool and rules in TOOL_INTENTS and named:
            return m, rules, "ignores the customer named"
        if m == Intent.explain and not self.conv.last_results:
            return m, rules, "nothing decided to explain"
        if self.res.source != "message":  # a follow-up, an answer, a correction or a "why?" read in the conversation
            return m, rules, f"the conversation reads as {rules.value}"
        if r.confidence >= INTENT_SURE or (not own_tool  # the reader scores riskdesk's own intents only
                                           and r.confidence - r.scores.get(m.value, 0.0) > INTENT_MARGIN):
            return m, rules, f"the message reads as {rules.value}"
        return m, rules, None

    # ---- customer
    def _customer(self, same_route: bool) -> tuple[str | None, str | None, str | None]:
        rules = self.rules.customer_id
        if rules is None and not same_route and len(self.r.customers) == 1:
            rules = self.r.customers[0]  # the model routed elsewhere: the customer the message names
        m = (self.m.customer_id or "").strip()
        if not m:
            return None, rules, None if rules is None else "not given"
        linked = self.linker.lookup([fold(m)]).get(fold(m).lower()) if self.linker is not None else None
        if linked is None:
            written = {t.lower(): t for t in self.r.unknown_ids}
            if rules is not None and written.get(fold(m).lower()) == rules:
                return rules, rules, None  # the id the operator wrote, as the rules read it: the tools answer
            return None, rules, "not in ledger"
        if rules is not None:
            return linked, rules, None if linked == rules else (
                "not the customer the message names" if self.r.customers else "not the customer in focus")
        named = set(self.r.customers) | self.earlier.customers | {c for c in (self.conv.focus,) if c}
        return linked, rules, None if linked in named else "not named in the conversation"

    # ---- amount
    def _amount(self, same_route: bool) -> tuple[Decimal | None, Decimal | None, str | None]:
        rules = self.rules.amount if same_route or self.rules.amount is not None else self.r.amount
        m = self.m.amount
        if m is None:
            return None, rules, None if rules is None else "not given"
        if not m.is_finite():
            return None, rules, "not written"
        here = {a.value for a in self.r.money if a.value is not None and not a.problem}
        written = m in here or m in self.earlier.amounts or m in self.carried_amounts
        if rules is not None:
            return rules, rules, None if m == rules else "not the amount of this request" if written else "not written"
        return (m, rules, None) if written else (None, rules, "not written")

    # ---- as_of
    def _as_of(self, same_route: bool) -> tuple[dt.date | None, dt.date | None, str | None]:
        rules = self.rules.as_of
        if rules is None and not same_route:
            rules = self.r.day or (self.r.past_period.value if self.r.past_period else None)
        m = self.m.as_of
        if m is None:
            return None, rules, None if rules is None else "not given"
        here = {d.value for d in self.r.dates if d.value is not None and not d.problem}
        written = m in here or m in self.earlier.dates or m in self.carried_dates
        if rules is not None:
            return rules, rules, None if m == rules else "not the date of this request" if written else "not written"
        return (m, rules, None) if written else (None, rules, "not written")

    # ---- purpose
    def _purpose(self, intent: Intent, same_route: bool) -> tuple[str | None, str | None, str | None]:
        pr = self.r.purpose
        rules = self.rules.purpose
        if rules is None and intent == Intent.temp_quota and self.rules.intent != Intent.temp_quota:
            rules = pr.for_tool()  # the model routed to a quota the rules did not: the reader's purpose
        m = (self.m.purpose or "").strip() or None
        if intent == Intent.temp_quota and (pr.category in PROHIBITED or pr.disguised):
            # the prohibited checks run on the message, whatever the model read: only the real use will do
            if m is not None and len(m) <= MAX_PURPOSE_CHARS and self._figures_written(m) \
                    and classify_purpose(m) == pr.category:
                return m, rules, None
            return None, rules, "disguised use in the message" if pr.disguised else "prohibited use in the message"
        if m is None:
            return None, rules, None if rules is None else "not given"
        if rules is None:
            return None, rules, "no purpose in the message"
        if len(m) > MAX_PURPOSE_CHARS:
            return None, rules, "too long"
        if not self._figures_written(m):
            return None, rules, "figures not written"
        value, mine, theirs = m, classify_purpose(m), classify_purpose(rules)
        if mine is None:  # the rule's words do not know it: read it as the reader reads the operator's words
            value = read_purpose(m).for_tool() or m
            mine = classify_purpose(value)
        if mine != theirs:
            return None, rules, f"reads as {_cat(mine)}, the message as {_cat(theirs)}"
        return value, rules, None

    def _figures_written(self, text: str) -> bool:
        """Every figure in the text (digits, Chinese numerals) is written in the conversation: a purpose is quoted
        back in replies, so it may carry no number the operator did not write."""
        written = set(_FIGURES.findall(_fold("\n".join([self.r.text, *self.earlier.texts]))))
        return all(f in written for f in _FIGURES.findall(_fold(text)))


def _installed() -> bool:
    from tools.registry import plugins
    return bool(plugins())


def _unknown_tool(name: str | None) -> str | None:
    """Why the model's `tool` intent cannot stand: no tool named, or a name no installed tool of the lender's has."""
    from tools.registry import plugins
    if not name:
        return "no tool named"
    return None if name in plugins() else f"unknown tool {name[:40]!r}"


def _cat(c: Any) -> str:
    return c.value if c is not None else "unclassified"


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).casefold()


def _show(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, Intent):
        return v.value
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)[:80]
