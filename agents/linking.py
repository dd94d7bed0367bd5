"""Which customers a message names: whatever the ledger holds, in any id format.

A customer id is not a pattern. Any token made of letters, digits, `-`, `_` or `.` (full-width forms and any
case included) is a candidate; it names a customer when the ledger has it. The lookup goes through an
index on lower(customer_id) in the ledger's own database, so it costs a few index probes whatever the
ledger's size (`python -m agents.linking --customers 1000000` measures it).

A candidate that matches no customer is still reported when it looks like an id (letters and digits
mixed, a long digit run, or a token right after a cue such as 客户号 / acct / customer no.), so the turn
can answer "no customer X in the ledger" instead of guessing.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from sqlalchemy import bindparam, func, select, text

from tools.ledger import customers_t

# A token: ASCII letters/digits joined by - _ . (after full-width folding). Chinese text around it is fine.
_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-.])[A-Za-z0-9](?:[A-Za-z0-9_\-.]*[A-Za-z0-9])?")
# Words that announce an id right after them.
_CUE = re.compile(
    r"(?:客户号|客户编号|客户id|客户ID|客户|用户id|用户ID|用户号|用户|会员号|账户号|账号|编号|卡号|户号|"
    r"\bcust(?:omer)?\s*(?:no\.?|number|#|id)?|\bacct\.?(?:\s*(?:no\.?|#))?|\baccount\s*(?:no\.?|number|#)?|"
    r"\bclient\s*(?:no\.?|id)?|\buser\s*id|\bid|\bno\.|#)\s*[:：#]?\s*$", re.I)
# Rule and clause ids of our own documents are never customers (TQ5, R2, LENDER-TQ-TQ5, PBOC-REPAIR-R2).
_OWN_ID = re.compile(r"^(?:TQ\d|R\d|AP-[0-9A-F]{10}|[A-Z]{2,}-[A-Z]{2,}(?:-[A-Z0-9]+)*)$")
_UNITS = re.compile(r"^(?:\d+(?:\.\d+)?(?:k|w|K|W|rmb|RMB|yuan|cny|CNY|st|nd|rd|th|am|pm)|(?:RMB|CNY|rmb|cny)\d+(?:\.\d+)?)$")


def fold(s: str) -> str:
    """Full-width letters, digits and punctuation to ASCII, one character for one (offsets are kept)."""
    if s.isascii():  # NFKC leaves ASCII as it is
        return s
    return "".join(map(_fold_char, s)).replace("－", "-").replace("—", "-").replace("＿", "_")


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    n = unicodedata.normalize("NFKC", ch)
    return n if len(n) == 1 else ch


@dataclass(frozen=True)
class Mention:
    """A token of the message that names (or looks like it names) a customer."""

    token: str                # as written (folded to ASCII)
    start: int
    end: int
    customer_id: str | None   # the ledger's id, or None when the ledger has no such customer
    cued: bool                # written right after 客户号 / acct / customer no. ...


_MONEY_NEXT = re.compile(r"\s*(?:元|块|塊|yuan\b|rmb\b|cny\b|dollars?\b)", re.I)
_MONEY_BEFORE = re.compile(r"(?:¥|￥|\$|RMB|CNY)\s*$", re.I)


def candidates(message: str) -> list[tuple[str, int, int, bool]]:
    folded = fold(message)
    out = []
    for m in _TOKEN.finditer(folded):
        tok = m.group(0)
        if _MONEY_NEXT.match(folded, m.end()) or _MONEY_BEFORE.search(folded[max(0, m.start() - 4):m.start()]):
            continue  # 100000000元, ¥4000: money, not an id
        cued = bool(_CUE.search(folded[max(0, m.start() - 16):m.start()]))
        out.append((tok, m.start(), m.end(), cued))
    return out


def id_like(token: str, cued: bool) -> bool:
    """Could this token be a customer id the ledger does not hold? (Then the answer is 'not found'.)"""
    if not any(c.isdigit() for c in token):  # most words: no digit, never an id (as has_digit below decides too)
        return False
    if _OWN_ID.match(token) or _UNITS.match(token):
        return False
    parts = re.split(r"[-_.]", token)
    if any(_UNITS.match(p) for p in parts) and all(_UNITS.match(p) or p.isdigit() for p in parts):
        return False  # 3k-4k, 4000-5k: a range of amounts
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    if not has_digit:
        return False
    if cued:
        return len(token) >= 3
    if has_alpha:
        letters = sum(c.isalpha() for c in token)
        return len(token) >= 4 and letters <= len(token) - 2
    digits = token.replace("-", "").replace("_", "").replace(".", "")
    return digits.isdigit() and len(digits) >= 9 and "." not in token


_LOOKUP = select(customers_t.c.customer_id).where(  # built once; the tokens as one expanding parameter
    func.lower(customers_t.c.customer_id).in_(bindparam("keys", expanding=True)))


class CustomerLinker:
    """Links message tokens to ledger customers through an index (never a scan)."""

    INDEX = "ix_customers_id_lower"

    def __init__(self, ledger: Any):
        self.ledger = ledger
        with ledger.write() as conn:
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {self.INDEX} ON customers (lower(customer_id))"))

    def lookup(self, tokens: Iterable[str]) -> dict[str, str]:
        """lower-cased token -> the ledger's customer id, for the tokens the ledger holds."""
        keys = sorted({t.lower() for t in tokens})
        if not keys:
            return {}
        with self.ledger.read() as conn:
            rows = conn.execute(_LOOKUP, {"keys": keys}).all()
        return {r[0].lower(): r[0] for r in rows}

    def link(self, message: str) -> list[Mention]:
        """Every customer named in the message, in order, plus id-like tokens the ledger does not hold."""
        cands = candidates(message)
        # a token with a trailing '.' or '-' split off is tried too ("acct 77015." / "CUS-004417-")
        found = self.lookup(t for t, *_ in cands)
        out: list[Mention] = []
        for tok, s, e, cued in cands:
            cid = found.get(tok.lower())
            if cid is not None or id_like(tok, cued):
                out.append(Mention(tok, s, e, cid, cued))
        return out


def _bench(n: int, repeat: int = 2000) -> None:
    """Link latency with n customers in a SQLite ledger (file in a temp dir)."""
    import statistics
    import tempfile
    import time

    from tools.ledger import Ledger

    with tempfile.TemporaryDirectory() as d:
        ledger = Ledger.open(f"sqlite:///{d}/bench.sqlite3")
        t0 = time.perf_counter()
        with ledger.write() as conn:
            conn.execute(customers_t.insert(), [
                dict(customer_id=f"CUS-{i:07d}" if i % 2 else f"{4400000000 + i}", name="x", id_number="x",
                     phone="x", occupation="", risk_tier="A", kyc_verified=True, opened_on=__import__("datetime").date(2020, 1, 1),
                     status="active", limit_fen=0, used_fen=0, extra="{}") for i in range(n)])
        load = time.perf_counter() - t0
        linker = CustomerLinker(ledger)
        msgs = [f"给cus-{i:07d}申请4000元临时额度，买电动车" if i % 2 else f"What's acct {4400000000 + i}'s limit as at 15/01/2026?"
                for i in range(1, repeat, 7)]
        times = []
        for m in msgs * 3:
            t = time.perf_counter()
            got = linker.link(m)
            times.append((time.perf_counter() - t) * 1000)
            assert got and got[0].customer_id, (m, got)
        times.sort()
        print(f"customers={n:,} load={load:.1f}s link p50={statistics.median(times):.3f} ms "
              f"p95={times[int(len(times) * 0.95)]:.3f} ms over {len(times)} messages (SQLite file, 1 process)")


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Benchmark customer linking against a ledger of N customers.")
    ap.add_argument("--customers", type=int, default=1_000_000)
    _bench(ap.parse_args().customers)
