"""The compliance reviewer's instrument: every checkable claim in a reply against the evidence.

Claim types checked: money amounts and other figures, percentages, day counts, dates, customer
ids, approval ids, clause ids, rule ids, and outcomes (approved / needs approval / denied /
eligible / ...). Evidence: tool results, the text of the clauses retrieved or cited, and the
operator's own messages. Free-form statements without such tokens are NOT checked here.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Iterable

from agents.contract import GuardVerdict
from agents.evidence import rules_to_cite
from agents.linking import candidates, id_like
from agents.parsing import _date_spans, extract_amounts, extract_dates
from agents.policy_text import drifts

_ID = re.compile(r"(?<![A-Za-z0-9-])[A-Z][A-Z0-9]*-(?:[A-Z0-9]+-)*[A-Z0-9]+(?![A-Za-z0-9-])")
_RULE = re.compile(r"(?<![A-Za-z0-9-])(TQ[0-9]|R[0-9])(?![A-Za-z0-9-])")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|％|percent)")
_DAYS = re.compile(r"(\d+)\s*(?:days?|天|日(?!期))", re.I)
_NUMBER = re.compile(r"(?:¥|￥)?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*([千万元块]|yuan\b|[kKwW](?![A-Za-z]))?")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?!\s*\d{1,2}\s*月)")
_TIER = re.compile(r"(?:risk tier|tier|风险等级为?|等级)\s*([A-D])\b", re.I)
_CATEGORY = re.compile(r"\b(work_tools|education|medical|household|gambling|investment|real_estate|debt_repayment|cash_out)\b")
_STATUS = re.compile(r"\b(frozen|closed)\b|(冻结|关闭)", re.I)
_STATUS_ZH = {"冻结": "frozen", "关闭": "closed"}
# Free-text fields of stored records: shown as data, never evidence for figures or outcomes.
_FREE_TEXT_FIELDS = ("institution", "occupation")
# Text an operator or supervisor wrote (a purpose, a rejection reason): never evidence, and never skipped
# either. A reply shows it only inside a marked quote (agents/composer.quote_user) that the composer hands to
# `check` as `quoted`; the same words anywhere else in a reply are read as the system's claims.
_USER_TEXT_FIELDS = ("purpose", "reason")

# Outcome phrases, most specific first; each match is blanked before the next pattern runs.
_OUTCOME_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("needs_approval", re.compile(r"needs? (?:a |the )?supervisor'?s? approval|needs? approval|pending approval|awaiting approval|"
                                  r"requires? (?:a )?supervisor|待审批|待批准|需.{0,4}审批|等待.{0,4}审批", re.I)),
    ("partially_eligible", re.compile(r"partially eligible|部分符合", re.I)),
    ("eligible_if_repaid", re.compile(r"(?<!not )eligible if repaid|(?<!不)若于.{0,16}还清则符合", re.I)),
    ("ineligible", re.compile(r"\bineligible\b|not eligible|不符合|不满足", re.I)),
    ("denied", re.compile(r"\bden(?:ied|y|ial)\b|\bdeclined\b|\brejected\b|\brefused\b|拒绝|驳回|不予批准|未获批", re.I)),
    ("not_found", re.compile(r"not found|未找到|查无", re.I)),
    ("no_records", re.compile(r"no overdue records?|无逾期记录|没有逾期记录", re.I)),
    ("approved", re.compile(r"(?<!not )\b(?:approved|granted)\b|已批准|批准了|已发放|获批|自动批准|被.{0,16}?批准|(?<![需待未不予])批准", re.I)),
    ("eligible", re.compile(r"(?<!not )\beligible\b|(?<!不)符合", re.I)),
]
# Which tool outcomes make each phrase true.
_OUTCOME_SUPPORT = {
    "approved": {"approved"}, "needs_approval": {"needs_approval"}, "denied": {"denied", "rejected"},
    "not_found": {"not_found"}, "eligible": {"eligible"}, "partially_eligible": {"partially_eligible"},
    "eligible_if_repaid": {"eligible_if_repaid"}, "ineligible": {"ineligible"}, "no_records": {"no_records"},
}
_DISAGREE = re.compile(r"\bdisagree|不一致", re.I)
_DECIMAL_STR = re.compile(r"-?\d+\.\d{1,2}")
_RECORD_REF = re.compile(r"(?:record|记录)\s*(R\d+)", re.I)


@dataclass
class Scope:
    outcomes: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)


@dataclass
class Evidence:
    numbers: set[Decimal] = field(default_factory=set)
    percents: set[Decimal] = field(default_factory=set)
    days: set[int] = field(default_factory=set)
    dates: set[dt.date] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)
    outcomes: set[str] = field(default_factory=set)
    years: set[int] = field(default_factory=set)
    tiers: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    free_text: set[str] = field(default_factory=set)
    cited: set[str] = field(default_factory=set)  # clause ids given to the composer: a reply cites one
    customers: set[str] = field(default_factory=set)  # customer ids the tools spoke of, in any format
    written_amounts: set[Decimal] = field(default_factory=set)  # amounts the operator wrote, read exactly
    requested_amounts: set[Decimal] = field(default_factory=set)  # amounts a temporary quota was decided on
    strict_outcomes: bool = False
    # parameters applied that the clause given does not state (agents/policy_text.drifts): a reply citing such
    # a clause must say that text and parameter disagree
    drift: list[dict] = field(default_factory=list)
    # Claims on a line that names a customer or an overdue record must hold for that subject.
    by_customer: dict[str, "Scope"] = field(default_factory=dict)
    by_record: dict[str, "Scope"] = field(default_factory=dict)

    def add_text(self, text: str) -> None:
        facts = _text_facts(text)
        for name, values in facts.items():
            getattr(self, name).update(values)

    def add_value(self, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "customer_id" and isinstance(v, str) and v:
                    self.customers.add(v)
                    self.ids.add(v)
                    continue
                if k in _USER_TEXT_FIELDS and isinstance(v, str):
                    if _CATEGORY.fullmatch(v):  # a category the tools classified into is theirs
                        self.words.add(v)
                    continue
                if k in _FREE_TEXT_FIELDS and isinstance(v, str):
                    self.free_text.add(v)
                    if _CATEGORY.fullmatch(v):
                        self.words.add(v)
                    continue
                self.add_value(v)
        elif isinstance(value, list):
            for v in value:
                self.add_value(v)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, (int, float, Decimal)):
            self.numbers.add(_norm(Decimal(str(value))))
        elif isinstance(value, str):
            if _DECIMAL_STR.fullmatch(value):  # money crosses boundaries as a decimal string ("4000.00")
                self.numbers.add(_norm(Decimal(value)))
                return
            try:
                self.dates.add(dt.date.fromisoformat(value))
                return
            except ValueError:
                pass
            if _ID.fullmatch(value):
                self.ids.add(value)
            elif _CATEGORY.fullmatch(value) or value in ("active", "frozen", "closed"):
                self.words.add(value)
            elif m := re.fullmatch(r"(?:risk_tier_|account_)([a-d]|frozen|closed)", value):
                (self.tiers.add(m.group(1).upper()) if len(m.group(1)) == 1 else self.words.add(m.group(1)))


@lru_cache(maxsize=4096)
def _text_facts(text: str) -> dict[str, frozenset]:
    """What a text states (years, tiers, categories, percents, days, dates, amounts, ids, rules): parsed
    once per distinct text, since clause texts and operator messages repeat across turns."""
    years = {int(m.group(1)) for m in _YEAR.finditer(text)}
    years.update(int(n) for n in re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", text))
    tiers = {m.group(1).upper() for m in _TIER.finditer(text)}
    # lists of tiers in clause text: "A, B or C", "A、B、C"
    tiers.update(ch for grp in re.findall(r"\b([A-D](?:[、,，/ ]+(?:or |或)?[A-D])+)\b", text)
                 for ch in re.findall("[A-D]", grp))
    ids = {m.group(0) for m in _ID.finditer(text)}
    ids.update(tok for tok, _, _, cued in candidates(text) if id_like(tok, cued))
    return {"years": frozenset(years), "tiers": frozenset(tiers),
            "words": frozenset(m.group(1) for m in _CATEGORY.finditer(text)),
            "percents": frozenset(Decimal(m.group(1)) for m in _PERCENT.finditer(text)),
            "days": frozenset(int(m.group(1)) for m in _DAYS.finditer(text)),
            "dates": frozenset(extract_dates(text)), "numbers": frozenset(_numbers(text)), "ids": frozenset(ids),
            "rules": frozenset(m.group(1) for m in _RULE.finditer(text))}


@lru_cache(maxsize=4096)
def _day_spans(text: str) -> tuple[tuple[int, int, dt.date], ...]:
    """The full dates of a reply's line (agents.parsing._date_spans, a function of the text alone), read once
    per distinct line: replies repeat their lines (clause titles, outcomes) across turns."""
    return tuple(_date_spans(text))


def _norm(d: Decimal) -> Decimal:
    return Decimal(int(d)) if d == d.to_integral_value() else d.normalize()


def _numbers(text: str) -> set[Decimal]:
    return {_norm(a) for a in extract_amounts(text)}


def build_evidence(messages: Iterable[str], tool_results: list[dict], clauses: list[dict]) -> Evidence:
    ev = Evidence()
    for msg in messages:
        ev.add_text(msg)
        ev.written_amounts.update(_text_facts(msg)["numbers"])  # its amounts, normalised (parsed once per text)
    for r in tool_results:
        ev.add_value(r)
        ev.years.update(d.year for d in ev.dates)
        ev.rules.update(rules_to_cite(r))
        ev.outcomes.add(r.get("outcome") or "")
        cid = r.get("customer_id") or (r.get("approval") or {}).get("customer_id")
        if cid:
            scope = ev.by_customer.setdefault(cid, Scope())
            scope.outcomes.add(r.get("outcome") or "")
            if r.get("deciding_rule") == "TQ1":  # a TQ1 denial is an eligibility finding
                scope.outcomes.add("ineligible")
            scope.rules.update(rules_to_cite(r))
        for rec in r.get("records", []) or []:
            ev.outcomes.add(rec.get("status"))
            scope = ev.by_record.setdefault(rec["record_id"], Scope())
            scope.outcomes.add(rec["status"])
            scope.rules.update([rec["deciding_rule"]] if rec.get("deciding_rule") else ["R1", "R2", "R3"])
        if r.get("tool") == "temp_quota" and r.get("outcome") in ("approved", "needs_approval") and r.get("amount"):
            ev.requested_amounts.add(_norm(Decimal(str(r["amount"]))))
        g = r.get("grant") or {}
        if g.get("granted_on") and g.get("expires_on"):
            span = dt.date.fromisoformat(g["expires_on"]) - dt.date.fromisoformat(g["granted_on"])
            ev.days.add(span.days + 1)
    ev.strict_outcomes = bool(tool_results)
    ev.drift = drifts(tool_results, clauses)
    for d in ev.drift:  # both figures may be said, in the statement that they disagree
        for v in [d["value"], *d["clause_says"]]:
            ev.add_value(v if not re.fullmatch(r"\d+", v) else int(v))
            if re.fullmatch(r"\d+", v):
                ev.days.add(int(v))
    facts = (set(ev.tiers), set(ev.words))
    for c in clauses:
        ev.ids.add(c["clause_id"])
        ev.cited.add(c["clause_id"])
        ev.add_text(c.get("text", "") + "\n" + c.get("title", ""))
        if not tool_results:  # a policy answer may name the rules its clauses state
            ev.rules.update(m.group(1) for m in _RULE.finditer(c.get("text", "")))
    if tool_results:  # a customer's tier, status and purpose come from the tools, not from policy prose
        ev.tiers, ev.words = facts
    return ev


@dataclass
class Claim:
    kind: str
    text: str
    grounded: bool

    def label(self) -> str:
        return f"{self.kind}:{self.text}"


def extract_claims(reply: str, ev: Evidence, quoted: Iterable[str] = ()) -> list[Claim]:
    """Every claim of the reply. `quoted`: the operator text the composer quoted (each exactly as written in the
    reply, marks included); those spans are the operator's words and are not read. Nothing else is skipped:
    a draft's own quotation marks mean nothing here."""
    for q in sorted({q for q in quoted if len(q) >= 2}, key=len, reverse=True):
        while (i := reply.find(q)) >= 0:
            reply = _blank(reply, i, i + len(q))
    claims: list[Claim] = []
    for line in reply.splitlines() or [reply]:
        claims.extend(_line_claims(line, ev))
    return claims


def _blank(s: str, start: int, end: int) -> str:
    return s[:start] + " " * (end - start) + s[end:]


def _line_claims(text: str, ev: Evidence) -> list[Claim]:
    """Claims of one line. A line about one overdue record, or one customer, is held to that
    subject's outcome and rules; other lines to the union of the evidence."""
    claims: list[Claim] = []
    scope: Scope | None = None
    for value in sorted(ev.free_text, key=len, reverse=True):  # stored free text is data, not a claim
        if len(value) >= 2:
            while (i := text.find(value)) >= 0:
                text = _blank(text, i, i + len(value))
    for cid in sorted(ev.customers, key=len, reverse=True):  # customer ids of any format the tools returned
        for m in list(re.finditer(r"(?<![A-Za-z0-9_\-.])" + re.escape(cid) + r"(?![A-Za-z0-9_\-])", text, re.I)):
            claims.append(Claim("customer_id", cid, True))
            if scope is None and cid in ev.by_customer:
                scope = ev.by_customer[cid]
            text = _blank(text, m.start(), m.end())
    for m in list(_RECORD_REF.finditer(text)):
        rid = m.group(1).upper()
        claims.append(Claim("record_id", rid, rid in ev.by_record))
        scope = ev.by_record.get(rid, Scope())
        text = _blank(text, m.start(), m.end())
    for m in list(_ID.finditer(text)):
        tok = m.group(0)
        claims.append(Claim("id", tok, tok in ev.ids))
        text = _blank(text, m.start(), m.end())
    for tok, s, e, cued in candidates(text):  # anything else that reads as a customer id must be in evidence
        if id_like(tok, cued) and not _RULE.fullmatch(tok):
            known = tok in ev.ids or tok.upper() in ev.ids or tok.lower() in {i.lower() for i in ev.ids}
            claims.append(Claim("customer_id", tok, known))
            text = _blank(text, s, e)
    for m in list(_RULE.finditer(text)):
        tok = m.group(1)
        ok = tok in scope.rules if scope is not None and scope.rules else (tok in ev.rules or tok in ev.ids)
        claims.append(Claim("rule", tok, ok))
        text = _blank(text, m.start(), m.end())
    for s, e, d in _day_spans(text):
        claims.append(Claim("date", d.isoformat(), d in ev.dates))
        text = _blank(text, s, e)
    for m in list(_PERCENT.finditer(text)):
        v = Decimal(m.group(1))
        claims.append(Claim("percent", m.group(0).strip(), v in ev.percents))
        text = _blank(text, m.start(), m.end())
    for m in list(_DAYS.finditer(text)):
        v = int(m.group(1))
        claims.append(Claim("days", m.group(0).strip(), v in ev.days))
        text = _blank(text, m.start(), m.end())
    for m in list(_YEAR.finditer(text)):
        claims.append(Claim("year", m.group(0).strip(), int(m.group(1)) in ev.years))
        text = _blank(text, m.start(), m.end())
    for m in list(_TIER.finditer(text)):
        claims.append(Claim("tier", m.group(0).strip(), m.group(1).upper() in ev.tiers))
        text = _blank(text, m.start(), m.end())
    for m in list(_CATEGORY.finditer(text)):
        claims.append(Claim("category", m.group(1), m.group(1) in ev.words))
        text = _blank(text, m.start(), m.end())
    if ev.strict_outcomes:
        for m in list(_STATUS.finditer(text)):
            status = (m.group(1) or _STATUS_ZH[m.group(2)]).lower()
            claims.append(Claim("status", m.group(0), status in ev.words))
            text = _blank(text, m.start(), m.end())
    for m in _NUMBER.finditer(text):
        raw = m.group(0).strip()
        try:
            v = Decimal(m.group(1).replace(",", "") + (m.group(2) or ""))
        except InvalidOperation:
            continue
        unit = (m.group(3) or "").lower()
        v = v * 1000 if unit in ("k", "千") else v * 10000 if unit in ("万", "w") else v
        money = raw.startswith(("¥", "￥")) or unit in ("元", "yuan", "块")
        if v < 10 and not money and v == v.to_integral_value():
            continue  # list markers and small counts are not checked
        grounded = _norm(v) in ev.numbers or (not money and v == v.to_integral_value() and int(v) in ev.years)
        claims.append(Claim("amount" if money else "number", raw, grounded))
    allowed = scope.outcomes if scope is not None else ev.outcomes
    for outcome, pattern in _OUTCOME_PATTERNS:
        for m in list(pattern.finditer(text)):
            ok = bool(_OUTCOME_SUPPORT[outcome] & allowed) if ev.strict_outcomes else True
            claims.append(Claim("outcome", m.group(0), ok))
            text = _blank(text, m.start(), m.end())
    return claims


def omissions(reply: str, claims: list[Claim], ev: Evidence) -> list[str]:
    """What a reply must not leave out: a citation of one of the clauses it was given, each customer
    the tool results speak of, and each decision (approved / needs approval / denied / eligibility /
    not found). A reply that says nothing checkable is not grounded, it is empty."""
    missing = []
    said_ids = {c.text for c in claims if c.kind == "customer_id"}
    said = {c.text for c in claims if c.kind == "outcome"}
    if ev.cited and not any(c.kind == "id" and c.text in ev.cited for c in claims):
        missing.append("missing:citation")
    for amount in sorted(ev.requested_amounts - ev.written_amounts):  # granted (or sent for approval) as a number
        missing.append(f"granted_amount_not_written:{amount}")       # the operator never wrote
    for cid, scope in ev.by_customer.items():
        if cid not in said_ids:
            missing.append(f"missing:customer_id:{cid}")
        decisions = scope.outcomes - {"found", ""}
        if decisions and not any(_OUTCOME_SUPPORT[o] & decisions for o in _phrase_outcomes(said)):
            missing.append(f"missing:outcome:{'/'.join(sorted(decisions))}")
    return missing


def _phrase_outcomes(phrases: set[str]) -> set[str]:
    found = set()
    for phrase in phrases:
        for outcome, pattern in _OUTCOME_PATTERNS:
            if pattern.search(phrase):
                found.add(outcome)
                break
    return found


def check(reply: str, ev: Evidence, require_complete: bool = True,
          quoted: Iterable[str] = ()) -> tuple[GuardVerdict, list[Claim]]:
    """Every claim grounded and, for replies about tool results, nothing decisive left out. `quoted`: the
    quotes of operator text the composer wrote into this reply (never a draft's own quotes)."""
    claims = extract_claims(reply, ev, quoted)
    bad = [c.label() for c in claims if not c.grounded]
    cited = {c.text for c in claims if c.kind == "id"}
    if not _DISAGREE.search(reply):  # a clause quoted as support for a number it contradicts, silently
        bad += [f"silent_contradiction:{d['clause_id']}:{d['parameter']}" for d in ev.drift if d["clause_id"] in cited]
    if require_complete:
        bad += omissions(reply, claims, ev)
    return GuardVerdict(grounded=not bad, checked_claims=len(claims), ungrounded=bad), claims


def evidence_digest(ev: Evidence) -> str:
    """A stable text form of the evidence, for audit records."""
    return json.dumps({"numbers": sorted(map(str, ev.numbers)), "dates": sorted(map(str, ev.dates)),
                       "ids": sorted(ev.ids), "rules": sorted(ev.rules), "outcomes": sorted(o for o in ev.outcomes if o)},
                      ensure_ascii=False)
