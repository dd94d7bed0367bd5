"""Is a policy parameter stated in a clause's text? The reading behind `riskdesk policy check` and behind the
guard's and composer's view of a decision whose clause says another number.

Figures are read the way the message reader reads an operator's words: money with agents/amounts.py (¥20,000,
2万, 20,000 yuan, 两万元), Chinese numerals with agents/numerals.py (三十天), dates with agents/datetext.py
(2026年3月31日, 31 March 2026). Day and year counts (30天, 30 days, 保存5年, five years), multiples (两倍, twice,
2 x) and risk-tier lists (A、B或C, A, B or C) are read here. Both languages of a clause are checked.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Iterable

from agents.amounts import find_amounts
from agents.datetext import absolute_dates
from agents.numerals import read_numeral

_CN = "零〇一二两三四五六七八九十百千万"
_EN_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_EN_WORDS.update({"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                  "ninety": 90, "hundred": 100})
_EN_NUM = r"(?:\d+|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|" \
          r"seven|eight|nine))?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|" \
          r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|(?:one |a )?hundred)"
_COUNT = rf"(?P<n>[0-9]+|[{_CN}]+|{_EN_NUM})"
_DAYS = re.compile(rf"(?<![0-9\-/年月第]){_COUNT}\s*(?:个)?(?:天|日(?![期])|(?:calendar )?days?\b)", re.I)
_YEARS = re.compile(rf"(?<![0-9]){_COUNT}\s*(?:个)?(?:年(?![0-9月度底初内末前后以]|[0-9]{{1,2}}月)|years?\b)", re.I)
_TIMES = re.compile(rf"{_COUNT}\s*倍|(?P<w>twice|double|triple)\b|(?P<x>[0-9]+(?:\.[0-9]+)?)\s*[x×*]\s", re.I)
_TIER_LIST = re.compile(r"(?<![A-Za-z0-9_-])([A-D](?:(?:\s*[、,，/]\s*(?:or |and |或|和|及)?|\s*(?:或|和|及)\s*|\s+(?:or|and)\s+)"
                        r"[A-D])*)(?![A-Za-z0-9_-])")
_TIER_CUE = re.compile(r"(?:tier|等级|级别|评级)[^。.;；]{0,6}$", re.I)


def _count(raw: str) -> int | None:
    raw = raw.strip().lower()
    if raw.isdigit():
        return int(raw)
    if raw in _EN_WORDS:
        return _EN_WORDS[raw]
    if m := re.fullmatch(r"([a-z]+)[- ]([a-z]+)", raw):
        a, b = _EN_WORDS.get(m.group(1)), _EN_WORDS.get(m.group(2))
        return a + b if a is not None and b is not None and a >= 20 and b < 10 else None
    if raw.endswith("hundred"):
        return 100
    v = read_numeral(raw)
    return int(v) if v is not None and v == v.to_integral_value() else None


@dataclass(frozen=True)
class Stated:
    """What one text states."""
    amounts: frozenset[Decimal]
    days: frozenset[int]
    years: frozenset[int]
    multiples: frozenset[Decimal]
    dates: frozenset[dt.date]
    tier_lists: frozenset[frozenset[str]]
    words: frozenset[str]


@lru_cache(maxsize=2048)
def stated(text: str) -> Stated:
    amounts = {m.value for m in find_amounts(text) if m.problem is None and m.value is not None}
    days = {n for m in _DAYS.finditer(text) if (n := _count(m.group("n"))) is not None}
    years = {n for m in _YEARS.finditer(text) if (n := _count(m.group("n"))) is not None and n < 1000}
    multiples = set()
    for m in _TIMES.finditer(text):
        if m.group("w"):
            multiples.add(Decimal({"twice": 2, "double": 2, "triple": 3}[m.group("w").lower()]))
        elif m.group("x"):
            multiples.add(Decimal(m.group("x")))
        elif (n := _count(m.group("n"))) is not None:
            multiples.add(Decimal(n))
    dates = {d.value for d in absolute_dates(text) if getattr(d, "value", None) and getattr(d, "kind", "day") == "day"}
    tiers = set()
    for m in _TIER_LIST.finditer(text):
        letters = frozenset(re.findall("[A-D]", m.group(1)))
        if len(letters) > 1 or _TIER_CUE.search(text[:m.start()]):
            tiers.add(letters)
    words = set(re.findall(r"[a-z_]+", text.lower()))
    return Stated(frozenset(amounts), frozenset(days), frozenset(years), frozenset(multiples), frozenset(dates),
                  frozenset(tiers), frozenset(words))


KIND = {"min_account_age_days": "days", "validity_days": "days", "ordinary_retention_years": "years",
        "eligible_tiers": "tiers", "auto_approval_tiers": "tiers", "allowed_purposes": "words",
        "prohibited_purposes": "words", "cap_multiplier": "multiple", "window_start": "date", "window_end": "date",
        "repay_by": "date", "early_repaid_by": "date", "early_hidden_from": "date"}


def plain(value: Any) -> str:
    """A parameter's value as a person reads it."""
    if isinstance(value, (tuple, list, set, frozenset)):
        return ", ".join(sorted(str(getattr(v, "value", v)) for v in value))
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    return str(value)


def states(parameter: str, value: Any, text: str) -> bool:
    """True when `text` states `value` for `parameter` (in any usual notation)."""
    s = stated(text)
    kind = KIND.get(parameter, "money")
    if kind == "days":
        return int(value) in s.days
    if kind == "years":
        return int(value) in s.years
    if kind == "date":
        return value in s.dates
    if kind == "tiers":
        return frozenset(getattr(t, "value", t) for t in value) in s.tier_lists
    if kind == "words":
        return all(getattr(p, "value", p) in s.words for p in value)
    if kind == "multiple":
        return Decimal(value) in s.multiples or Decimal(value) in s.amounts
    return Decimal(value) in s.amounts


def said(parameter: str, text: str) -> list[str]:
    """What the text says instead, for a report (the figures of the parameter's kind it does state)."""
    s = stated(text)
    kind = KIND.get(parameter, "money")
    found: Iterable[Any] = {"days": s.days, "years": s.years, "date": s.dates, "multiple": s.multiples | s.amounts,
                            "tiers": [plain(t) for t in s.tier_lists], "words": []}.get(kind, s.amounts)
    return sorted(plain(v) for v in found)


def drifts(results: list[dict], clauses: list[dict]) -> list[dict]:
    """Parameters a decision rested on whose clause, as given (`clauses`: clause_id and text), states another value
    than the one applied (a contradiction, not an omission: a cited excerpt may leave a figure out): one entry per
    (parameter, clause), with the version, the value and what the clause says. `riskdesk policy check` is
    stricter: there the clause's full text must state the value."""
    from agents.evidence import rules_to_cite
    from tools.policy import PARAMETER_RULES, in_force
    from tools.rules import result_day

    texts = {c["clause_id"]: c.get("text", "") for c in clauses if c.get("clause_id")}
    out: list[dict] = []
    for r in results:
        day = result_day(r)
        if not day or r.get("outcome") == "not_found":
            continue
        v = in_force(dt.date.fromisoformat(str(day)[:10]))
        for rule in rules_to_cite(r):
            for p, owner in PARAMETER_RULES.items():
                cid = v.clause_for(p) if owner == rule else None
                if cid is None or cid not in texts or states(p, v.value(p), texts[cid]):
                    continue
                says = said(p, texts[cid])
                if not says:  # the text at hand (often an excerpt) states no other value: silent, not contradicting
                    continue
                d = {"parameter": p, "version": v.id, "clause_id": cid, "value": plain(v.value(p)),
                     "clause_says": says}
                if d not in out:
                    out.append(d)
    return out
