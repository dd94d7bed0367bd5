"""Slot extraction shared by the rules planner, the LLM planner's grounding check and the guard.

Amounts ("4000元", "4千", "四千", "¥4,000", "4k", "1.5万"), dates ("2026年1月15日", "Jan 15 2026",
"2026-01-15"), id-shaped tokens of any format and the message language. Pure functions, no clock.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from agents.amounts import valid_amounts
from agents.datetext import absolute_dates
from agents.linking import candidates, id_like
from agents.numerals import read_chinese_number

# Rule ids (TQ1, R2), clause and approval ids (LENDER-TQ-TQ5, AP-1A2B): never amounts.
RULE_OR_CLAUSE_ID = re.compile(r"(?<![A-Za-z0-9])(?:(?:TQ|R)\d+|[A-Z][A-Z0-9]*-(?:[A-Z0-9]+-)*[A-Z0-9]+)(?![A-Za-z0-9])")

def detect_language(text: str) -> str:
    """'zh' when the message has any CJK ideograph, else 'en'."""
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


def id_spans(text: str) -> list[tuple[int, int]]:
    """Spans of tokens shaped like an id of any format (letters and digits mixed, a long digit run, a token after
    客户号 / acct ...): never amounts. Which ones are customers is the ledger's say (agents.linking)."""
    return [(s, e) for tok, s, e, cued in candidates(text) if id_like(tok, cued)]


def extract_customer_ids(text: str) -> list[str]:
    """Id-shaped tokens as written, in order (any format; the ledger decides which are customers)."""
    return list(dict.fromkeys(tok for tok, _, _, cued in candidates(text) if id_like(tok, cued)))


def _date_spans(text: str) -> list[tuple[int, int, dt.date]]:
    """Days written in full (no today needed), valid ones only: the guard's and the planners' date claims.
    Relative days, year-less days, periods, invalid and ambiguous dates: see agents.datetext.find_dates."""
    return [(d.start, d.end, d.value) for d in absolute_dates(text)
            if d.kind == "day" and d.problem is None and d.value is not None]


def extract_dates(text: str) -> list[dt.date]:
    out: list[dt.date] = []
    for _, _, d in _date_spans(text):
        if d not in out:
            out.append(d)
    return out


def parse_chinese_number(s: str) -> int | None:
    """四千 -> 4000, 两千零八 -> 2008, 一万五 -> 15000, 三千五 -> 3500, 十 -> 10; a trailing 元/块 is ignored.
    None when malformed or ambiguous (agents.numerals)."""
    return read_chinese_number(s.rstrip("元块塊"))


def _amount_blocked(text: str) -> list[tuple[int, int]]:
    """Dates, customer ids, rule and clause ids: never amounts."""
    blocked = [(s, e) for s, e, _ in _date_spans(text)]
    blocked += id_spans(text)
    blocked += [(m.start(), m.end()) for m in RULE_OR_CLAUSE_ID.finditer(text)]
    return blocked


def extract_amounts(text: str) -> list[Decimal]:
    """Every valid amount in the text, in order, each once (agents.amounts.find_amounts): dates, ids, percents,
    day counts are not amounts; negative, zero, malformed and ambiguous amounts are left out."""
    return valid_amounts(text, _amount_blocked(text))
