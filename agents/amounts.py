"""Money mentions in an operator's message: read exactly, or flagged so that the caller asks.

`find_amounts(text, blocked)` returns every amount-like mention in order as an `AmountMention`:
`value` (Decimal), `start`/`end`/`raw` (the whole mention in `text`: sign, currency marks and multiplier
included), `currency` (marked as money: 元/块/¥/￥/RMB/CNY/yuan/k/w/thousand, or a Chinese or Arabic number with
百/千/万/亿) and `problem`:

- None: a valid amount; `value` is the amount (a whole number as an integral Decimal, else as written). A bare
  number (4000, currency False) is valid too: whether it is money is the caller's reading of the context.
- "negative": a minus sign or 负 in front (-4000, −4000, -¥4000, ¥-4000, 负四千, minus 4000); `value` is the
  negative number read.
- "zero": 0, 0.00, 零元; `value` is 0.
- "malformed": a thousands separator in the wrong place (4,0000, 40,00, 4.000,00), spaces or invisible or
  format characters inside a number (4 000, 4\u200b000, 四\u200b千), other separators (4'000, 4_000), a leading
  zero (04000), three decimals without a unit (4.000: 4 or 4000?), fractions of a fen, digits of other scripts,
  a Chinese numeral that does not read (一万五百, 一千两); `value` is None.
- "ambiguous": a range (3000-4000, 3000到4000, 三到五千, 3000 or 4000, 3k-4k), an approximation (两三千, 几千,
  十几万, 四千多, 4000余元, 四千来块), a relative decrease (减4000: a change, not an amount), a foreign currency
  ($4000, 4000美元, 4000 dollars), digits-only Chinese with a currency mark (五五五元); `value` is None.
  'About 4000' (约4000, 4000左右) is not flagged: the number itself is exact.

Left out entirely (not mentions): spans in `blocked` (customer ids, dates, rule and clause ids the caller
found), percentages, day/month/year counts, counts of things (3笔, 2 records), ordinals (第3, 3rd), years
(2025年, in/since 2025), times (10:30, 3点), fractions (3/4), numbers glued to letters (x4000, 1e400, 4kg), pieces
of ids (zx.4412, phone and ID numbers written in groups: 139 0003 0021, 110101 199004040033), digit strings
of 9 or more digits without separators or a currency mark (account numbers), a lone Chinese numeral
character (一, 十, 两) or digits-only Chinese (二〇二六) without a currency mark, bare units (千万, 万一) and a
few idioms (十万火急, 一五一十). English number words (four thousand) are not read. The caller sees several
amounts as several mentions; whether several distinct values make a request ambiguous is its decision.
Full-width digits and separators (４０００元, ４，０００) read like ASCII ones; a full-width comma that is no valid
thousands separator separates a list (3000，4000), except after 1-3 digits (４，００００ is malformed).
Pure function, no clock.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Literal, Sequence

from pydantic import BaseModel, ConfigDict

from agents.numerals import BIG_UNITS, DIGITS, UNITS, read_numeral
from tools.privacy import masked_spans

Problem = Literal["negative", "zero", "malformed", "ambiguous"]


class AmountMention(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: Decimal | None
    start: int
    end: int
    raw: str
    currency: bool
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.value is not None


# Full-width ASCII (digits, letters, ．－：％～＄) as ASCII, the ideographic space as a space; same length.
# The full-width comma stays: it joins digits only as a valid thousands separator (４，０００), else it is a list.
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if c != 0xFF0C} | {0x3000: 0x20}
_INVISIBLE = "".join(sorted({chr(c) for c in range(0x80, 0x10000) if unicodedata.category(chr(c)) in ("Cf", "Zs", "Zl", "Zp")}
                            | {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0"} | {chr(c) for c in range(0xFE00, 0xFE10)}))
_INV = re.escape(_INVISIBLE)
_INVISIBLE_SET = frozenset(_INVISIBLE) | {"'", "_"}
_CN_DIGIT = "零〇" + "".join(DIGITS)
_CN_UNIT = "".join(UNITS) + "".join(BIG_UNITS)
_CN = _CN_DIGIT + _CN_UNIT + "几"
_MAGNITUDE = frozenset("百佰千仟万萬亿億")
_UNIT_SET = frozenset(_CN_UNIT)
_CN_DIGIT_SET = frozenset(_CN_DIGIT + "几")
_ASCII_DIGITS = frozenset("0123456789")
_IDIOMS = re.compile("十万火急|一五一十")

_RUN = re.compile(
    rf"[0-9{_CN}]"
    rf"(?:[0-9{_CN}]"
    rf"|(?<=[0-9])[.,'_](?=[0-9])"
    rf"|(?<![0-9]{{4}})(?<=[0-9]) (?=[0-9]{{3}}(?![0-9]))"
    rf"|(?<![0-9]{{4}})(?<=[0-9])，(?=[0-9])"
    rf"|(?<=[0-9{_CN}])[{_INV}]+(?=[0-9{_CN}])"
    rf"|(?<=[0-9]) (?=[{_CN_UNIT}])"
    rf"|(?<=[0-9{_CN_DIGIT}])点(?=[0-9{_CN_DIGIT}])"
    rf")*"
)
# Phone, ID and card numbers written in groups: never amounts.
# A date, valid or not (2026-04-31, 31/04/2026): never an amount, whether or not the caller blocked it.
# the same separator twice: 2026-1-15, 2026 / 1 / 15, 15.01.2026 (not "1102 - 4.5k")
_DATE_SHAPE = re.compile(r"(?<![0-9])(?:[0-9]{4}\s*([-/.])\s*[0-9]{1,2}\s*\1\s*[0-9]{1,2}|[0-9]{1,2}([-/.])[0-9]{1,2}\2[0-9]{4})(?![0-9])")
_CHAIN = re.compile(r"(?<![0-9A-Za-z])[0-9]+(?:[ -][0-9]+)+[Xx]?(?![0-9A-Za-z])")

_GROUP_SEP = re.compile(r"[ -]")
_SPACE_GROUPED = re.compile(r"\d{1,3}(?: \d{3})+")
_COMMA_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DIGIT_SPACE_DIGIT = re.compile(r"[0-9] [0-9]")
_ARABIC_SEGMENT = re.compile(r"[0-9][0-9.,，]*")
_ARABIC_ONLY = re.compile(r"[0-9.,，]+")
_DIGITS_BEFORE_UNIT = re.compile(rf"[{_CN_DIGIT[2:]}]{{2}}[{_CN_UNIT}]")  # 两三千, 七八万: a range

_WINDOW = 24
_PREFIX = re.compile(
    r"(?P<sign>(?<![0-9A-Za-z\x00])[-−–‒]|负\s*|(?<![A-Za-z])(?:minus|negative)\s+)?"
    r"(?:(?P<cur>(?:¥|￥|RMB|CNY|人民币)\s*)(?P<sign2>[-−–‒]|负\s*)?)?$", re.I)
_FOREIGN_PREFIX = re.compile(r"(?:US\$|HK\$|\$|€|£|(?<![A-Za-z])(?:USD|HKD|EUR|GBP|JPY))\s*[-−]?$")
_DECREASE = re.compile(r"减(?:少|去|掉)?\s*$")
# A range: 3000-4000, 3000 - 4000, 3000~4000, 3000到4000, 3000 or 4000 (a spaced em dash is punctuation)
_CONNECT = r"(?:[-~～–—]|\s+[-~～–]\s+|\s*(?:至|到|或者?)\s*|\s+(?:to|or)\s+)"
_RANGE_BEFORE = re.compile(rf"[0-9{_CN_DIGIT}](?:\s*(?:元|块|[kKwW]|[千万]))?{_CONNECT}(?:(?:¥|￥|RMB)\s*)?$")
_BETWEEN = re.compile(r"(?:(?<![A-Za-z])between\s+|介于\s*)(?:\S{1,12}?(?:\s+and\s+|\s*[和与跟]\s*))?(?:(?:¥|￥|RMB)\s*)?$", re.I)
_RANGE_AFTER = re.compile(rf"(?:\s*(?:元|块))?{_CONNECT}(?:(?:¥|￥|RMB)\s*)?[0-9{_CN_DIGIT}]")
_NOT_AMOUNT_BEFORE = re.compile(
    r"(?:第|百分之|千分之|尾号|卡号|账号|帳號|编号|工号|单号|订单号|手机号?|电话|号码|身份证号?|证件号)\s*[:：]?\s*$"
    r"|(?:#|(?<![A-Za-z])(?:No\.|acct\.?|account\s*(?:no\.?|number|#)|card|tel\.?|phone|ID))\s*[:：#]?\s*$", re.I)
_YEAR_BEFORE = re.compile(r"(?:(?<![A-Za-z])(?:in|since|before|after|until|till|year|FY)|年份|Q[1-4])\s*$", re.I)
_MULTIPLIER = re.compile(r"\s?(?:([kK])|([wW]))(?![A-Za-z])|\s?(thousand|million)(?![A-Za-z])", re.I)
# 四千多, 4000余元, 四千来块: more than or about; not 多少 (how much), 余额 (balance), 1000多种 (a count)
_APPROX_AFTER = re.compile(r"(?:多|余|餘)(?![少吗么呢啊额種种類类样项件个個位名人户家张本篇份台辆套批次笔条])|(?:来|來)(?=[元块塊])")
_FOREIGN_AFTER = re.compile(r"\s*(?:美元|美金|港币|港元|欧元|日元|英镑|(?:dollars?|usd|hkd|eur|euros?|gbp|jpy)(?![A-Za-z]))", re.I)
_CUR_AFTER = re.compile(r"\s*(?:块钱|人民币|元|块|塊|圆|圓|(?:yuan|rmb|cny|kuai)(?![A-Za-z])(?!\s*[-−]?[0-9]))", re.I)
_LOOKALIKE_DIGITS = re.compile(r"[OoIlОо]+(?![A-Za-z\u0400-\u04ff])")
_FEN = r"(?:[角毛]|分(?![期钟鐘之]))"
_FEN_AFTER = re.compile(r"\s*[角毛]")  # 5毛; a bare 分 is a score or a minute (芝麻分700分), not an amount
_FEN_TAIL = re.compile(rf"[0-9{_CN_DIGIT}]\s*{_FEN}|[1-9{_CN_DIGIT[2:]}](?![0-9{_CN}.,，])")
# Percentages, durations, dates, times, ratios and counts of records, people, times: not amounts.
_NOT_AMOUNT_AFTER = re.compile(
    r"\s*(?:[%％‰]|个月|個月|小时|小時|分(?![期之])|星期|礼拜|[天岁歲週笔筆位户戶號倍秒]|日(?![常用子])|月(?![供薪租收])"
    r"|年(?![化费薪收利])|周(?![末转])|次(?!日)|[个個](?!人)|名(?![义下额字])|人(?!民)|[条條](?!件)|期(?![限间])"
    r"|号(?!码)|成(?![本交功为])|折(?![扣旧])"
    r"|点(?![0-9" + _CN_DIGIT + r"])"
    r"|(?:percent|pct|bps?|days?|months?|mos|years?|yrs?|weeks?|wks?|hours?|hrs?|minutes?|mins?|seconds?|secs?"
    r"|records?|times|people|persons?|customers?|clients?|accounts?|loans?|installments?|instalments?|payments?"
    r"|am|pm)(?![A-Za-z]))", re.I)


def _is_letter(ch: str) -> bool:
    return ch.isalpha() and ch < "\u2e80"


def _other_digit(ch: str) -> bool:
    return ch.isdigit() and ch not in "0123456789"


def _glued_before(t: str, s: int) -> bool:
    """The run starts inside a longer token: x4000, zx.4412, 10:30's 30, 3/4's 4, a blocked span's tail."""
    if s == 0:
        return False
    a = t[s - 1]
    if _is_letter(a) or a == "\x00":
        return True
    b = t[s - 2] if s >= 2 else ""
    if a in "._/" and b and (b.isascii() and b.isalnum() or b == "\x00"):
        return True
    if a == "-" and b and (_is_letter(b) or b == "\x00"):
        return True
    return a == ":" and b.isdigit()


def _glued_after(t: str, e: int) -> bool:
    a = t[e] if e < len(t) else ""
    b = t[e + 1] if e + 1 < len(t) else ""
    if a == "\x00":
        return True
    return (a in "._-/:" and (_is_letter(b) or b == "\x00")) or (a in ":/" and b.isdigit())


def _masked(text: str, blocked: Sequence[tuple[int, int]]) -> str:
    chars = list(text.translate(_FULLWIDTH))
    for m in _IDIOMS.finditer(text):  # masked, but no id: a number right after one is still read
        chars[m.start():m.end()] = "\x01" * (m.end() - m.start())
    spans = list(blocked) + masked_spans(text)  # a masked phone or ID number ("138 **** 5678") is no amount
    t = "".join(chars)
    spans += [(m.start(), m.end()) for m in _DATE_SHAPE.finditer(t)]
    for m in _CHAIN.finditer(t):
        groups = _GROUP_SEP.split(m.group(0).rstrip("Xx"))
        digits = sum(len(g) for g in groups)
        thousands = _SPACE_GROUPED.fullmatch(m.group(0)) is not None
        if digits >= 9 and not thousands and (len(groups) >= 3 or max(map(len, groups)) >= 6
                                              or any(g.startswith("0") for g in groups[1:])):
            spans.append((m.start(), m.end()))
    for s, e in spans:
        for i in range(max(0, s), min(len(chars), e)):
            chars[i] = "\x00"
    return "".join(chars)


def _arabic_problem(core: str) -> str | None:
    """Why the digits of a run cannot be read as written, else None."""
    if not _INVISIBLE_SET.isdisjoint(core) or _DIGIT_SPACE_DIGIT.search(core):
        return "malformed"
    for seg in _ARABIC_SEGMENT.findall(core):
        seg = seg.replace("，", ",")
        if "," in seg and not _COMMA_GROUPED.fullmatch(seg):
            return "malformed"
        if seg.count(".") > 1 or (len(seg) > 1 and seg[0] == "0" and seg[1] in _ASCII_DIGITS):
            return "malformed"
    return None


def _read_run(core: str) -> tuple[Decimal | None, str | None]:
    """The value of one run and its problem."""
    problem = _arabic_problem(core)
    if problem:
        return None, problem
    clean = core.replace(",", "").replace("，", "").replace(" ", "")  # a space is left only before a unit: 4 千
    value = read_numeral(clean)
    if value is not None:
        return value, None
    cn = [c for c in core if c in _CN_DIGIT_SET or c in _UNIT_SET]
    if "几" in core or (len(cn) > 1 and _UNIT_SET.isdisjoint(cn)) or _DIGITS_BEFORE_UNIT.search(core):
        return None, "ambiguous"
    return None, "malformed"


def _mention(text: str, t: str, s: int, e: int) -> AmountMention | None:
    core = t[s:e]
    arabic = not _ASCII_DIGITS.isdisjoint(core)
    if not arabic and _CN_DIGIT_SET.isdisjoint(core):
        return None  # bare units: 千万, 百万
    if not arabic and core[0] in _CN_UNIT and core[0] not in "十拾":
        lead = len(core) - len(core.lstrip(_CN_UNIT))
        return _mention(text, t, s + lead, e) if lead < len(core) else None  # 万一: in case
    w0 = max(0, s - _WINDOW)
    pre, post = t[w0:s], t[e:e + _WINDOW]
    prefix = _PREFIX.search(pre)
    assert prefix is not None  # every group is optional
    cur_pre, sign = prefix.group("cur"), prefix.group("sign") or prefix.group("sign2")
    range_before = _RANGE_BEFORE.search(pre) or _BETWEEN.search(pre)
    if arabic and core[0] in "0123456789" and not cur_pre and not sign and not range_before and _glued_before(t, s):
        return None
    if _NOT_AMOUNT_BEFORE.search(pre):
        return None
    plain_arabic = arabic and _ARABIC_ONLY.fullmatch(core) is not None
    mult = _MULTIPLIER.match(post) if plain_arabic else None
    i = mult.end() if mult else 0
    lookalike = _LOOKALIKE_DIGITS.match(post) if arabic else None  # 3,5OO, 4OOO: letters posing as digits
    if arabic and core[-1] in _ASCII_DIGITS and not mult and not lookalike and not _CUR_AFTER.match(post) \
            and not _FOREIGN_AFTER.match(post) and not _RANGE_AFTER.match(post) \
            and (_glued_after(t, e) or (post[:1] and _is_letter(post[0]))):
        if "," in core or "，" in core:
            return AmountMention(value=None, start=s, end=e, raw=text[s:e], currency=False, problem="malformed")
        return None  # x4000, 4kg: part of another token
    approx = _APPROX_AFTER.match(post, i)
    j = approx.end() if approx else i
    cur_post = _CUR_AFTER.match(post, j)
    foreign = _FOREIGN_AFTER.match(post, j) if not cur_post else None
    # 角/毛/分 (tenths and hundredths of a yuan): 一万零一分, 4000元5角, 四千块五 are not whole yuan
    fen = _FEN_AFTER.match(post, j) if not cur_post and not foreign \
        else _FEN_TAIL.match(post, cur_post.end()) if cur_post else None
    if fen and fen.re is _FEN_TAIL and _NOT_AMOUNT_AFTER.match(post, fen.end()):
        fen = None  # 4000元3个月: the digit counts months
    if not cur_post and not foreign and _NOT_AMOUNT_AFTER.match(post, j):
        return None
    foreign_pre = _FOREIGN_PREFIX.search(pre)
    marked = bool(cur_pre or cur_post or mult) or not _MAGNITUDE.isdisjoint(core)
    if not arabic and not marked and (len(core) == 1 or _UNIT_SET.isdisjoint(core) or "点" in core):
        return None  # a lone 一/十/两, 二〇二六 (a year, a phone number), 一点五 (a time, 'a bit')
    if arabic and core.isascii() and core.isdigit() and not (cur_pre or cur_post or mult):
        if len(core) >= 9:
            return None  # an account or id number
        if len(core) == 4 and 1900 <= int(core) <= 2099 and _YEAR_BEFORE.search(pre):
            return None  # in 2025
    value, problem = _read_run(core)
    if value is not None and mult:
        k, w, word = mult.group(1), mult.group(2), (mult.group(3) or "").lower()
        value *= 1000 if k or word == "thousand" else 10000 if w else 10**6
    if value is not None and problem is None:
        frac = core.rpartition(".")[2] if plain_arabic and "." in core else ""
        if (len(frac) == 3 and not mult) \
                or value * 100 != (value * 100).to_integral_value():
            value, problem = None, "malformed"  # 4.000: 4 or 4000? a fraction of a fen
    start = w0 + (prefix.start() if (cur_pre or sign) else len(pre))
    if foreign_pre:
        start = min(start, w0 + foreign_pre.start())
    if lookalike:
        value, problem, e = None, "malformed", e + lookalike.end()
    end = e + (fen.end() if fen else cur_post.end() if cur_post else foreign.end() if foreign else j)
    in_range = range_before or _RANGE_AFTER.match(post, j)
    if problem is None and (_other_digit(pre[-1:]) or _other_digit(post[:1])):
        value, problem = None, "malformed"  # 4٠٠٠: digits of another script
    if problem is None and (approx or foreign or foreign_pre or in_range or fen or _DECREASE.search(pre)):
        value, problem = None, "ambiguous"
    if sign and in_range and not cur_pre:
        start = s  # 3000-4000: the dash joins a range, it is no sign
    elif sign and problem is None and value:
        value, problem = -value, "negative"
    if problem is None and value == 0:
        value, problem = Decimal(0), "zero"
    if value is not None:
        value = Decimal(int(value)) if value == value.to_integral_value() else value
    return AmountMention(value=value, start=start, end=end, raw=text[start:end],
                         currency=marked or bool(foreign or foreign_pre), problem=problem)


def find_amounts(text: str, blocked: Sequence[tuple[int, int]] = ()) -> list[AmountMention]:
    """Every amount-like mention in `text`, in order; spans in `blocked` are never amounts."""
    t = _masked(text, blocked)
    out: list[AmountMention] = []
    for m in _RUN.finditer(t):
        mention = _mention(text, t, m.start(), m.end())
        if mention is not None and (not out or mention.start >= out[-1].end):
            out.append(mention)
    return out


def valid_amounts(text: str, blocked: Sequence[tuple[int, int]] = ()) -> list[Decimal]:
    """The values of the valid mentions, in order, each once."""
    values: list[Decimal] = []
    for m in find_amounts(text, blocked):
        if m.ok and m.value not in values:
            values.append(m.value)  # type: ignore[arg-type]
    return values
