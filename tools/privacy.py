"""Masking of personal data: ID numbers, phone numbers and names.

Nothing unmasked may reach logs, audit records or an LLM. Operators see customer ids;
personal fields leave the ledger only through these functions.
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache

# Mainland resident ID (18 chars, last may be X) and mobile numbers (11 digits starting 1[3-9]).
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


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


@lru_cache(maxsize=8)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation of every name, longest first, compiled once per set of names."""
    usable = sorted({n for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, usable))) if usable else None


def mask_text(text: str, names: list[str] | tuple[str, ...] = ()) -> str:
    """Mask ID numbers and phone numbers anywhere in free text, and the given names."""
    out = _ID_NUMBER.sub(lambda m: m.group(1) + "********" + m.group(2), text)
    out = _PHONE.sub(lambda m: m.group(1) + "****" + m.group(2), out)
    pattern = _names_pattern(tuple(names))
    return pattern.sub(lambda m: mask_name(m.group(0)), out) if pattern else out


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
