"""agents.amounts: every amount form read exactly, every problem flagged, ids/dates/counts never amounts."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.amounts import AmountMention, find_amounts
from agents.parsing import _date_spans, extract_amounts, id_spans, parse_chinese_number


def blocked_in(text: str) -> list[tuple[int, int]]:
    """What a caller blocks: customer ids and dates."""
    return id_spans(text) + [(s, e) for s, e, _ in _date_spans(text)]


def mentions(text: str) -> list[AmountMention]:
    found = find_amounts(text, blocked_in(text))
    for m in found:
        assert m.raw == text[m.start:m.end]
    return found


def one(text: str) -> AmountMention:
    found = mentions(text)
    assert len(found) == 1, found
    return found[0]


VALID = [
    # (form, value, currency)
    ("4000", 4000, False), ("4,000", 4000, False), ("¥3,500.00", 3500, True), ("￥3500", 3500, True),
    ("RMB 2000", 2000, True), ("RMB2000", 2000, True), ("CNY 2000", 2000, True), ("2000 yuan", 2000, True),
    ("2000RMB", 2000, True), ("4000元", 4000, True), ("4000块", 4000, True), ("4000块钱", 4000, True),
    ("4000人民币", 4000, True), ("人民币4000元", 4000, True), ("4k", 4000, True), ("4K", 4000, True),
    ("4 thousand yuan", 4000, True), ("4千", 4000, True), ("四千", 4000, True), ("四千块", 4000, True),
    ("四千元", 4000, True), ("1.2万", 12000, True), ("1.2w", 12000, True), ("1.2W", 12000, True),
    ("1.5万元", 15000, True), ("0.4万", 4000, True), ("两千零八元", 2008, True), ("四千零一", 4001, True),
    ("3千5", 3500, True), ("1万2千", 12000, True), ("12万", 120000, True), ("一万五", 15000, True),
    ("两万", 20000, True), ("三千五", 3500, True), ("一万零五百", 10500, True), ("贰仟零捌元", 2008, True),
    ("一点五万", 15000, True), ("4 千", 4000, True), ("RMB 5,000.50", Decimal("5000.50"), True),
    ("４０００元", 4000, True), ("４，０００", 4000, False), ("３，５００．５０元", Decimal("3500.50"), True),
    ("１．２万", 12000, True), ("4,000.00元", 4000, True), ("1,200万", 12_000_000, True), ("五元", 5, True),
]


@pytest.mark.parametrize("form, value, currency", VALID)
def test_valid_forms_in_a_chinese_sentence(form, value, currency):
    m = one(f"给C1002申请{form}临时额度，买电动车")
    assert (m.value, m.problem, m.currency, m.raw) == (Decimal(value), None, currency, form)


@pytest.mark.parametrize("form, value, currency", VALID)
def test_valid_forms_in_an_english_sentence(form, value, currency):
    m = one(f"Please grant C1002 a temporary quota of {form} for an e-bike as of 2026-11-23.")
    assert (m.value, m.problem, m.currency) == (Decimal(value), None, currency)


@pytest.mark.parametrize("form, problem, value", [
    ("-4000", "negative", -4000), ("−4000", "negative", -4000), ("-¥4000", "negative", -4000),
    ("¥-4000", "negative", -4000), ("负四千", "negative", -4000), ("负4000元", "negative", -4000),
    ("minus 4000", "negative", -4000), ("－４０００元", "negative", -4000),
    ("0", "zero", 0), ("0元", "zero", 0), ("零元", "zero", 0), ("¥0.00", "zero", 0), ("0k", "zero", 0),
    ("4,0000", "malformed", None), ("40,00", "malformed", None), ("4,000,00", "malformed", None),
    ("4.000,00", "malformed", None), ("4.000", "malformed", None), ("4 000", "malformed", None),
    ("4\u200b000", "malformed", None), ("4\u00a0000", "malformed", None), ("4\u2009000", "malformed", None),
    ("4\u2060000", "malformed", None), ("4\ufeff000元", "malformed", None), ("四\u200b千", "malformed", None),
    ("4'000", "malformed", None), ("4_000", "malformed", None), ("04000", "malformed", None),
    ("4000.123", "malformed", None), ("4٠٠٠", "malformed", None), ("４，００００", "malformed", None),
    ("一万五百", "malformed", None), ("4\u3000000", "malformed", None), ("3,5OO", "malformed", None),
    ("4OOO", "malformed", None), ("4ООО", "malformed", None),
    ("4000元5角", "ambiguous", None), ("四千块五", "ambiguous", None), ("5毛", "ambiguous", None),
    ("3000 - 4000", "ambiguous", None), ("3000~4000", "ambiguous", None), ("三千至四千", "ambiguous", None),
    ("3000-4000", "ambiguous", None), ("3000到4000元", "ambiguous", None), ("3000 or 4000", "ambiguous", None),
    ("两三千", "ambiguous", None), ("三五千块", "ambiguous", None), ("几千", "ambiguous", None),
    ("十几万", "ambiguous", None), ("四千多", "ambiguous", None), ("4000多元", "ambiguous", None),
    ("4000余元", "ambiguous", None), ("减4000", "ambiguous", None), ("$4000", "ambiguous", None),
    ("4000美元", "ambiguous", None), ("4000 dollars", "ambiguous", None), ("五五五元", "ambiguous", None),
])
def test_problems_in_zh_and_en(form, problem, value):
    for text in (f"给C1002申请{form}临时额度，买电动车", f"C1002 needs {form} as a temporary quota, as of 2026-11-23"):
        found = [m for m in mentions(text) if m.problem]
        assert found, (text, mentions(text))
        assert (found[0].problem, found[0].value) == (problem, None if value is None else Decimal(value)), text
        assert extract_amounts(text) == [], text  # never read as 4 or 4000


def test_a_range_flags_both_ends_and_a_chinese_range_its_amount():
    assert [(m.raw, m.problem) for m in mentions("额度3000-4000元之间")] == [("3000", "ambiguous"), ("4000元", "ambiguous")]
    assert [(m.raw, m.problem) for m in mentions("给C1002批三到五千")] == [("五千", "ambiguous")]
    # no id in the text: read without blocking ("3k-4k" is id-shaped to the id finder)
    assert [(m.raw, m.problem) for m in find_amounts("between 3k-4k")] == [("3k", "ambiguous"), ("4k", "ambiguous")]


def test_negative_span_includes_the_sign_and_a_markdown_bullet_is_no_sign():
    m = one("临时额度 -¥4,000 元")
    assert (m.raw, m.value, m.problem) == ("-¥4,000 元", Decimal(-4000), "negative")
    assert one("- 4000 for C1002").problem is None


@pytest.mark.parametrize("text", [
    "C1002 on 2026-01-15, 20%, 30天, 90 days", "C1002 第3笔逾期", "C1002 has 3笔 overdue, 2 records", "the 3rd record",
    "meet at 10:30", "下午3点", "2025年的记录", "opened in 2025", "3/4 of the limit", "3个月", "12期", "5 %",
    "百分之二十", "two records", "customer 4402198812", "账户4402198812要开临额", "电话139 0003 0021",
    "手机139-0004-0028", "身份证110101 199004040033", "card 6222 0212 3456 7890", "zx.4412", "u_7f3a21",
    "LN0042-B", "acct 12345", "尾号1234", "#5678", "No. 42", "万一他还不上", "千万别批", "十万火急",
    "一五一十地说", "三三两两", "二〇二六年", "五五五", "多给一点", "一些", "三点五十分", "x4000", "1e400",
    "3e3元", "4kg", "Q1 2026", "one, two", "3 times", "芝麻分700分", "3名客户",
])
def test_not_amounts(text):
    assert mentions(text) == [], text


def test_blocked_spans_are_never_amounts():
    text = "客户90210申请4000元，账号KH-2025-00071"
    assert [m.value for m in find_amounts(text)] == [Decimal(90210), Decimal(4000)]
    blocked = [(text.index("90210"), text.index("90210") + 5), (text.index("KH"), len(text))]
    assert [(m.value, m.raw) for m in find_amounts(text, blocked)] == [(Decimal(4000), "4000元")]
    # a blocked span next to digits does not leave its tail as an amount
    assert find_amounts("C10024000", [(0, 5)]) == []


def test_context_words_that_look_like_markers():
    assert [(m.value, m.raw) for m in mentions("十万火急，C1002要4000元")] == [(Decimal(4000), "4000元")]
    assert [m.value for m in mentions("C1002额度大于2000吗")] == [Decimal(2000)]  # 于 is no year marker
    assert [(m.raw, m.problem) for m in find_amounts("C1002 wants 4000dollars", [(0, 5)])] == [("4000dollars", "ambiguous")]
    assert [m.value for m in mentions("上传1000多种材料")] == [Decimal(1000)]  # a count, not 'more than 1000 yuan'
    assert [m.value for m in mentions("C1002余额4000，问4000多少合适")] == [Decimal(4000), Decimal(4000)]


def test_between_and_dates_the_caller_did_not_block():
    assert [m.problem for m in find_amounts("somewhere between 5 and 8 thousand")] == ["ambiguous", "ambiguous"]
    assert [m.problem for m in find_amounts("介于3000和4000之间")] == ["ambiguous", "ambiguous"]
    assert find_amounts("as of 2026-04-31") == [] and find_amounts("on 31/04/2026") == []
    assert [m.value for m in find_amounts("T22X7702 — 1,200 for a drill", [(0, 8)])] == [Decimal(1200)]  # a spaced em dash


def test_words_that_start_with_a_measure_character():
    for text in ("临额3000 名义上是买冰柜", "临额4000日常开销用", "临额4000周转一下", "临额4000月供用"):
        assert [m.value for m in find_amounts(text)] == [Decimal(text[2:6])], text


def test_several_amounts_in_order_with_spans():
    text = "C1002要两千零八元，不是2800，也不是4,100"
    found = mentions(text)
    assert [(m.value, m.raw) for m in found] == [(Decimal(2008), "两千零八元"), (Decimal(2800), "2800"), (Decimal(4100), "4,100")]
    assert [text[m.start:m.end] for m in found] == ["两千零八元", "2800", "4,100"]


def test_the_attack_cases_of_issue_14():
    assert extract_amounts("给C1002批两千零八元临时额度") == [Decimal(2008)]
    assert extract_amounts("C1002 临时额度四千零一") == [Decimal(4001)]
    for text in ("C1002 临时额度 -4000", "C1002 临时额度负四千", "C1002 临时额度 4,0000",
                 "C1002 临时额度 4\u200b000", "C1002 临时额度 4 000"):
        assert extract_amounts(text) == [] and mentions(text)[0].problem in ("negative", "malformed"), text
    assert extract_amounts("客户4402198812要开临时额度4000") == [Decimal(4000)]


def test_parse_chinese_number_keeps_working():
    assert parse_chinese_number("四千元") == 4000 and parse_chinese_number("两千零八") == 2008
    assert parse_chinese_number("四千零一") == 4001 and parse_chinese_number("五五五") is None


def _grouped(n: int) -> str:
    return f"{n:,}"


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**8), st.sampled_from(["{}", "{}元", "¥{}", "RMB {}", "{} yuan", "{}块", "人民币{}元"]),
       st.booleans(), st.booleans())
def test_arabic_amounts_read_exactly(n, template, grouped, full_width):
    digits = _grouped(n) if grouped else str(n)
    if full_width:
        digits = digits.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"} | {ord(","): "，"})
    text = f"C1002 临时额度 {template.format(digits)} 买冰箱"
    found = find_amounts(text, [(0, 5)])  # the customer id blocked, nothing else
    if not grouped and n >= 10**8 and template == "{}":
        assert found == []  # nine digits without a mark: an account number
        return
    assert [(m.value, m.problem) for m in found] == [(Decimal(n), None)]


@settings(max_examples=200, deadline=None)
@given(st.integers(10, 10**7), st.data())
def test_an_invisible_character_inside_a_number_is_malformed(n, data):
    s = str(n)
    at = data.draw(st.integers(1, len(s) - 1))
    ch = data.draw(st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00a0", "\u202f", "\u00ad"]))
    text = f"给C1002开{s[:at]}{ch}{s[at:]}元临时额度"
    found = mentions(text)
    assert [m.problem for m in found] == ["malformed"] and extract_amounts(text) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=4).filter(lambda g: any(x != 3 for x in g[1:]) or g[0] > 3))
def test_a_separator_in_the_wrong_place_is_malformed(groups):
    number = ",".join("4" + "0" * (k - 1) if i == 0 else "0" * k for i, k in enumerate(groups))
    text = f"C1002 temporary quota {number} yuan"
    found = mentions(text)
    assert [m.problem for m in found] == ["malformed"], (number, found)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 9999), st.integers(1, 99))
def test_wan_and_k_with_decimals(whole, frac):
    v = Decimal(f"{whole}.{frac:02d}")
    assert one(f"C1002 临时额度 {v}万").value == v * 10000
    assert one(f"C1002 temp quota {v}k").value == v * 1000


FUZZ_ALPHABET = "0123456789０１２,，.．-−¥￥元块万千百十零一二两三四五八九亿几多余到 kKwW\u200b\u00a0xyRMB负减%天个第点:/$"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=FUZZ_ALPHABET, max_size=30), st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=3))
def test_any_text_gives_ordered_disjoint_mentions_outside_blocked_spans(text, spans):
    blocked = [(min(a, b), max(a, b)) for a, b in spans]
    last = 0
    for m in find_amounts(text, blocked):
        assert m.raw == text[m.start:m.end] and m.start >= last
        last = m.end
        assert (m.value is None) == (m.problem in ("malformed", "ambiguous"))
        assert m.problem is not None or m.value > 0
        assert m.problem != "negative" or m.value < 0
        assert all(m.end <= s or m.start >= e for s, e in blocked if s < e)
