"""Dates in operators' messages: every notation, zh and en, invalid and ambiguous ones, relative days against
several todays (month ends, leap years), past periods, and a round-trip property over 1970..2999."""
import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from agents.datetext import absolute_dates, describe_problem, find_dates, mention_spans
from agents.parsing import _date_spans, extract_amounts, extract_dates

D = dt.date
MON = D(2026, 11, 23)  # a Monday
JAN15 = D(2026, 1, 15)


def one(text, today=MON, language=None):
    found = find_dates(text, today, language)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("text, raw", [
    ("截至2026年1月15日，C1022能做信用修复吗", "2026年1月15日"),
    ("按2026年1月15号算", "2026年1月15号"),
    ("2026 年 1 月 15 日的额度", "2026 年 1 月 15 日"),
    ("二〇二六年一月十五日的额度", "二〇二六年一月十五日"),
    ("二零二六年元月".replace("元月", "一月十五号") + "可以吗", "二零二六年一月十五号"),
    ("as of 2026-01-15", "2026-01-15"),
    ("额度 2026/1/15", "2026/1/15"),
    ("截止2026.1.15", "2026.1.15"),
    ("as at 15/01/2026 what is left", "15/01/2026"),
    ("15-01-2026的可用额度", "15-01-2026"),
    ("on 15.01.2026", "15.01.2026"),
    ("limit on Jan 15, 2026?", "Jan 15, 2026"),
    ("as of Jan. 15 2026", "Jan. 15 2026"),
    ("January 15th 2026 please", "January 15th 2026"),
    ("as of 15 January 2026", "15 January 2026"),
    ("on 15 Jan 2026", "15 Jan 2026"),
    ("the 15th of January, 2026", "15th of January, 2026"),
    ("value date 15-Jan-2026", "15-Jan-2026"),
    ("1/15/2026 limit", "1/15/2026"),
    ("截至２０２６年１月１５日", "２０２６年１月１５日"),
    ("as of ２０２６－０１－１５", "２０２６－０１－１５"),
    ("１５／０１／２０２６", "１５／０１／２０２６"),
])
def test_day_forms(text, raw):
    m = one(text)
    assert (m.value, m.kind, m.problem, m.raw) == (JAN15, "day", None, raw)
    assert text[m.start:m.end] == raw and not m.needs_today


def test_month_and_year_ends_written_in_full():
    assert [(m.value, m.needs_today) for m in find_dates("2026年1月底和2027年底", MON)] == [
        (D(2026, 1, 31), False), (D(2027, 12, 31), False)]
    assert extract_dates("2026年1月底") == [D(2026, 1, 31)]


@pytest.mark.parametrize("text, today, value", [
    ("1月15日的额度", MON, D(2026, 1, 15)),
    ("按12月1号算", D(2027, 5, 1), D(2027, 12, 1)),
    ("十二月三十一日", MON, D(2026, 12, 31)),
    ("as of Jan 15", D(2030, 7, 1), D(2030, 1, 15)),
    ("on 3 March", MON, D(2026, 3, 3)),
    ("截至1/15", MON, D(2026, 1, 15)),
    ("as of 15/1", MON, D(2026, 1, 15)),
    ("１月１５日", MON, D(2026, 1, 15)),
])
def test_year_omitted_is_the_year_of_today(text, today, value):
    m = one(text, today)
    assert (m.value, m.kind, m.problem, m.needs_today) == (value, "day", None, True)


@pytest.mark.parametrize("text, marker", [
    ("as at 15/01/2026", "as at"), ("As Of 2026-01-15", "as of"), ("at 2026-01-15", "at"), ("on 2026-01-15", "on"),
    ("截至2026年1月15日", "截至"), ("截止2026-01-15", "截止"), ("截止到2026年1月15日", "截止到"),
    ("以2026年1月15日为准", "以…为准"), ("截至：2026-01-15", "截至"), ("2026-01-15", None),
])
def test_markers_are_kept_and_never_change_the_value(text, marker):
    m = one(text)
    assert (m.value, m.marker) == (JAN15, marker)


@pytest.mark.parametrize("text, value", [("按20260115算", JAN15), ("as of 20260115", JAN15), ("截至 20260115", JAN15),
                                         ("dated 20260115", JAN15), ("截至20260230", None), ("as of 20261345", None)])
def test_compact_dates_after_a_marker(text, value):
    m = one(text)
    assert (m.value, m.form, m.problem) == (value, "compact", None if value else "invalid")


@pytest.mark.parametrize("text", ["客户 20260115 的额度", "acct 20260115", "on 20261345", "77015123"])
def test_eight_digits_without_a_marker_are_not_dates(text):
    assert find_dates(text, MON) == []


@pytest.mark.parametrize("text, marker, bound", [
    ("若在2026年3月31日前还清能否修复", "在", "before"), ("repaid before 2026-03-31", None, "before"),
    ("by 2026-03-31", None, "before"), ("2026年1月1日以后的逾期", None, "after"), ("since Jan 1, 2026", None, "after"),
    ("自2026-01-01起", None, "after"), ("as of 2026-03-31", "as of", None), ("按2026年3月31日判断", "按", None),
])
def test_a_date_that_bounds_something_is_marked(text, marker, bound):
    m = one(text)
    assert (m.marker, m.bound, m.problem) == (marker, bound, None)


def test_a_bare_number_pair_needs_a_marker_to_be_a_date():
    assert find_dates("额度的1/3给她", MON) == [] and find_dates("pay 1/3 of it", MON) == []
    assert one("due by 1/15").value == JAN15


@pytest.mark.parametrize("text, language, value", [
    ("15/01/2026", "en", JAN15), ("15/01/2026", "zh", JAN15),     # first number above 12: day-first
    ("1/15/2026", "en", JAN15), ("1/15/2026", "zh", JAN15),       # second above 12: the day
    ("03/04/2026", "zh", D(2026, 3, 4)),                          # Chinese: month/day
    ("05/05/2026", "en", D(2026, 5, 5)),                          # both readings are the same day
    ("截至03/04/2026", None, D(2026, 3, 4)),                       # language detected: zh
])
def test_numeric_day_month_order(text, language, value):
    m = one(text, language=language)
    assert (m.value, m.problem) == (value, None)


@pytest.mark.parametrize("text, language", [("03/04/2026", "en"), ("as of 03-04-2026", None), ("as of 3/4", "en")])
def test_english_both_at_most_12_is_ambiguous(text, language):
    m = one(text, language=language)
    assert (m.value, m.problem) == (None, "ambiguous")
    assert set(m.alternatives) == {D(2026, 4, 3), D(2026, 3, 4)}
    msg = describe_problem(m, "en")
    assert m.raw in msg and "YYYY-MM-DD" in msg
    assert "两种读法" in describe_problem(m, "zh")


@pytest.mark.parametrize("text", [
    "2026-02-30", "2026年13月45日", "31/04/2026", "Feb 30, 2026", "30 February 2026", "2026年2月29日", "13/13/2026",
    "2026/00/10", "2026-04-31", "2100-02-29", "二〇二六年二月三十日", "2026年1月32号", "02/30/2026",
])
def test_days_that_do_not_exist_are_invalid_mentions(text):
    m = one(f"C1022 as of {text}")
    assert (m.value, m.problem, m.detail, m.raw) == (None, "invalid", "no such day", text)
    assert "does not exist" in describe_problem(m, "en") and text in describe_problem(m, "en")
    assert "不存在" in describe_problem(m, "zh")
    assert extract_dates(f"as of {text}") == []


@pytest.mark.parametrize("text", ["0000-01-01", "1969-12-31", "3000-01-01", "9999年1月1日", "in 1950", "before 1970"])
def test_days_outside_the_rules_range_are_invalid(text):
    m = one(text)
    assert (m.value, m.problem, m.detail) == (None, "invalid", "out of range")
    assert "range" in describe_problem(m, "en") and "范围" in describe_problem(m, "zh")


@pytest.mark.parametrize("text", ["1970-01-01", "2999-12-31", "2000-02-29", "2028-02-29", "2024年2月29日", "Feb 29, 2028"])
def test_range_bounds_and_leap_days(text):
    assert one(text).problem is None


@pytest.mark.parametrize("today, text, value", [
    (MON, "今天的额度", MON), (MON, "明天", D(2026, 11, 24)), (MON, "昨天", D(2026, 11, 22)),
    (MON, "后天", D(2026, 11, 25)), (MON, "前天", D(2026, 11, 21)), (MON, "大后天", D(2026, 11, 26)),
    (MON, "limit today?", MON), (MON, "as of tomorrow", D(2026, 11, 24)), (MON, "yesterday", D(2026, 11, 22)),
    (MON, "the day after tomorrow", D(2026, 11, 25)),
    (D(2026, 12, 31), "明天", D(2027, 1, 1)), (D(2024, 3, 1), "昨天", D(2024, 2, 29)), (D(2026, 3, 1), "yesterday", D(2026, 2, 28)),
    # the 1st (or Nth) of a month relative to today
    (MON, "按下个月1号算呢", D(2026, 12, 1)), (MON, "下月1日", D(2026, 12, 1)), (D(2026, 12, 5), "下个月1号", D(2027, 1, 1)),
    (MON, "the 1st of next month", D(2026, 12, 1)), (D(2026, 12, 31), "the 1st of next month", D(2027, 1, 1)),
    (MON, "next month's 15th", D(2026, 12, 15)), (MON, "本月15号", D(2026, 11, 15)), (D(2026, 1, 10), "上个月20号", D(2025, 12, 20)),
    (D(2028, 1, 31), "下个月29号", D(2028, 2, 29)), (MON, "the 3rd of last month", D(2026, 10, 3)),
    # month and year ends
    (MON, "月底", D(2026, 11, 30)), (D(2026, 1, 31), "月底", D(2026, 1, 31)), (D(2026, 1, 15), "下月底", D(2026, 2, 28)),
    (D(2028, 1, 15), "下个月月底", D(2028, 2, 29)), (D(2026, 3, 10), "上个月底", D(2026, 2, 28)),
    (MON, "end of this month", D(2026, 11, 30)), (D(2028, 1, 31), "end of next month", D(2028, 2, 29)),
    (MON, "at month-end", D(2026, 11, 30)), (D(2026, 2, 3), "end of the month", D(2026, 2, 28)),
    (MON, "年底", D(2026, 12, 31)), (MON, "明年底", D(2027, 12, 31)), (MON, "去年底", D(2025, 12, 31)),
    (MON, "by year-end", D(2026, 12, 31)), (MON, "end of next year", D(2027, 12, 31)),
    (D(2028, 7, 1), "2月底", D(2028, 2, 29)),
    # N days from today
    (MON, "30天后", D(2026, 12, 23)), (MON, "三天后", D(2026, 11, 26)), (MON, "两天前", D(2026, 11, 21)),
    (MON, "十五天以后", D(2026, 12, 8)), (D(2026, 12, 31), "in 1 day", D(2027, 1, 1)), (MON, "in 30 days", D(2026, 12, 23)),
    (D(2024, 3, 1), "2 days ago", D(2024, 2, 28)), (MON, "10 days from now", D(2026, 12, 3)),
    # weekdays: calendar weeks start on Monday
    (MON, "下周一", D(2026, 11, 30)), (MON, "本周五", D(2026, 11, 27)), (MON, "这周日", D(2026, 11, 29)),
    (MON, "上周日", D(2026, 11, 22)), (MON, "下下周三", D(2026, 12, 9)), (D(2026, 11, 29), "下周一", D(2026, 11, 30)),
    (MON, "next Monday", D(2026, 11, 30)), (MON, "this Friday", D(2026, 11, 27)), (MON, "last Friday", D(2026, 11, 20)),
    (D(2026, 11, 28), "next Friday", D(2026, 12, 4)), (MON, "coming Friday", D(2026, 11, 27)),
    # a day in a year named relative to today
    (MON, "去年12月15日", D(2025, 12, 15)), (MON, "明年1月1号", D(2027, 1, 1)),
])
def test_relative_days_against_today(today, text, value):
    m = one(text, today)
    assert (m.value, m.problem, m.needs_today) == (value, None, True)


@pytest.mark.parametrize("today, text, alternatives", [
    (MON, "next Friday", {D(2026, 11, 27), D(2026, 12, 4)}),           # this week's Friday or next week's
    (D(2026, 11, 28), "last Friday", {D(2026, 11, 27), D(2026, 11, 20)}),
    (D(2026, 11, 25), "this Monday", {D(2026, 11, 23), D(2026, 11, 30)}),
])
def test_english_weekdays_that_two_readings_split_are_ambiguous(today, text, alternatives):
    m = one(text, today)
    assert (m.value, m.problem, set(m.alternatives)) == (None, "ambiguous", alternatives)


@pytest.mark.parametrize("today, text", [(D(2026, 10, 5), "下个月31号"), (D(2026, 1, 31), "下个月30号"), (D(2026, 3, 1), "the 31st of last month"),
                                         (D(2999, 12, 31), "明天"), (D(1970, 1, 1), "yesterday"), (D(2900, 1, 1), "99999天后")])
def test_relative_days_that_do_not_exist_are_invalid(today, text):
    m = one(text, today)
    assert (m.value, m.problem) == (None, "invalid")


@pytest.mark.parametrize("text, start, end", [
    ("2024年的时候临额上限是多少", D(2024, 1, 1), D(2024, 12, 31)), ("在2024年，上限是多少", D(2024, 1, 1), D(2024, 12, 31)),
    ("2024年时的规定", D(2024, 1, 1), D(2024, 12, 31)), ("2024年的规定", D(2024, 1, 1), D(2024, 12, 31)),
    ("what was the cap in 2024?", D(2024, 1, 1), D(2024, 12, 31)), ("back in 2024", D(2024, 1, 1), D(2024, 12, 31)),
    ("during 2025", D(2025, 1, 1), D(2025, 12, 31)),
    ("before 2026", None, D(2025, 12, 31)), ("prior to 2026", None, D(2025, 12, 31)),
    ("2026年以前的上限", None, D(2025, 12, 31)), ("2026年之前", None, D(2025, 12, 31)), ("2026年前，规定是什么", None, D(2025, 12, 31)),
    ("去年的时候", D(2025, 1, 1), D(2025, 12, 31)), ("去年临额能用多久", D(2025, 1, 1), D(2025, 12, 31)),
    ("前年", D(2024, 1, 1), D(2024, 12, 31)), ("last year", D(2025, 1, 1), D(2025, 12, 31)),
    ("the year before last", D(2024, 1, 1), D(2024, 12, 31)),
])
def test_past_periods(text, start, end):
    m = one(text)
    assert (m.kind, m.value, m.period_start, m.period_end, m.problem, m.old_rule) == ("period", end, start, end, None, False)


def test_last_year_follows_today():
    assert one("去年", D(2030, 2, 1)).period_end == D(2029, 12, 31)
    assert one("last year", D(2030, 2, 1)).period_start == D(2029, 1, 1)


@pytest.mark.parametrize("text", ["under the old rule, how long?", "旧规下临额能用多久", "以前的规定是多少", "what was the old cap",
                                  "按老规矩", "原来的规定", "the previous policy", "旧版本的上限"])
def test_old_rule_questions(text):
    m = one(text)
    assert (m.kind, m.value, m.old_rule, m.problem) == ("period", None, True, None)


@pytest.mark.parametrize("text", [
    "在2024年1月15日", "2026年前三个月",  # a day, not a period; "the first three months of 2026", not "before 2026"
    "逾期在2019年发生的能修复吗",  # the year of an event, not the time the question is about
])
def test_a_year_inside_a_longer_date_or_dating_an_event_is_not_a_period(text):
    assert all(m.kind == "day" for m in find_dates(text, MON))


@pytest.mark.parametrize("text", [
    "C1002 临时额度 4000元 买冰箱", "临额能用多久", "valid for 30 days", "30天有效", "逾期90天", "TQ3 和 R2",
    "I may 2 times", "3个月内", "客户号 4402198812 的额度", "ZX2024-0917 limit", "acct CUS-2026-0115", "1.2万",
    "RMB 2,000.50", "¥3,500.00", "原因是什么", "her previous limit", "之前的申请", "this month's limit", "周末",
])
def test_not_dates(text):
    assert find_dates(text, MON) == []


def test_several_dates_in_order_and_the_longest_reading_wins():
    found = find_dates("从2026年1月15日到2026-02-01，再到下个月1号", MON)
    assert [m.value for m in found] == [JAN15, D(2026, 2, 1), D(2026, 12, 1)]
    assert [m.kind for m in found] == ["day", "day", "relative"]


def test_legacy_readers_keep_valid_full_days_only():
    text = "as of 15/01/2026, not 2026-02-30, not 03/04/2026, not tomorrow, not Jan 16, not in 2024; 2026-01-17"
    assert extract_dates(text) == [JAN15, D(2026, 1, 17)]
    assert [text[s:e] for s, e, _ in _date_spans(text)] == ["15/01/2026", "2026-01-17"]
    # every mention, including the invalid, ambiguous and relative ones, has a span (e.g. to keep them out of amounts)
    assert [text[s:e] for s, e in mention_spans(text)] == [
        "15/01/2026", "2026-02-30", "03/04/2026", "tomorrow", "Jan 16", "in 2024", "2026-01-17"]
    assert [m.problem for m in absolute_dates(text)] == [None, "invalid", "ambiguous", None, None]


def test_dates_are_not_amounts():
    assert extract_amounts("C1002 临时额度 4000元 截至15/01/2026") == [4000]


# ---- round trip: every unambiguous notation of any day in 1970..2999 reads back as that day -------------------

_EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"]
_CN_D = "〇一二三四五六七八九"


def _cn_small(n: int) -> str:
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else _CN_D[tens]) + "十" if tens else "") + (_CN_D[ones] if ones else "")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def notations(d: dt.date) -> list[tuple[str, str]]:
    y, m, day, mon = d.year, d.month, d.day, _EN_MONTHS[d.month - 1]
    out = [("zh", f"{y}年{m}月{day}日"), ("zh", f"{y}年{m:02d}月{day:02d}号"), ("zh", f"{y}-{m:02d}-{day:02d}"),
           ("en", f"{y}-{m:02d}-{day:02d}"), ("zh", f"{y}/{m}/{day}"), ("en", f"{y}.{m}.{day}"),
           ("zh", "".join(_CN_D[int(c)] for c in str(y)) + f"年{_cn_small(m)}月{_cn_small(day)}日"),
           ("zh", _fullwidth(f"{y}-{m:02d}-{day:02d}")), ("en", _fullwidth(f"{y}/{m:02d}/{day:02d}")),
           ("en", f"{mon[:3]} {day}, {y}"), ("en", f"{mon} {_ordinal(day)} {y}"), ("en", f"{day} {mon} {y}"),
           ("en", f"{day} {mon[:3]} {y}"), ("en", f"{day:02d}-{mon[:3]}-{y}"), ("zh", f"{m}/{day}/{y}")]
    if day > 12 or day == m:  # day-first is unambiguous
        out += [("en", f"{day:02d}/{m:02d}/{y}"), ("zh", f"{day}-{m}-{y}"), ("en", f"{day}.{m:02d}.{y}")]
    if day > 12:  # month-first with a day above 12 is unambiguous too
        out += [("en", f"{m}/{day}/{y}")]
    return out


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=D(1970, 1, 1), max_value=D(2999, 12, 31)), st.dates(min_value=D(1970, 1, 1), max_value=D(2999, 12, 31)))
def test_every_notation_reads_back(d, today):
    for language, written in notations(d):
        text = f"截至{written}，C1022能做信用修复吗" if language == "zh" else f"Is C1022 eligible as of {written}?"
        m = one(text, today)
        assert (m.value, m.problem, m.raw, m.kind) == (d, None, written, "day"), (language, written)
        assert extract_dates(text) == [d]


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=D(1970, 1, 1), max_value=D(2900, 12, 31)), st.integers(0, 3000))
def test_days_from_today_read_back(today, n):
    assert one(f"{n}天后", today).value == today + dt.timedelta(days=n)
    assert one(f"in {n} days", today).value == today + dt.timedelta(days=n)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789/-.年月日号天后前周下个本底末 Janofthe,截至as某１２／")), max_size=40),
       st.dates(min_value=D(1970, 1, 1), max_value=D(2999, 12, 31)))
def test_any_text_gives_well_formed_mentions(text, today):
    found = find_dates(text, today)
    for a, b in zip(found, found[1:]):
        assert a.end <= b.start
    for m in found:
        assert text[m.start:m.end] == m.raw
        assert (m.value is None) == (m.problem is not None or m.old_rule)
        assert m.value is None or D(1970, 1, 1) <= m.value <= D(2999, 12, 31)
