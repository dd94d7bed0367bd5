"""agents.numerals against a reference formatter written here: format n in Chinese numerals, read it back, get n."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.numerals import read_chinese_number, read_numeral

STANDARD = "零一二三四五六七八九"
FINANCIAL = "零壹贰叁肆伍陆柒捌玖"
UNITS_STANDARD = ("千", "百", "十", "")
UNITS_FINANCIAL = ("仟", "佰", "拾", "")


def fmt(n: int, *, financial: bool = False, liang: bool = False, yi_shi: bool = False, ling: str = "零") -> str:
    """n (1 <= n < 10^12) in standard Chinese numerals: 2008 -> 二千零八, 10500 -> 一万零五百, 15 -> 十五.
    financial: 壹贰叁 拾佰仟 萬億; liang: 两 for 2 before 百/千/万/亿; yi_shi: 一十 also at the start; ling: 零 or 〇."""
    assert 1 <= n < 10**12
    digits = FINANCIAL if financial else STANDARD
    units = UNITS_FINANCIAL if financial else UNITS_STANDARD
    bigs = ("萬", "億") if financial else ("万", "亿")
    groups = [(n // 10**8) % 10**4, (n // 10**4) % 10**4, n % 10**4]
    big_names = (bigs[1], bigs[0], "")
    out, pending_zero = "", False
    for group, big in zip(groups, big_names):
        if group == 0:
            pending_zero = pending_zero or bool(out)
            continue
        if out and (pending_zero or group < 1000):
            out += ling
        pending_zero = False
        started = False
        for k, unit in enumerate(units):
            d = group // 10 ** (3 - k) % 10
            if d == 0:
                pending_zero = pending_zero or started
                continue
            if pending_zero:
                out += ling
                pending_zero = False
            if liang and d == 2 and unit in ("千", "百", "仟", "佰"):
                out += "两"
            elif d == 1 and k == 2 and not out and not yi_shi:
                pass  # 十五, not 一十五, at the very start
            else:
                out += digits[d]
            out += unit
            started = True
        pending_zero = False  # zeros at the end of a group are written only before the next group
        if big:
            if liang and group == 2:
                out = out[:-1] + "两"
            out += big
    return out


def test_the_reference_formatter_writes_standard_forms():
    assert [fmt(n) for n in (1, 10, 15, 20, 110, 1010, 2008, 4001, 10500, 100003, 15000, 120000, 100000000)] == [
        "一", "十", "十五", "二十", "一百一十", "一千零一十", "二千零八", "四千零一", "一万零五百", "十万零三",
        "一万五千", "十二万", "一亿"]
    assert fmt(2008, liang=True) == "两千零八" and fmt(20000, liang=True) == "两万"
    assert fmt(1015, financial=True) == "壹仟零壹拾伍" and fmt(10, yi_shi=True) == "一十"
    assert fmt(100010000) == "一亿零一万" and fmt(1000001) == "一百万零一"


def test_exhaustive_sweep_1_to_20000():
    wrong = [n for n in range(1, 20_001) if read_chinese_number(fmt(n)) != n]
    assert wrong == []


def test_every_variant_on_a_sweep():
    for n in range(1, 20_001, 7):
        for kwargs in ({"financial": True}, {"liang": True}, {"yi_shi": True}, {"ling": "〇"}):
            assert read_chinese_number(fmt(n, **kwargs)) == n, (n, kwargs, fmt(n, **kwargs))


def test_a_seeded_sample_of_larger_numbers():
    rng = random.Random(14)
    sample = [rng.randrange(20_001, 10**8 + 1) for _ in range(20_000)]
    sample += [10**8, 10**8 - 1, 10**7, 10**7 + 1, 100_010_000, 99_990_009]
    assert [n for n in sample if read_chinese_number(fmt(n)) != n] == []


@settings(max_examples=800, deadline=None)
@given(st.integers(1, 10**8), st.booleans(), st.booleans(), st.booleans())
def test_format_then_read_gives_n(n, financial, liang, yi_shi):
    assert read_chinese_number(fmt(n, financial=financial, liang=liang, yi_shi=yi_shi)) == n


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**11))
def test_beyond_one_yi(n):
    assert read_chinese_number(fmt(n)) == n


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.sampled_from([(1000, "千"), (100, "百"), (10**4, "万"), (10**8, "亿")]))
def test_colloquial_trailing_digit_counts_one_position_lower(a, b, unit):
    value, name = unit
    assert read_chinese_number(f"{STANDARD[a]}{name}{STANDARD[b]}") == a * value + b * value // 10
    assert read_chinese_number(f"{a}{name}{b}") == a * value + b * value // 10  # mixed: 3千5


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 10**8))
def test_mixed_arabic_coefficients(n):
    """n written with Arabic digits in front of 万 and Chinese below: 12万3千 style."""
    high, low = divmod(n, 10**4)
    if high == 0 or high >= 10**4:
        return
    text = f"{high}万" + ("零" + fmt(low) if 0 < low < 1000 else fmt(low) if low else "")
    assert read_chinese_number(text) == n, text


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**6))
def test_plain_arabic_and_full_width_digits(n):
    assert read_chinese_number(str(n)) == n
    assert read_chinese_number(str(n).translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})) == n


@pytest.mark.parametrize("text, value", [
    ("两千零八", 2008), ("四千零一", 4001), ("一万零五百", 10500), ("十万零三", 100003), ("十五", 15), ("一十五", 15),
    ("三千五", 3500), ("一万五", 15000), ("两万三", 23000), ("三千零五", 3005), ("一百五", 150), ("一亿五", 150_000_000),
    ("两千", 2000), ("两万", 20000), ("两百", 200), ("两", 2), ("两亿", 200_000_000), ("十", 10), ("十万", 100_000),
    ("一千零十", 1010), ("一千零一十", 1010), ("一万零十五", 10015), ("一千〇八", 1008),
    ("壹万贰仟", 12000), ("贰仟零捌", 2008), ("肆仟零壹", 4001), ("拾伍", 15), ("伍萬", 50000), ("壹億", 10**8),
    ("兩千", 2000), ("參仟", 3000), ("陸佰", 600),
    ("3千5", 3500), ("1万2千", 12000), ("12万", 120_000), ("1万2", 12000), ("1万2000", 12000), ("3千5百", 3500),
    ("1.2万", 12000), ("0.4万", 4000), ("1.5亿", 150_000_000), ("2.5千", 2500), ("１.２万", 12000), ("４千", 4000),
    ("一点五万", 15000), ("十二点五万", 125_000), ("两点五万", 25000), ("一万亿", 10**12), ("一千零五万", 10_050_000),
    ("一亿零五百万", 105_000_000), ("三千五百五", 3550), ("一亿零三万零五", 100_030_005), ("4000", 4000), ("零", 0),
])
def test_forms(text, value):
    assert read_chinese_number(text) == value


@pytest.mark.parametrize("text", [
    "千千", "万万", "一万万", "亿亿", "五五五", "二〇二六", "一一", "两三千", "三五千", "七八万", "一两万",
    "百万", "千万", "万一", "千", "万", "一百十", "一万五百", "一千五十", "一亿五万", "两十", "一万两", "一千两",
    "一千零", "零五", "一千零零八", "一千零五百", "十零五", "一百千", "12千", "1万20", "1万0500", "0400",
    "1.2.3万", "1.2万3千", "四千块", "4,000", "四 千", "四\u200b千", "4k", "", "几千", "十几万",
])
def test_malformed_or_ambiguous_is_none(text):
    assert read_chinese_number(text) is None


def test_read_numeral_keeps_fractions_that_read_chinese_number_refuses():
    assert read_numeral("1.25千") == Decimal("1250") and read_numeral("一点五") == Decimal("1.5")
    assert read_chinese_number("一点五") is None and read_numeral("1.00001万") == Decimal("10000.1")
