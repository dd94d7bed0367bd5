"""Masking of personal data: ID numbers, phone numbers and names.

Nothing unmasked may reach logs, audit records, conversation checkpoints or an LLM. Operators see
customer ids; personal fields leave the ledger only through these functions.

Numbers are found by their structure, in any usual notation, never by "many digits":

- mainland resident ID: 18 characters (6-digit region code of a real province, a birth date
  YYYYMMDD that exists, 3 digits, a check digit or X), or the legacy 15 digits (region, YYMMDD, 3);
- mobile number: 11 digits 1[3-9]xxxxxxxxx, optionally after 86 / +86 / 0086.

The digits may be ASCII or full-width, grouped by spaces (any width, zero-width too), dashes, dots or
parentheses, in any mix: `139 0003 0021`, `139-0004-0028`, `+86 (139) 0003.0021`, `１３９０００３００２１`,
`110101 199004040033`. The masked copy keeps the notation, so it stays readable: `139 **** 0021`,
`110101 ********0033`. A token the caller says to keep (`keep`, e.g. a customer id the ledger holds)
is left alone, whatever it looks like.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from functools import lru_cache
from typing import Callable

Keep = Callable[[str], bool]

_DIGIT = "0-9\uff10-\uff19"  # ASCII and full-width digits
# Between two digit groups: spaces of every width (zero-width included), dashes, dots, parentheses.
_SEP = ("\\ \t\u00a0\u1680\u2000-\u200d\u2060\u202f\u205f\u3000\ufeff"
        "\\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d"
        ".\u00b7\u2024\u30fb\uff0e\uff65"
        "()\uff08\uff09")
_CANDIDATE = re.compile(f"[{_DIGIT}]+(?:[{_SEP}]{{1,3}}[{_DIGIT}]+)*([{_SEP}]{{0,3}}[Xx\uff38\uff58])?")
_GROUP = re.compile(f"[{_DIGIT}]+")
# Province codes: the first two digits of a real mainland region code (and 71/81/82/83 for Taiwan,
# Hong Kong and Macao residents' permits, which use the same format).
_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                        50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
_PHONE = re.compile(r"1[3-9]\d{9}")
_MAX_DIGITS = 18  # the longest number masked: an 18-character ID
# A token around a match, for `keep`: letters, digits, - _ . (after full-width folding).
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.\-]")


def _fold_char(ch: str) -> str:
    n = unicodedata.normalize("NFKC", ch)
    return n if len(n) == 1 else ch


def fold_digits(text: str) -> str:
    """Full-width digits to ASCII, one character for one (offsets are kept)."""
    return text.translate(_FULLWIDTH_DIGITS)


_FULLWIDTH_DIGITS = {0xFF10 + i: str(i) for i in range(10)} | {0xFF38: "X", 0xFF58: "x"}


def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        dt.date(y, m, d)
    except ValueError:
        return False
    return True


def _is_id18(s: str) -> bool:
    return (len(s) == 18 and s[:17].isdigit() and (s[17].isdigit() or s[17] in "Xx")
            and int(s[:2]) in _PROVINCES and 1900 <= int(s[6:10]) <= 2099
            and _valid_date(int(s[6:10]), int(s[10:12]), int(s[12:14])))


def _is_id15(s: str) -> bool:
    return (len(s) == 15 and s.isdigit() and int(s[:2]) in _PROVINCES
            and _valid_date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12])))


def _classify(digits: str) -> tuple[int, int] | None:
    """(first, last) indices of the digits to hide when `digits` is an ID or mobile number, else None."""
    n = len(digits)
    if n == 18 and _is_id18(digits):
        return 6, 13  # keep the region (6) and the last 4
    if n == 11 and _PHONE.fullmatch(digits):
        return 3, 6   # keep the operator prefix (3) and the last 4
    if n == 13 and digits.startswith("86") and _PHONE.fullmatch(digits[2:]):
        return 5, 8
    if n == 15:
        if digits.startswith("0086") and _PHONE.fullmatch(digits[4:]):
            return 7, 10
        if _is_id15(digits):
            return 6, 10
    return None


def _token(text: str, start: int, end: int) -> str:
    """The letters-digits token around text[start:end], folded to ASCII."""
    while start > 0 and _TOKEN_CHARS.match(_fold_char(text[start - 1])):
        start -= 1
    while end < len(text) and _TOKEN_CHARS.match(_fold_char(text[end])):
        end += 1
    return "".join(_fold_char(c) for c in text[start:end])


def _mask_numbers(text: str, keep: Keep | None) -> str:
    out: list[str] | None = None
    for m in _CANDIDATE.finditer(text):
        if m.end() - m.start() < 11:  # fewer than 11 digits: no phone, no ID (dates, amounts, timings)
            continue
        # the digit characters of the candidate, by position; a trailing X is an ID's check character
        groups = [(g.start() + m.start(), g.end() + m.start()) for g in _GROUP.finditer(m.group(0))]
        x_pos = m.end(1) - 1 if m.group(1) else None
        i = 0
        while i < len(groups):
            best: tuple[int, list[int], tuple[int, int]] | None = None
            positions: list[int] = []
            for j in range(i, len(groups)):
                positions = positions + list(range(*groups[j]))
                if len(positions) > _MAX_DIGITS:
                    break
                tries = [positions]
                if j == len(groups) - 1 and x_pos is not None and len(positions) == 17:
                    tries.insert(0, positions + [x_pos])
                for pos in tries:
                    hide = _classify(fold_digits("".join(text[p] for p in pos)))
                    if hide is not None:
                        best = (j, pos, hide)
                        break
            if best is None:
                i += 1
                continue
            j, pos, (first, last) = best
            if keep is None or not keep(_token(text, pos[0], pos[-1] + 1)):
                if out is None:
                    out = list(text)
                for p in pos[first:last + 1]:
                    out[p] = "*"
            i = j + 1
    return text if out is None else "".join(out)


# A number as masked here: digits, separators and a run of at least three '*' ("139 **** 0021",
# "110101********0033", "+86 (139) ****.0021"). What is left of it is no amount and no id.
_MASKED_TOKEN = re.compile(f"[{_DIGIT}*]+(?:[{_SEP}]{{1,3}}[{_DIGIT}*]+)*(?:[{_SEP}]{{0,3}}[Xx\uff38\uff58])?")


def masked_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every masked ID or phone number in `text`, for readers that must not take its
    remaining digits for an amount or an id."""
    return [m.span() for m in _MASKED_TOKEN.finditer(text)
            if "***" in m.group(0) and any(c.isdigit() for c in m.group(0))]


def mask_id_number(value: str) -> str:
    """110101199003071234 -> 110101********1234"""
    v = value.strip()
    if len(v) <= 8:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_phone(value: str) -> str:
    """13800138000 -> 138****8000"""
    v = value.strip()
    if len(v) < 7:
        return "*" * len(v)
    return v[:3] + "*" * (len(v) - 7) + v[-4:]


def mask_name(value: str) -> str:
    """张伟 -> 张*, 欧阳娜娜 -> 欧***, Emily Chen -> E. C***"""
    v = value.strip()
    if not v:
        return v
    if v.isascii():
        parts = v.split()
        if len(parts) == 1:
            return parts[0][0] + "***"
        return f"{parts[0][0]}. {parts[-1][0]}***"
    return v[0] + "*" * (len(v) - 1)


# Up to this many names, one compiled alternation (fastest for a small ledger); above it, a set looked up by
# length at each position where a name's first character occurs: the same matches (leftmost, longest first),
# at a cost that does not grow with the number of names (a regex alternation of a million names is O(n) per
# position, and compiling it takes minutes).
_ALTERNATION_MAX = 2000


class _NameSet:
    """Finds the given names in text exactly as the alternation `name1|name2|...` (longest first) would."""

    def __init__(self, names: set[str]) -> None:
        self.names = frozenset(names)
        self.lengths = sorted({len(n) for n in names}, reverse=True)
        self.first = re.compile("[" + "".join(sorted(map(re.escape, {n[0] for n in names}))) + "]")

    def sub(self, repl: Callable[[str], str], text: str) -> str:
        out, pos = [], 0
        for m in self.first.finditer(text):
            i = m.start()
            if i < pos:
                continue
            for n in self.lengths:
                piece = text[i:i + n]
                if len(piece) == n and piece in self.names:
                    out += [text[pos:i], repl(piece)]
                    pos = i + n
                    break
        out.append(text[pos:])
        return "".join(out)


def _matcher(usable: set[str]) -> "re.Pattern[str] | _NameSet":
    if len(usable) <= _ALTERNATION_MAX:
        return re.compile("|".join(map(re.escape, sorted(usable, key=len, reverse=True))))
    return _NameSet(usable)


# Matchers of the name lists in use, by the list's identity: a ledger's names are one tuple for the life of a
# desk, and hashing a tuple of a million names on every call would itself cost O(n).
_by_identity: dict[int, tuple[tuple[str, ...], object]] = {}


@lru_cache(maxsize=8)
def _names_pattern_of(names: tuple[str, ...]) -> "re.Pattern[str] | _NameSet | None":
    """One matcher of every name, compiled once per set of names."""
    usable = {n for n in names if n and len(n.strip()) >= 2}
    return _matcher(usable) if usable else None


def _names_pattern(names: tuple[str, ...]) -> "re.Pattern[str] | _NameSet | None":
    hit = _by_identity.get(id(names))
    if hit is not None and hit[0] is names:
        return hit[1]  # type: ignore[return-value]
    pattern = _names_pattern_of(names)
    if len(names) > _ALTERNATION_MAX:
        if len(_by_identity) >= 8:
            _by_identity.clear()
        _by_identity[id(names)] = (names, pattern)  # holds the tuple, so its id is not reused meanwhile
    return pattern


def mask_text(text: str, names: list[str] | tuple[str, ...] = (), keep: Keep | None = None) -> str:
    """Mask ID numbers and mobile numbers anywhere in free text, in any notation, and the given names.
    `keep(token)` true leaves that token as it is (a customer id of the ledger that looks like a number)."""
    out = _mask_numbers(text, keep)
    pattern = _names_pattern(names if isinstance(names, tuple) else tuple(names))
    return pattern.sub(lambda m: mask_name(m if isinstance(m, str) else m.group(0)), out) if pattern else out


class MaskingFilter(logging.Filter):
    """A logging filter that masks the message and any traceback of each record it sees:
    attach it to a logger (or handler) so personal data never reaches the log unmasked."""

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.names = tuple(names)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_text(record.getMessage(), self.names), None
        if record.exc_info:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info), self.names)
            record.exc_info = None  # the formatter prints exc_text as it is
        return True
