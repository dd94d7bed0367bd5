"""Dates written in an operator's message, in Chinese or English, read against a `today` the caller passes.

`find_dates(text, today, language)` returns every date mention with its span:

- days: `2026年1月15日`/`号`, `二〇二六年一月十五日`, `2026-01-15`, `2026/1/15`, `2026.1.15`, `15/01/2026`, `15-01-2026`,
  `Jan 15, 2026`, `January 15th 2026`, `15 January 2026`, `15-Jan-2026`, `2026年底`; with the year omitted
  (`1月15日`, `Jan 15`, `截至1/15`) the year of `today`. Full-width digits and separators read like ASCII.
- numeric day/month order: the first number above 12 is the day, the second above 12 is the day; when both
  are <= 12 a Chinese message reads month/day, an English one is `ambiguous` (both readings in
  `alternatives`) unless the two readings are the same day. `20260115` is read only right after a marker
  (`按20260115算`, "as of 20260115"); two-digit years are not read.
- relative days: 今天/明天/后天/昨天/前天, today/tomorrow/yesterday, 下个月1号 / "the 1st of next month",
  月底/下月底/年底 / "end of this month", N天后/N天前 / "in N days"/"N days ago", 下周一/本周五/上周日 (calendar
  weeks from Monday), "next/this/last Monday" (`ambiguous` when the weekday of the next/this/last calendar
  week and the nearest such weekday differ). Month arithmetic ("in 2 months") is not read: it has no exact day.
- past periods: `2024年的时候` / "in 2024" / "back in 2024" (the year; `value` = its last day), "before 2026" /
  `2026年以前` (open start; `value` = 2025-12-31), 去年/前年 / "last year". "under the old rule" / 旧规 /
  以前的规定 / "the old cap": `old_rule=True`, `value` None; the caller resolves it against the policy versions.
- markers written right before a date ("as of / as at / at / on / dated / 截至 / 截止 / 截止到 / 按 / 以…为准")
  are kept in `marker`; they never change the value. A date that bounds something ("before / by / until /
  after / since X", "X前 / X以后 / X起") has `bound` set: it is a limit, not the day the question is about.

A calendar date that does not exist (`2026-02-30`, `2026年13月45日`, `31/04/2026`) or lies outside
EARLIEST..LATEST is a mention with `problem="invalid"` and `value` None, never skipped. Nothing here reads
the clock.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict

from tools.dates import EARLIEST, LATEST

Kind = Literal["day", "period", "relative"]
Problem = Literal["invalid", "ambiguous"]


class DateMention(BaseModel):
    """One date written in a message; `start`/`end` index the original text."""
    model_config = ConfigDict(frozen=True)

    value: dt.date | None
    start: int
    end: int
    raw: str
    problem: Problem | None = None
    kind: Kind = "day"
    period_start: dt.date | None = None   # None with a period_end: open start ("before 2026")
    period_end: dt.date | None = None
    old_rule: bool = False
    form: str                              # the notation read: cn, ymd, dmy (15/01/2026), mdy (1/15/2026, zh 3/4/2026),
                                           # numeric (ambiguous), month-name, relative, year, before-year, old-rule, ...
    marker: str | None = None              # "as of", "截至", "以…为准", ... written right before the date
    bound: Literal["before", "after"] | None = None  # "before/by/until X", "X前", "since X", "X以后": a limit
    alternatives: tuple[dt.date, ...] = ()  # the readings of an ambiguous date
    detail: str | None = None              # why a date is invalid: "no such day" or "out of range"
    needs_today: bool = False              # the value depends on `today` (relative, or year omitted)


# ---- reading ---------------------------------------------------------------------------------------------

# Full-width ASCII forms (０-９, ／, －, ．, Ａ-Ｚ, ...) and the ideographic space read as ASCII; same length.
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_CN_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_NUM = r"(\d{1,2}|[一二三四五六七八九十]{1,3})"
_YEAR = r"(\d{4}|[〇零一二三四五六七八九]{4})"
_MONTHS = {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_MON = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
        r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![A-Za-z])\.?")
_ORD = r"(?:st|nd|rd|th)?"
_WEEKDAYS_EN = {w: i for i, w in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])}
_WEEKDAY_ZH = {c: i for i, c in enumerate("一二三四五六日")} | {"天": 6}
_MARKER = re.compile(r"(?:(?<![A-Za-z])(as\s+at|as\s+of|at|on|dated)|(截至|截止到|截止至|截止|按照|按|以|于|在))"
                     r"\s*[:：]?\s*$", re.I)
_STRONG_MARKERS = ("as at", "as of", "dated", "截至", "截止到", "截止至", "截止", "以…为准")
# A date that bounds something ("repaid before 2026-03-31", "2026年3月31日前还清", "since ...") is not the day asked about.
_BOUND_EN = re.compile(r"(?<![A-Za-z])(before|by|until|till|prior\s+to|no\s+later\s+than|after|since|from)\s*$", re.I)
_BOUND_ZH = re.compile(r"\s*(以前|之前|以后|之后|前|后|起)")


def _int(s: str) -> int | None:
    """'15', '十五', '三十一', '二〇二六' -> int; None for a malformed numeral."""
    if s.isascii():
        return int(s)
    if "十" not in s:
        return int("".join(str(_CN_DIGIT[c]) for c in s)) if all(c in _CN_DIGIT for c in s) else None
    tens, _, ones = s.partition("十")
    if len(tens) > 1 or len(ones) > 1 or (tens and tens not in _CN_DIGIT) or (ones and ones not in _CN_DIGIT):
        return None
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)


def _day(y: int | None, m: int | None, d: int | None) -> tuple[dt.date | None, str | None]:
    if y is None or m is None or d is None:
        return None, "no such day"
    try:
        value = dt.date(y, m, d)
    except ValueError:
        # a real month and day in a year the calendar cannot hold (0, 10000): out of range, else no such day
        ok_md = not 1 <= y <= 9999 and 1 <= m <= 12 and 1 <= d <= calendar.monthrange(2000, m)[1]
        return None, ("out of range" if ok_md else "no such day")
    return (value, None) if EARLIEST <= value <= LATEST else (None, "out of range")


def _shift(base: dt.date, days: int) -> tuple[dt.date | None, str | None]:
    try:
        value = base + dt.timedelta(days=days)
    except OverflowError:
        return None, "out of range"
    return (value, None) if EARLIEST <= value <= LATEST else (None, "out of range")


def _month(today: dt.date, offset: int) -> tuple[int, int]:
    n = today.year * 12 + today.month - 1 + offset
    return n // 12, n % 12 + 1


def _month_end(y: int | None, m: int | None) -> tuple[dt.date | None, str | None]:
    if y is None or m is None or not 1 <= m <= 12:
        return None, "no such day"
    return _day(y, m, calendar.monthrange(y, m)[1]) if 1 <= y <= 9999 else (None, "out of range")


def _day_result(value: dt.date | None, detail: str | None, form: str, kind: Kind = "day", **extra) -> dict:
    return {"value": value, "problem": "invalid" if detail else None, "detail": detail, "form": form, "kind": kind, **extra}


def _numeric(a: int, b: int, y: int, language: str, year_written: bool, **extra) -> dict:
    """Two day/month numbers in either order: the one above 12 is the day; both <= 12: zh month/day, en ambiguous."""
    dmy, mdy = ("dmy", "mdy") if year_written else ("dm", "md")
    if a > 12 and b > 12:
        return _day_result(None, "no such day", dmy, **extra)
    if a > 12:
        return _day_result(*_day(y, b, a), dmy, **extra)
    if b > 12 or language == "zh" or a == b:
        return _day_result(*_day(y, a, b), mdy, **extra)
    (day_first, e1), (month_first, e2) = _day(y, b, a), _day(y, a, b)
    if e1 or e2:
        return _day_result(None, e1 or e2, "numeric", **extra)
    return {"value": None, "problem": "ambiguous", "alternatives": (day_first, month_first), "form": "numeric",
            "kind": "day", **extra}


def _period(y_from: int | None, y_to: int, form: str, **extra) -> dict:
    start = _day(y_from, 1, 1)[0] if y_from is not None else None
    end, detail = _day(y_to, 12, 31)
    if detail or (y_from is not None and start is None):
        return _day_result(None, detail or "out of range", form, kind="period", **extra)
    return {"value": end, "kind": "period", "period_start": start, "period_end": end, "form": form, **extra}


def _weekday(today: dt.date, word: str, w: int) -> dict:
    """next/this/last <weekday>: exact when the calendar-week reading and the nearest-day reading agree."""
    t, monday = today.weekday(), today - dt.timedelta(days=today.weekday())
    word = word.lower()
    if word == "coming":
        return _day_result(*_shift(today, (w - t - 1) % 7 + 1), "weekday", "relative")
    week = {"next": 7, "last": -7, "this": 0}[word]
    calendar_day = monday + dt.timedelta(days=week + w)
    nearest = {"next": today + dt.timedelta(days=(w - t - 1) % 7 + 1),
               "last": today - dt.timedelta(days=(t - w - 1) % 7 + 1),
               "this": calendar_day if w >= t else today + dt.timedelta(days=(w - t) % 7)}[word]
    if nearest == calendar_day:
        return _day_result(*_shift(calendar_day, 0), "weekday", "relative")
    return {"value": None, "problem": "ambiguous", "alternatives": tuple(sorted((calendar_day, nearest))),
            "form": "weekday", "kind": "relative"}


_MONTH_ZH = {"下月": 1, "下个月": 1, "次月": 1, "上月": -1, "上个月": -1, "本月": 0, "这月": 0, "这个月": 0, "当月": 0}
_MONTH_EN = {"next": 1, "following": 1, "this": 0, "current": 0, "last": -1, "previous": -1, None: 0}
_DAYS_ZH = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3, "昨天": -1, "昨日": -1, "前天": -2, "大前天": -3}
_YEARS_ZH = {"今": 0, "明": 1, "去": -1, "前": -2, None: 0}


def _rel_zh_days(m, today, lang):
    return _day_result(*_shift(today, _DAYS_ZH[m.group(1)]), "relative", "relative")


def _rel_en_days(m, today, lang):
    word = re.sub(r"\s+", " ", m.group(1).lower()).removeprefix("the ")
    offset = {"today": 0, "tomorrow": 1, "yesterday": -1, "day after tomorrow": 2, "day before yesterday": -2}[word]
    return _day_result(*_shift(today, offset), "relative", "relative")


def _in_days(m, today, lang):
    n = _int(m.group(1))
    if n is None:
        return None
    back = m.group(2) and m.group(2).lower() in ("前", "以前", "之前", "ago")
    return _day_result(*_shift(today, -n if back else n), "relative", "relative")


def _nth_of_month(offset: int, n: int | None, today: dt.date) -> dict:
    y, mo = _month(today, offset)
    return _day_result(*_day(y, mo, n), "month-day", "relative")


def _month_end_rel(offset: int, today: dt.date) -> dict:
    return _day_result(*_month_end(*_month(today, offset)), "month-end", "relative")


def _year_end(y: int) -> dict:
    return _day_result(*_day(y, 12, 31), "year-end", "relative")


def _en_month_word(w: str | None) -> int:
    return _MONTH_EN[w.lower().removeprefix("the ").strip() if w else None]


def _en_md(m, today, lang, year: int | None = None, month_first: bool = True):
    mon, day = (m.group(1), m.group(2)) if month_first else (m.group(2), m.group(1))
    if mon == "may" and not m.group(0).startswith(("May", "MAY")) and year is None and month_first:
        return None  # "may 2" is a verb more often than a date
    y = year if year is not None else today.year
    return _day_result(*_day(y, _MONTHS[mon[:3].lower()], int(day)), "month-name",
                       needs_today=year is None)


Handler = Callable[[re.Match, dt.date, str], "dict | None"]
_ZH_NOUN = r"(?:规定|规则|规矩|政策|口径|标准|上限|版本|条款|办法|制度)"
_PATTERNS: list[tuple[str, int, Handler]] = [
    # absolute days
    (rf"{_YEAR}\s*年\s*{_NUM}\s*月\s*{_NUM}\s*(?:[日号]|(?![\d千万百元块kKwW.]))", 0,
     lambda m, t, l: _day_result(*_day(_int(m.group(1)), _int(m.group(2)), _int(m.group(3))), "cn")),
    (rf"{_YEAR}\s*年\s*(?:底|末)", 0, lambda m, t, l: _year_end(_int(m.group(1))) | {"kind": "day"}),
    (r"(?<![A-Za-z0-9_.\-/])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d|[-/.]\d)", 0,
     lambda m, t, l: _day_result(*_day(int(m.group(1)), int(m.group(3)), int(m.group(4))), "ymd")),
    (r"(?<![A-Za-z0-9_.\-/])(\d{1,2})([-/.])(\d{1,2})\2(\d{4})(?!\d|[-/.]\d)", 0,
     lambda m, t, l: _numeric(int(m.group(1)), int(m.group(3)), int(m.group(4)), l, True)),
    (rf"(?<![A-Za-z]){_MON}\s*(\d{{1,2}}){_ORD}(?:\s*,\s*|\s+)(\d{{4}})(?!\d)", re.I,
     lambda m, t, l: _en_md(m, t, l, year=int(m.group(3)))),
    (rf"(?<![\dA-Za-z])(\d{{1,2}}){_ORD}(?:\s+of)?(?:\s+|\s*[-/]\s*){_MON}(?:\s*,\s*|\s+|\s*[-/]\s*)(\d{{4}})(?!\d)", re.I,
     lambda m, t, l: _en_md(m, t, l, year=int(m.group(3)), month_first=False)),
    # 20260115 only right after a date marker ("按20260310算", "as of 20260401"): elsewhere it may be an id.
    # A shape that is no date at all (20261345) is an invalid date only after "as of"/"截至"-like markers.
    (r"(?<![A-Za-z0-9_.\-/])(\d{4})(\d\d)(\d\d)(?![A-Za-z0-9_.\-/])", 0,
     lambda m, t, l: _day_result(*_day(int(m.group(1)), int(m.group(2)), int(m.group(3))), "compact", needs_marker=(
         True if 1 <= int(m.group(2)) <= 12 and 1 <= int(m.group(3)) <= 31 else "strong"))),
    # days with the year omitted: the year of today
    (rf"(?<![\d〇零一二三四五六七八九年]){_NUM}\s*月\s*{_NUM}\s*[日号]", 0,
     lambda m, t, l: _day_result(*_day(t.year, _int(m.group(1)), _int(m.group(2))), "cn", needs_today=True)),
    (r"(?<![A-Za-z0-9_.\-/])(\d{1,2})/(\d{1,2})(?![\d/A-Za-z%])", 0,
     lambda m, t, l: _numeric(int(m.group(1)), int(m.group(2)), t.year, l, False, needs_today=True, needs_marker=True)),
    (rf"(?<![A-Za-z]){_MON}\s*(\d{{1,2}}){_ORD}(?![\d:A-Za-z])", re.I, lambda m, t, l: _en_md(m, t, l)),
    (rf"(?<![\dA-Za-z])(\d{{1,2}}){_ORD}(?:\s+of)?\s+{_MON}", re.I,
     lambda m, t, l: None if m.group(2) == "may" else _en_md(m, t, l, month_first=False)),
    (rf"(今年|去年|明年|前年)\s*{_NUM}\s*月\s*{_NUM}\s*[日号]", 0,
     lambda m, t, l: _day_result(*_day(t.year + _YEARS_ZH[m.group(1)[0]], _int(m.group(2)), _int(m.group(3))),
                                 "cn", "relative")),
    # relative days
    (r"(大后天|大前天|今天|今日|明天|明日|后天|昨天|昨日|前天)", 0, _rel_zh_days),
    (r"(?<![A-Za-z])((?:the\s+)?day\s+after\s+tomorrow|(?:the\s+)?day\s+before\s+yesterday|today|tomorrow|yesterday)"
     r"(?![A-Za-z])", re.I, _rel_en_days),
    (r"(?<![\d.])(\d{1,5}|[一二三四五六七八九十两]{1,3})\s*天\s*(以后|之后|后|以前|之前|前)", 0, _in_days),
    (r"(?<![A-Za-z])in\s+(\d{1,5})\s+days?()(?![A-Za-z])", re.I, _in_days),
    (r"(?<![\dA-Za-z])(\d{1,5})\s+days?\s+(from\s+now|from\s+today|ago|hence)(?![A-Za-z])", re.I, _in_days),
    (rf"(下个?月|次月|上个?月|本月|这个?月|当月)\s*的?\s*{_NUM}\s*[号日]", 0,
     lambda m, t, l: _nth_of_month(_MONTH_ZH[m.group(1)], _int(m.group(2)), t)),
    (r"(?<![A-Za-z])(?:the\s+)?(\d{1,2})" + _ORD + r"\s+of\s+(?:the\s+)?(next|following|this|current|last|previous)\s+month",
     re.I, lambda m, t, l: _nth_of_month(_en_month_word(m.group(2)), int(m.group(1)), t)),
    (r"(?<![A-Za-z])(next|this|last)\s+month'?s\s+(\d{1,2})" + _ORD + r"(?![\dA-Za-z])", re.I,
     lambda m, t, l: _nth_of_month(_en_month_word(m.group(1)), int(m.group(2)), t)),
    (r"(?:(下个?月|次月|上个?月|本月|这个?月|当月)\s*月?|(?<![个\d一二三四五六七八九十])月)(?:底|末)", 0,
     lambda m, t, l: _month_end_rel(_MONTH_ZH.get(m.group(1) or "本月"), t)),
    (r"(?<![A-Za-z])(?:the\s+)?end\s+of\s+(?:the\s+)?(this\s+|next\s+|last\s+|current\s+|following\s+|previous\s+)?month"
     r"(?![A-Za-z])", re.I, lambda m, t, l: _month_end_rel(_en_month_word(m.group(1)), t)),
    (r"(?<![A-Za-z])(this\s+|next\s+|last\s+)?month[-\s]end(?![A-Za-z])", re.I,
     lambda m, t, l: _month_end_rel(_en_month_word(m.group(1)), t)),
    (rf"(?:{_YEAR}\s*年\s*)?{_NUM}\s*月\s*(?:底|末)", 0,
     lambda m, t, l: _day_result(*_month_end(_int(m.group(1)) if m.group(1) else t.year, _int(m.group(2))),
                                 "month-end", needs_today=m.group(1) is None)),
    (r"(?:(今|明|去|前)|(?<![\d〇零一二三四五六七八九]))年(?:底|末)", 0,
     lambda m, t, l: _year_end(t.year + _YEARS_ZH[m.group(1)])),
    (r"(?<![A-Za-z])(?:the\s+)?(?:end\s+of\s+(?:the\s+)?(this\s+|next\s+|last\s+)?year|(this\s+|next\s+|last\s+)?year[-\s]end)"
     r"(?![A-Za-z])", re.I, lambda m, t, l: _year_end(t.year + _en_month_word(m.group(1) or m.group(2)))),
    (r"(下下|下|上|本|这)个?(?:周|星期|礼拜)([一二三四五六日天])", 0,
     lambda m, t, l: _day_result(*_shift(t - dt.timedelta(days=t.weekday()),
                                         {"下下": 14, "下": 7, "上": -7, "本": 0, "这": 0}[m.group(1)]
                                         + _WEEKDAY_ZH[m.group(2)]), "weekday", "relative")),
    (r"(?<![A-Za-z])(next|this|last|coming)\s+(mon|tue|wed|thu|fri|sat|sun)(?:day|sday|nesday|rsday|urday|s|r|rs)?\.?"
     r"(?![A-Za-z])", re.I, lambda m, t, l: _weekday(t, m.group(1), _WEEKDAYS_EN[m.group(2).lower()])),
    # past periods
    (rf"{_YEAR}\s*年\s*(?:的时候|那时候?|那会儿?|时候|时|期间|间|内|的(?={_ZH_NOUN}))", 0,
     lambda m, t, l: _period(_int(m.group(1)), _int(m.group(1)), "year")),
    # "在2024年，..." is a period; "在2019年发生的逾期" dates an event, not the question
    (rf"(?<=[在于])\s*{_YEAR}\s*年(?=\s*(?:[，,。？?！!；;：:、]|$))", 0,
     lambda m, t, l: _period(_int(m.group(1)), _int(m.group(1)), "year")),
    (rf"{_YEAR}\s*年\s*(?:以前|之前|前(?![一二三四五六七八九十两几\d]))", 0,
     lambda m, t, l: _period(None, _int(m.group(1)) - 1, "before-year")),
    (r"(去年|前年)(?:的时候|那时候?|那会儿?)?", 0,
     lambda m, t, l: _period(t.year + _YEARS_ZH[m.group(1)[0]], t.year + _YEARS_ZH[m.group(1)[0]], "year",
                             needs_today=True)),
    (r"(?<![A-Za-z])(?:back\s+)?(?:in|during)\s+(?:the\s+year\s+)?((?:19|2\d)\d{2})(?![\d,.]\d|\d|[-/.]\d)"
     r"(?!\s*(?:yuan|rmb|cny|元|块|%|k|w)(?![A-Za-z]))", re.I,
     lambda m, t, l: _period(int(m.group(1)), int(m.group(1)), "year")),
    (r"(?<![A-Za-z])(?:before|prior\s+to|pre-)\s*((?:19|2\d)\d{2})(?!\d|[-/.,]\d)", re.I,
     lambda m, t, l: _period(None, int(m.group(1)) - 1, "before-year")),
    (r"(?<![A-Za-z])(the\s+year\s+before\s+last|last\s+year)(?![A-Za-z])", re.I,
     lambda m, t, l: _period(t.year - (2 if "before" in m.group(1).lower() else 1),
                             t.year - (2 if "before" in m.group(1).lower() else 1), "year", needs_today=True)),
    (r"(?<![A-Za-z])(?:the\s+)?(?:old|previous|former|earlier|prior|legacy)\s+(?:rules?|caps?|policy|policies|versions?|"
     r"regulations?|terms|regime|standards?)(?![A-Za-z])", re.I,
     lambda m, t, l: {"value": None, "kind": "period", "old_rule": True, "form": "old-rule"}),
    (rf"(?:旧|老|原来的|原先的|以前的|之前的|过去的|早先的|先前的|原)的?(?:{_ZH_NOUN[3:-1]}|版|规(?![划模范]))", 0,
     lambda m, t, l: {"value": None, "kind": "period", "old_rule": True, "form": "old-rule"}),
]
_COMPILED = [(re.compile(p, flags), h) for p, flags, h in _PATTERNS]


def _bound(folded: str, start: int, end: int) -> str | None:
    word = _BOUND_EN.search(folded, max(0, start - 20), start)
    if word:
        return "after" if word.group(1).lower() in ("after", "since", "from") else "before"
    word = _BOUND_ZH.match(folded, end)
    return None if not word else "before" if word.group(1).endswith("前") else "after"


def _marker(folded: str, start: int, end: int) -> str | None:
    m = _MARKER.search(folded, max(0, start - 12), start)
    if not m:
        return None
    word = (m.group(1) or m.group(2)).lower()
    if word == "以":
        return "以…为准" if re.match(r"\s*为准", folded[end:]) else None
    return re.sub(r"\s+", " ", word)


def _scan(text: str, today: dt.date, language: str | None) -> list[DateMention]:
    folded = text.translate(_FOLD)
    lang = language or ("zh" if re.search(r"[\u4e00-\u9fff]", text) else "en")
    found: list[tuple[int, int, dict]] = []
    for pattern, handler in _COMPILED:
        for m in pattern.finditer(folded):
            fields = handler(m, today, lang)
            if fields is not None:
                found.append((m.start(), m.end(), fields))
    # the longest reading wins; a shorter one inside or across it is dropped
    found.sort(key=lambda f: (f[0] - f[1], f[0]))
    taken: list[DateMention] = []
    for start, end, fields in found:
        if any(start < t.end and t.start < end for t in taken):
            continue
        marker = _marker(folded, start, end)
        bound = _bound(folded, start, end) if fields.get("kind") != "period" else None
        needs = fields.pop("needs_marker", False)
        if (needs and marker is None and bound is None) or (needs == "strong" and marker not in _STRONG_MARKERS):
            continue
        if fields.get("kind") == "relative":
            fields["needs_today"] = True
        taken.append(DateMention(start=start, end=end, raw=text[start:end], marker=marker, bound=bound, **fields))
    return sorted(taken, key=lambda d: d.start)


def find_dates(text: str, today: dt.date, language: Literal["zh", "en"] | None = None) -> list[DateMention]:
    """Every date mention in `text`, in order. `language` decides `03/04/2026` (zh: month/day, en: ambiguous);
    None: 'zh' when the text has a CJK ideograph."""
    return _scan(text, today, language)


_ANY_DAY = dt.date(2001, 6, 15)  # spans do not depend on today; values that do are dropped


def absolute_dates(text: str, language: Literal["zh", "en"] | None = None) -> list[DateMention]:
    """The mentions whose reading needs no `today` (valid or not): for callers that have no today."""
    return [d for d in _scan(text, _ANY_DAY, language) if not d.needs_today]


def mention_spans(text: str) -> list[tuple[int, int]]:
    """The span of every date mention, relative and invalid ones included (e.g. to keep them out of amounts)."""
    return [(d.start, d.end) for d in _scan(text, _ANY_DAY, None)]


def describe_problem(mention: DateMention, language: Literal["zh", "en"]) -> str | None:
    """A clear message for an invalid or ambiguous date, quoting only what the operator wrote."""
    raw = mention.raw.strip()
    if mention.problem == "invalid" and mention.detail == "out of range":
        return (f"日期“{raw}”超出规则可处理的日期范围，请确认。" if language == "zh"
                else f"The date “{raw}” is outside the range of dates the rules accept; please check it.")
    if mention.problem == "invalid":
        return (f"日期“{raw}”不存在，请确认后重新输入。" if language == "zh"
                else f"The date “{raw}” does not exist; please check it.")
    if mention.problem == "ambiguous":
        return (f"日期“{raw}”有两种读法，请用“年-月-日”格式写明是哪一天。" if language == "zh"
                else f"The date “{raw}” can be read two ways (day/month or month/day); "
                     "please write it as YYYY-MM-DD.")
    return None
