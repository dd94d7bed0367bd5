"""Chinese numerals read exactly: 两千零八 = 2008, 四千零一 = 4001, 一万五 = 15000, 3千5 = 3500, 1.2万 = 12000.

`read_numeral` returns the Decimal a numeral denotes, `read_chinese_number` the int; both return None for
anything malformed or ambiguous, so that a caller asks instead of guessing. Pure functions.

Forms read:
- digits 零〇 一二两三四五六七八九, the financial 壹贰叁肆伍陆柒捌玖 (and 貳參陸 兩), units 十百千 (拾佰仟) and
  万亿 (萬億); ASCII and full-width digits as coefficients (3千5, 1万2千, 12万, 1万2000), a decimal in front of
  one unit (1.2万, 0.4万, 1.5亿) and 点 in Chinese (一点五万, 十二点五万);
- 零 marks a skipped position: 两千零八 = 2008, 一万零五百 = 10500, 十万零三 = 100003, 一千零一十 / 一千零十 = 1010;
- a leading 十 needs no digit: 十五 = 15, 十万 = 100000; 一十五 = 15 too;
- a trailing digit right after a unit counts one position lower (colloquial): 三千五 = 3500, 一百五 = 150,
  一万五 = 15000, 两万三 = 23000, 一亿五 = 150000000; after 零 it is the ones: 三千零五 = 3005.

Decisions (None, so the caller asks):
- a skipped position without 零 (一万五百, 一千五十): non-standard; the reading a speaker meant is not certain;
- digits in a row without a unit (五五五, 二〇二六, 一一): a digit-by-digit reading (a year, a phone number) or a
  colloquial ambiguity, never a quantity here;
- two digits in a row before a unit (两三千, 三五千, 七八万): an approximate range;
- a leading 百/千/万/亿 without a digit (百万, 千万 'by all means', 万一 'in case');
- 两 before 十 (两十) or as a trailing digit (一万两: 12000 to some, but 两 is also a tael); units out of order
  (千千, 一百千), two 万 or two 亿 in one section (万万), 零 twice in a row or at the end.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Callable

_ZEROS = "零〇"
DIGITS = {"一": 1, "壹": 1, "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2, "三": 3, "叁": 3, "參": 3, "四": 4, "肆": 4,
          "五": 5, "伍": 5, "六": 6, "陆": 6, "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG_UNITS = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_LIANG = "两兩"
# ASCII and full-width digits; other scripts' digits are not read.
_ARABIC = {**{str(i): str(i) for i in range(10)}, **{chr(0xFF10 + i): str(i) for i in range(10)}}
_WAN, _YI = 10**4, 10**8

# A token: (kind, value, is 两). kinds: "d" digit 1-9, "z" 零, "n" Arabic number (str), "u" 十百千, "b" 万亿.
_Token = tuple[str, object, bool]


def _tokens(s: str) -> list[_Token] | None:
    out: list[_Token] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch in _ARABIC:
            j = i
            while j < len(s) and (s[j] in _ARABIC or s[j] in ".．"):
                j += 1
            num = "".join(_ARABIC.get(c, ".") for c in s[i:j])
            if num.count(".") > 1 or num.endswith("."):
                return None
            out.append(("n", num, False))
            i = j
            continue
        if ch in _ZEROS:
            out.append(("z", 0, False))
        elif ch in DIGITS:
            out.append(("d", DIGITS[ch], ch in _LIANG))
        elif ch in UNITS:
            out.append(("u", UNITS[ch], False))
        elif ch in BIG_UNITS:
            out.append(("b", BIG_UNITS[ch], False))
        else:
            return None
        i += 1
    return out


def _plain_int(num: object) -> int | None:
    """An Arabic integer without a leading zero, else None."""
    s = str(num)
    if "." in s or (len(s) > 1 and s[0] == "0"):
        return None
    return int(s)


def _section(toks: list[_Token]) -> int | None:
    """A number below 10,000 (no 万/亿 inside); None when malformed."""
    if not toks:
        return None
    if len(toks) == 1 and toks[0][0] == "n":
        v = _plain_int(toks[0][1])
        return v if v is not None and 0 < v < _WAN else None
    total, prev, digit, zero = 0, _WAN, None, False
    for i, (kind, v, liang) in enumerate(toks):
        if kind == "n":  # a single Arabic digit among Chinese units: 3千5
            if len(str(v)) != 1 or v == "0":
                return None
            kind, v, liang = "d", int(str(v)), False
        if kind == "d":
            if digit is not None:
                return None  # digits in a row: 五五五, 两三千
            digit = (v, liang)
        elif kind == "z":
            if digit is not None or zero or prev == _WAN:
                return None  # 零 only right after a unit, once
            zero = True
        elif kind == "u":
            unit = int(v)  # type: ignore[call-overload]
            if unit >= prev:
                return None  # units out of order: 千千, 一百千
            if digit is None:
                if not (unit == 10 and (i == 0 or zero)):
                    return None  # only 十 stands without a digit, at the start or after 零
                coef = 1
            else:
                coef, is_liang = digit
                if is_liang and unit == 10:
                    return None  # 两十
            if zero and unit * 10 >= prev:
                return None  # 零 must mark a skipped position: 一千零五百
            if not zero and prev != _WAN and unit * 10 < prev:
                return None  # a skipped position needs 零: 一千五十
            total += int(coef) * unit  # type: ignore[call-overload]
            prev, digit, zero = unit, None, False
        else:
            return None
    if digit is not None:
        d, is_liang = int(digit[0]), digit[1]  # type: ignore[call-overload]
        if prev == _WAN:
            return d  # a lone digit (两 included)
        if is_liang:
            return None  # 一千两: not a standard trailing digit
        if zero:
            if prev < 100:
                return None  # 十零五
            return total + d
        return total + d * prev // 10  # 三千五 = 3500, 十五 = 15
    return None if zero else total


def _low(toks: list[_Token], big: int, below: Callable[[list[_Token]], int | None]) -> int | None:
    """The part after 万 or 亿, given the big unit's value."""
    if not toks:
        return 0
    if len(toks) == 1 and (toks[0][0] == "d" or (toks[0][0] == "n" and len(str(toks[0][1])) == 1)):
        d = int(str(toks[0][1]))
        if toks[0][2] or d == 0:
            return None  # 一万两, 1万0
        return d * big // 10  # colloquial: 一万五 = 15000, 一亿五 = 150000000
    if toks[0][0] == "z":
        v = below(toks[1:])
        return v if v is not None and 0 < v < big // 10 else None
    v = below(toks)
    return v if v is not None and v >= big // 10 else None


def _below_yi(toks: list[_Token]) -> int | None:
    """A number below 10^8 (at most one 万)."""
    if any(k == "b" and v == _YI for k, v, _ in toks):
        return None
    at = [i for i, (k, _, _) in enumerate(toks) if k == "b"]
    if not at:
        return _section(toks)
    if len(at) > 1:
        return None
    i = at[0]
    high = _section(toks[:i])
    if not high:
        return None
    low = _low(toks[i + 1:], _WAN, _section)
    return None if low is None else high * _WAN + low


def _integer(toks: list[_Token]) -> int | None:
    at = [i for i, (k, v, _) in enumerate(toks) if k == "b" and v == _YI]
    if not at:
        return _below_yi(toks)
    if len(at) > 1:
        return None
    i = at[0]
    high = _below_yi(toks[:i])
    if not high:
        return None
    low = _low(toks[i + 1:], _YI, _below_yi)
    return None if low is None else high * _YI + low


def _with_point(s: str) -> Decimal | None:
    """一点五万 = 15000, 十二点五万 = 125000, 一点五 = 1.5: the integer part, digits after 点, at most one unit."""
    whole, _, rest = s.partition("点")
    unit = 1
    if rest and (rest[-1] in UNITS or rest[-1] in BIG_UNITS) and rest[-1] not in "十拾":
        unit = UNITS.get(rest[-1]) or BIG_UNITS[rest[-1]]
        rest = rest[:-1]
    if not rest or "点" in rest:
        return None
    frac = ""
    for ch in rest:
        if ch in _ZEROS:
            frac += "0"
        elif ch in DIGITS and ch not in _LIANG:
            frac += str(DIGITS[ch])
        elif ch in _ARABIC:
            frac += _ARABIC[ch]
        else:
            return None
    n = read_chinese_number(whole) if whole else None
    if n is None:
        return None
    return Decimal(f"{n}.{frac}") * unit


def read_numeral(s: str) -> Decimal | None:
    """The value of a Chinese, Arabic or mixed numeral without currency marks; None when malformed or ambiguous."""
    if not s:
        return None
    if "点" in s:
        return _with_point(s)
    toks = _tokens(s)
    if not toks:
        return None
    if len(toks) == 1 and toks[0][0] == "z":
        return Decimal(0)
    decimals = [t for t in toks if t[0] == "n" and "." in str(t[1])]
    if len(toks) == 1 and toks[0][0] == "n":
        num = str(toks[0][1])
        if len(num) > 1 and num[0] == "0" and num[1] != ".":
            return None
        try:
            return Decimal(num)
        except InvalidOperation:  # pragma: no cover - the tokenizer only lets digits and one point through
            return None
    if decimals:
        if len(toks) != 2 or toks[0] is not decimals[0] or toks[1][0] not in ("u", "b") \
                or str(toks[0][1]).startswith("00"):
            return None
        return Decimal(str(toks[0][1])) * int(toks[1][1])  # type: ignore[call-overload]
    n = _integer(toks)
    return None if n is None else Decimal(n)


def read_chinese_number(s: str) -> int | None:
    """四千 -> 4000, 两千零八 -> 2008, 四千零一 -> 4001, 一万五 -> 15000, 3千5 -> 3500, 1.2万 -> 12000.
    None for anything malformed or ambiguous (see the module's decisions) and for values that are not whole."""
    v = read_numeral(s)
    if v is None or v != v.to_integral_value():
        return None
    return int(v)
