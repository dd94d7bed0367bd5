"""The reading of one operator message: one home, one typed output.

    reading = Reader(linker).read("给cus-004417申请四千块临额，给他妈看病", today=date(2026, 11, 23))
    reading.customers == ["CUS-004417"]; reading.amount == Decimal("4000"); reading.purpose.category == "medical"

What a message says — the customers it names (linked to the ledger, any id format), amounts (read exactly or
flagged), dates (valid, invalid, ambiguous, or a past period), the intent with a confidence, the purpose with
its stated and real use, and the conversational signals (a pronoun, "why?", a correction) — and nothing
about what to do with it. The rules planner decides from it; the LLM planner's proposals are checked against
it. Rule categories (TQ2) stay in tools/purpose.py.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from agents.amounts import find_amounts
from agents.datetext import find_dates
from agents.intent_model import predict
from agents.intents import cues, score_intents
from agents.linking import CustomerLinker, fold
from agents.parsing import RULE_OR_CLAUSE_ID, detect_language
from agents.plan import Intent
from agents.purpose_reading import PurposeReading, read_purpose

# The customer already in focus, by pronoun or demonstrative.
_PRONOUN = re.compile(r"[他她]|这个客户|这位客户|该客户|此客户|这位|这个人|同一个客户|\b(?:he|she|him|her|his|hers|they|them|their|"
                      r"this (?:customer|client|one|guy|lady)|that (?:customer|client|one)|same (?:customer|client|one))\b", re.I)
_WHY = re.compile(r"为什么|为啥|为何|怎么会|凭什么|什么原因|原因是|理由|\bwhy\b|\bhow come\b|what(?:'s| is| was) the reason|\breason\b", re.I)
_CORRECTION = re.compile(r"不是(?:这个|这位|他|她)?[，,]?\s*(?:是|应该是)|搞错了|弄错了|说错了|打错了|更正|改成|改为|"
                         r"\bsorry,? i meant\b|\bi meant\b|\bcorrection\b|\bnot .{1,20}, (?:but|it's)\b|\bactually it's\b|\bmy mistake\b", re.I)
_FOLLOW_UP = re.compile(r"^\s*(?:and |what about|how about|same for|same thing for|then |also |now |那|那么|还有|再|换成|换|改成|现在|"
                        r"如果|要是|按|用)|呢\s*[?？]?\s*$|试试\s*[?？]?\s*$|\binstead\b|\bnow\s*[?？]?\s*$|现在|这会儿|"
                        r"\bleft\s*[?？]?\s*$|\bagain\b", re.I)


MODEL_WEIGHT = 0.5  # share of the embedding classifier in the intent score (chosen on the dev split)


# Operators' shorthand, spelled out for the knowledge base (the words of the policy text).
_SHORTHAND = [(re.compile(p, re.I), full) for p, full in [
    (r"临额", "临时额度"), (r"\btemp\b|\btmp\b", "temporary"), (r"\bacct\b", "account"), (r"\bcust\b", "customer"),
    (r"\bavail\b", "available"), (r"\bpls\b|\bplz\b", "please"), (r"\bthe most\b", "the maximum"),
    (r"\bmax\b", "maximum"), (r"\bmin\b", "minimum"), (r"\bTQ\b", "temporary quota"),
    # a question about a duration asks for a validity period
    (r"(能用|可以用|有效)?(多久|多长时间)", r"\g<0>（有效期）"), (r"\bhow long\b", "how long (validity period)")]]


def spelled_out(text: str) -> str:
    """The message with operators' shorthand spelled out: what a policy question is searched with."""
    for pattern, full in _SHORTHAND:
        text = pattern.sub(full, text)
    return text


class AmountReading(BaseModel):
    value: Decimal | None
    raw: str
    currency: bool
    problem: str | None = None


class DateReading(BaseModel):
    value: dt.date | None
    raw: str
    problem: str | None = None
    kind: str = "day"
    old_rule: bool = False


class Reading(BaseModel):
    """Everything one message says, typed. No decision."""

    text: str
    words: str = Field(description="The message with customer ids, dates and amounts taken out.")
    language: str
    customers: list[str] = Field(default_factory=list, description="Ledger customer ids named, in order.")
    unknown_ids: list[str] = Field(default_factory=list, description="Id-like tokens the ledger does not hold.")
    pronoun: bool = False
    amounts: list[AmountReading] = Field(default_factory=list)
    dates: list[DateReading] = Field(default_factory=list)
    intent: Intent
    confidence: float
    also: list[Intent] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    purpose: PurposeReading
    why: bool = False
    correction: bool = False
    follow_up: bool = False

    # ---- conveniences for the planners
    @property
    def money(self) -> list[AmountReading]:
        """Mentions that are money: marked as money, or a bare number of at least 100 (a count such as 2 or
        3笔 is not money; the amount reader already leaves out days, percents, ids and dates)."""
        return [a for a in self.amounts if a.currency or a.problem or (a.value is not None and abs(a.value) >= 100)]

    @property
    def amount(self) -> Decimal | None:
        good = [a for a in self.money if a.problem is None and a.value is not None]
        return good[0].value if len(good) == 1 and not self.amount_problem else None

    @property
    def amount_problem(self) -> str | None:
        bad = [a for a in self.money if a.problem]
        if bad:
            return bad[0].problem
        good = {a.value for a in self.money if a.value is not None}
        return "several" if len(good) > 1 else None

    @property
    def day(self) -> dt.date | None:
        days = [d for d in self.dates if d.problem is None and d.value is not None and d.kind != "period"]
        written = [d for d in days if d.kind != "relative"]  # "假设今天是2027年1月1日": the written date is meant
        return (written or days)[0].value if days else None

    @property
    def date_problem(self) -> DateReading | None:
        return next((d for d in self.dates if d.problem), None)

    @property
    def past_period(self) -> DateReading | None:
        return next((d for d in self.dates if d.kind == "period" and d.problem is None), None)


class Reader:
    """Reads messages against one ledger (for customer ids) and a date for relative dates."""

    def __init__(self, linker: CustomerLinker | None):
        self.linker = linker

    def read(self, message: str, today: dt.date, focus: str | None = None) -> Reading:
        text = fold(message)
        language = detect_language(message)
        mentions = self.linker.link(message) if self.linker is not None else []
        customers = list(dict.fromkeys(m.customer_id for m in mentions if m.customer_id))
        unknown = list(dict.fromkeys(m.token for m in mentions if m.customer_id is None))
        dates = find_dates(message, today, language)
        blocked = [(m.start, m.end) for m in mentions] + [(d.start, d.end) for d in dates]
        blocked += [(m.start(), m.end()) for m in RULE_OR_CLAUSE_ID.finditer(text)]
        amounts = find_amounts(message, blocked)
        # what is left once ids, dates and amounts are taken out: the words that carry intent and purpose
        spans = sorted(blocked + [(a.start, a.end) for a in amounts])
        words = _without(text, spans)
        purpose = read_purpose(words)
        pronoun = bool(_PRONOUN.search(words)) and not customers
        follow_up = bool(_FOLLOW_UP.search(words))
        # a customer in focus counts as named when the message points at them
        about_someone = bool(customers or unknown) or (focus is not None and (pronoun or follow_up))
        has_amount = any(a.currency or a.problem or (a.value is not None and abs(a.value) >= 100) for a in amounts)
        scores = score_intents(words, has_customer=about_someone,
                               has_amount=has_amount, has_purpose=purpose.category is not None)
        probs = predict(words, {**cues(words), "has_customer": about_someone, "has_amount": has_amount,
                                "has_purpose": purpose.given})
        if probs:  # the classifier learned phrasing; the signals know the slots: both count
            scores = {k: (1 - MODEL_WEIGHT) * v + MODEL_WEIGHT * probs.get(k, 0.0) for k, v in scores.items()}
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        intent, conf = Intent(ranked[0][0]), ranked[0][1]
        also = [Intent(k) for k, v in ranked[1:] if v >= 0.5 and k not in (Intent.out_of_scope.value,)]
        return Reading(
            text=message, words=words, language=language, customers=customers, unknown_ids=unknown,
            pronoun=pronoun,
            amounts=[AmountReading(value=a.value, raw=a.raw, currency=a.currency, problem=a.problem) for a in amounts],
            dates=[DateReading(value=d.value, raw=d.raw, problem=d.problem, kind=d.kind,
                               old_rule=bool(getattr(d, "old_rule", False))) for d in dates],
            intent=intent, confidence=round(conf, 3), also=also, scores={k: round(v, 3) for k, v in scores.items()},
            purpose=purpose, why=bool(_WHY.search(words)) and len(words.strip()) <= 40,
            correction=bool(_CORRECTION.search(words)), follow_up=follow_up,
        )


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with the given spans replaced by a space (ids, dates and amounts are slots, not words)."""
    out, pos = [], 0
    for s, e in spans:
        if s >= pos:
            out.append(text[pos:s])
            out.append(" ")
            pos = e
        elif e > pos:
            pos = e
    out.append(text[pos:])
    return re.sub(r"[ \t]+", " ", "".join(out)).strip()


def describe(reading: Reading) -> dict[str, Any]:
    """A compact view for audit records and eval results."""
    return {"customers": reading.customers, "unknown_ids": reading.unknown_ids, "amount": str(reading.amount) if reading.amount else None,
            "amount_problem": reading.amount_problem, "as_of": reading.day.isoformat() if reading.day else None,
            "intent": reading.intent.value, "confidence": reading.confidence, "also": [i.value for i in reading.also],
            "purpose": reading.purpose.model_dump(mode="json")}
