"""Slot extraction shared by the rules planner, the LLM planner's grounding check and the guard.

Amounts ("4000元", "4千", "四千", "¥4,000", "4k", "1.5万"), dates ("2026年1月15日", "Jan 15 2026",
"2026-01-15"), customer ids ("C1001") and the message language. Pure functions, no clock.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from agents.datetext import absolute_dates

CUSTOMER_ID = re.compile(r"(?<![A-Za-z0-9])([Cc]\d{4,8})(?![0-9])")
# Rule ids (TQ1, R2), clause and approval ids (LENDER-TQ-TQ5, AP-1A2B): never amounts.
RULE_OR_CLAUSE_ID = re.compile(r"(?<![A-Za-z0-9])(?:(?:TQ|R)\d+|[A-Z][A-Z0-9]*-(?:[A-Z0-9]+-)*[A-Z0-9]+)(?![A-Za-z0-9])")

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万]+(?:元|块|塊)?")
_ARABIC_AMOUNT = re.compile(
    # a number glued to letters ("1e400", "x3") is not an amount; ¥/RMB/CNY prefixes and yuan/rmb suffixes are
    r"(?:(?:¥|￥|RMB|CNY)\s*|(?<![A-Za-z]))(?<![\d.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*([千万]|[kKwW](?![A-Za-z]))?"
    r"(?![\d%])(?!(?!yuan|rmb|cny)[A-Za-z])"
    r"(?!\s*(?:%|％|天|日|days?|day|个月|months?|年|years?|号|st\b|nd\b|rd\b|th\b))"
)


def detect_language(text: str) -> str:
    """'zh' when the message has any CJK ideograph, else 'en'."""
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


def extract_customer_ids(text: str) -> list[str]:
    seen: list[str] = []
    for m in CUSTOMER_ID.finditer(text):
        cid = m.group(1).upper()
        if cid not in seen:
            seen.append(cid)
    return seen


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
    """四千 -> 4000, 两万 -> 20000, 一万五 -> 15000, 三千五 -> 3500, 十 -> 10."""
    s = s.rstrip("元块塊")
    if not s or any(ch not in _CN_DIGITS and ch not in _CN_UNITS and ch != "万" for ch in s):
        return None

    def section(part: str, colloquial_unit: int) -> int | None:
        total, digit, last_unit = 0, None, None
        for ch in part:
            if ch in _CN_DIGITS:
                digit = _CN_DIGITS[ch]
            else:
                unit = _CN_UNITS[ch]
                total += (1 if digit is None else digit) * unit
                digit, last_unit = None, unit
        if digit is not None:
            # "三千五" = 3500: a trailing digit after a unit counts one unit lower.
            total += digit * (last_unit // 10 if last_unit else colloquial_unit)
        return total

    if "万" in s:
        hi, _, lo = s.partition("万")
        high = section(hi, 1) if hi else 1
        low = section(lo, 1000) if lo else 0  # 一万五 -> 15000
        if high is None or low is None:
            return None
        return high * 10000 + low
    return section(s, 1)


def _amount_spans(text: str) -> list[tuple[int, int, Decimal]]:
    blocked = [(s, e) for s, e, _ in _date_spans(text)]
    blocked += [(m.start(), m.end()) for m in CUSTOMER_ID.finditer(text)]
    blocked += [(m.start(), m.end()) for m in RULE_OR_CLAUSE_ID.finditer(text)]

    def free(s: int, e: int) -> bool:
        return all(e <= bs or s >= be for bs, be in blocked)

    spans = []
    for m in _ARABIC_AMOUNT.finditer(text):
        if not free(m.start(1), m.end()):
            continue
        try:
            value = Decimal(m.group(1).replace(",", "") + (m.group(2) or ""))
        except InvalidOperation:
            continue
        unit = (m.group(3) or "").lower()
        if unit in ("k", "千"):
            value *= 1000
        elif unit in ("w", "万"):
            value *= 10000
        spans.append((m.start(), m.end(), value.normalize() if value == value.to_integral() else value))
    for m in _CN_NUMBER.finditer(text):
        if len(m.group(0).rstrip("元块塊")) < 2 and not m.group(0)[-1:] in "元块塊":
            continue  # a lone 一 or 十 is a word, not an amount
        n = parse_chinese_number(m.group(0))
        if n and free(m.start(), m.end()):
            spans.append((m.start(), m.end(), Decimal(n)))
    spans.sort()
    return spans


def extract_amounts(text: str) -> list[Decimal]:
    """Every money-like amount in the text, in order, excluding dates, ids, percents, day counts."""
    out: list[Decimal] = []
    for _, _, v in _amount_spans(text):
        v = Decimal(int(v)) if v == v.to_integral_value() else v
        if v not in out:
            out.append(v)
    return out
