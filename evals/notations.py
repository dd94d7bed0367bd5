"""How an operator may write a customer id, an amount and a date: the writers the metamorphic suite
(evals/metamorphic.py) rewrites core cases with. Pure functions; ids come from a seeded RNG.

    id_map(["C1001", "C1002"], "zx", seed=13)      # {"C1001": "ZX20..-....", ...}, a fixture's renaming
    rewrite_amount("C1 temp quota 4000 yuan", Decimal(4000), "k", "en")   # "C1 temp quota 4k yuan"
    with_date("查一下C1的额度", date(2026, 1, 15), "dmy", "zh", rng)        # "截至15/01/2026，查一下C1的额度"
"""
from __future__ import annotations

import copy
import datetime as dt
import random
import re
from decimal import Decimal
from typing import Any, Callable, Iterable

from evals.generate import amt_text

ID_FORMATS = ("digits", "cus", "zx", "m", "fullwidth")


# ---------------------------------------------------------------- customer ids
_ID_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "digits": lambda r: str(r.randint(10**9, 10**10 - 1)),
    "cus": lambda r: f"CUS-{r.randint(0, 999999):06d}",
    "zx": lambda r: f"ZX{r.randint(2015, 2025)}-{r.randint(0, 9999):04d}",
    "m": lambda r: f"m_{r.randint(10000, 99999)}",
    "fullwidth": lambda r: f"CUS-{r.randint(0, 999999):06d}",
}


def to_fullwidth(s: str) -> str:
    """ASCII letters, digits and punctuation as their full-width forms (NFKC maps them back)."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in s)


def id_map(ledger_ids: Iterable[str], fmt: str, others: Iterable[str] = (), seed: int = 13) -> dict[str, str]:
    """old id -> new id in `fmt`: one seeded stream over the ledger's ids (sorted), so a fixture is
    renamed the same way in every case; ids the ledger lacks get ids of their own, never a customer's."""
    rng, make = random.Random(f"{seed}:{fmt}"), _ID_MAKERS[fmt]
    out: dict[str, str] = {}
    for old in sorted(set(ledger_ids)):
        new = make(rng)
        while new in out.values():
            new = make(rng)
        out[old] = new
    for old in sorted(set(others) - set(out)):
        r = random.Random(f"{seed}:{fmt}:{old}")
        new = make(r)
        while new in out.values():
            new = make(r)
        out[old] = new
    return out


def typed_id(fmt: str, new: str, known: bool) -> str:
    """How the operator types the renamed id. An id the ledger lacks has no case to fold to, so
    `cus` types it as is; full width is an unambiguous normalisation (NFKC) either way."""
    if fmt == "cus" and known:
        return new.lower()
    if fmt == "fullwidth":
        return to_fullwidth(new)
    return new


def rename_fixture(data: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for c in data.get("customers", []):
        c["customer_id"] = mapping[c["customer_id"]]
    return data


def sub_ids(text: str, mapping: dict[str, str]) -> str:
    """Replace whole-token occurrences of the old ids (never a part of a longer token)."""
    if not mapping:
        return text
    alt = "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True))
    return re.sub(rf"(?<![A-Za-z0-9_])(?:{alt})(?![A-Za-z0-9_])", lambda m: mapping[m.group(0)], text)


# ---------------------------------------------------------------- amounts
_DIG = "零一二三四五六七八九"


def _hanzi_small(n: int) -> str:
    out, zero = "", False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, unit)
        if d:
            out += ("零" if zero else "") + ("两" if d == 2 and unit == 1000 else _DIG[d]) + name
            zero = False
        elif out:
            zero = True
    return out


def hanzi(n: int) -> str:
    """A positive integer below 10**8 in Chinese numerals: 4000 -> 四千, 20001 -> 两万零一."""
    if not 0 < n < 10**8:
        raise ValueError(f"hanzi: {n} out of range")
    wan, rest = divmod(n, 10000)
    s = ("两" if wan == 2 else _hanzi_small(wan)) + "万" if wan else ""
    if rest:
        s += ("零" if wan and rest < 1000 else "") + _hanzi_small(rest)
    return s


def _scaled(v: Decimal, by: int, places: int) -> str | None:
    q = v / by
    if q != q.quantize(Decimal(1).scaleb(-places)):
        return None
    return format(q.normalize(), "f")


def _int(v: Decimal) -> int | None:
    return int(v) if v == v.to_integral_value() else None


# notation -> (languages, writer(value, unit) -> text or None); `unit` is the unit the message had
AMOUNT_NOTATIONS: dict[str, tuple[tuple[str, ...], Callable[[Decimal, str], str | None]]] = {
    "qian": (("zh",), lambda v, u: (q + "千" + u) if v < 10000 and (q := _scaled(v, 1000, 1)) else None),
    "hanzi": (("zh",), lambda v, u: hanzi(n) + "元" if (n := _int(v)) else None),
    "yen": (("zh", "en"), lambda v, u: f"¥{v:,.2f}"),
    "k": (("zh", "en"), lambda v, u: (q + "k" + (u if u.strip() == "yuan" else "")) if (q := _scaled(v, 1000, 1)) else None),
    "rmb": (("zh", "en"), lambda v, u: f"RMB {_int(v) if _int(v) is not None else v}"),
    "kuai": (("zh",), lambda v, u: f"{n}块" if (n := _int(v)) else None),
    "wan": (("zh", "en"), lambda v, u: (q + "万" + u) if (q := _scaled(v, 10000, 2)) else None),
}


def amount_span(msg: str, value: Decimal) -> tuple[int, int, str] | None:
    """Where `value` is written in the message as the generator writes it (4000 / 4000.5), with the
    unit that follows it (元 or ' yuan'): (start, end, unit); None unless it occurs exactly once."""
    text = amt_text(value)
    hits = list(re.finditer(rf"(?<![0-9A-Za-z_.,]){re.escape(text)}(?![0-9.,])(元| yuan)?", msg))
    if len(hits) != 1:
        return None
    m = hits[0]
    return m.start(), m.end(), m.group(1) or ""


def rewrite_amount(msg: str, value: Decimal, notation: str, lang: str) -> str | None:
    langs, write = AMOUNT_NOTATIONS[notation]
    span = amount_span(msg, value)
    if lang not in langs or span is None:
        return None
    text = write(value, span[2])
    return None if text is None else msg[:span[0]] + text + msg[span[1]:]


# ---------------------------------------------------------------- dates
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
DATE_NOTATIONS: dict[str, tuple[tuple[str, ...], Callable[[dt.date], str | None]]] = {
    "cn": (("zh",), lambda d: f"{d.year}年{d.month}月{d.day}日"),
    "iso": (("zh", "en"), lambda d: d.isoformat()),
    "slash": (("zh", "en"), lambda d: f"{d.year}/{d.month}/{d.day}"),
    "dmy": (("zh", "en"), lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}" if d.day > 12 else None),
    "month_day": (("en",), lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}"),
    "day_month": (("en",), lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}"),
}
# the forms the core generator writes dates in
_GEN_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})年(\d{1,2})月(\d{1,2})日")


def date_span(msg: str) -> tuple[int, int, dt.date] | None:
    hits = list(_GEN_DATE.finditer(msg))
    if len(hits) != 1:
        return None
    g = [x for x in hits[0].groups() if x]
    return hits[0].start(), hits[0].end(), dt.date(int(g[0]), int(g[1]), int(g[2]))


def with_date(msg: str, day: dt.date, notation: str, lang: str, rng: random.Random) -> str | None:
    """The message's date rewritten in `notation`, or (no date in it) the date written in."""
    langs, write = DATE_NOTATIONS[notation]
    text = write(day)
    if lang not in langs or text is None:
        return None
    span = date_span(msg)
    if span is not None:
        return None if msg[span[0]:span[1]] == text else msg[:span[0]] + text + msg[span[1]:]
    if lang == "zh":
        return f"{rng.choice(['截至', '截止'])}{text}，{msg}"
    body = msg.rstrip("?？.。 ")
    return f"{body} {rng.choice(['as of', 'as at'])} {text}{msg[len(body):]}"
