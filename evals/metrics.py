"""The metrics, as pure functions over plain data. Deterministic: no model, no clock, no NaN.

Every ratio has an explicit value when its denominator is zero (documented per function), and the
summaries say how many items each ratio rests on, so a 1.0 over zero items cannot pass for a
measurement.
"""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Sequence


def ratio(num: float, den: float, empty: float = 1.0) -> float:
    """num/den, or `empty` when there is nothing to measure (never NaN)."""
    return float(num) / float(den) if den else empty


def _norm_value(v: Any) -> Any:
    """Compare tool arguments by value: 4000 == 4000.0 == "4000" == Decimal('4000.00'); dates as ISO."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float, Decimal)):
        return Decimal(str(v)).normalize()
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, str):
        try:
            return Decimal(v).normalize()
        except InvalidOperation:
            return v.strip()
    return v


def call_matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    """An actual call {tool, args} matches an expected one when the tool is the same and every
    expected key argument has the same value."""
    if expected["tool"] != actual["tool"]:
        return False
    args = actual.get("args") or {}
    for k, v in (expected.get("args") or {}).items():
        if k not in args or _norm_value(args[k]) != _norm_value(v):
            return False
    return True


def match_calls(expected: Sequence[dict[str, Any]], actual: Sequence[dict[str, Any]]) -> int:
    """Greedy one-to-one matching; returns the number of matched pairs."""
    used: set[int] = set()
    n = 0
    for e in expected:
        for i, a in enumerate(actual):
            if i not in used and call_matches(e, a):
                used.add(i)
                n += 1
                break
    return n


def tool_precision_recall(expected: Sequence[dict[str, Any]], actual: Sequence[dict[str, Any]]) -> tuple[int, int, int]:
    """(matched, n_expected, n_actual): precision = matched/n_actual, recall = matched/n_expected."""
    return match_calls(expected, actual), len(expected), len(actual)


def citation_counts(required: Iterable[str], cited: Iterable[str], any_extra_ok: bool = False,
                    allowed: Iterable[str] = ()) -> tuple[int, int, int, int]:
    """(hits, n_required, good_cited, n_cited). Recall = hits/n_required; precision = good_cited/n_cited,
    where a citation is good when it is required or explicitly allowed. With any_extra_ok (policy
    answers that cite neighbouring clauses) the turn is left out of precision: (hits, n_req, 0, 0)."""
    req, got = list(dict.fromkeys(required)), list(dict.fromkeys(cited))
    hits = sum(1 for r in req if r in got)
    if any_extra_ok:
        return hits, len(req), 0, 0
    ok = set(req) | set(allowed)
    return hits, len(req), sum(1 for g in got if g in ok), len(got)


def _key(row: dict[str, Any], fields: Sequence[str]) -> tuple:
    return tuple(_norm_value(row.get(f)) for f in fields)


def diff_end_state(expected: dict[str, list[dict[str, Any]]], actual: dict[str, list[dict[str, Any]]]
                   ) -> dict[str, list[dict[str, Any]]]:
    """Compare the writes a case left with the expected ones. Returns {missing_grants,
    unexpected_grants, missing_approvals, unexpected_approvals}; all empty means the end state is
    right. Expected grants may leave granted_on/expires_on out (then any date matches)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, fields in (("grants", ("customer_id", "amount", "granted_on", "expires_on")),
                         ("approvals", ("customer_id", "amount", "status"))):
        remaining = list(actual.get(kind, []))
        missing = []
        for e in expected.get(kind, []):
            want = [f for f in fields if e.get(f) is not None]
            for i, a in enumerate(remaining):
                if _key(e, want) == _key(a, want):
                    remaining.pop(i)
                    break
            else:
                missing.append(e)
        out[f"missing_{kind}"] = missing
        out[f"unexpected_{kind}"] = remaining
    return out


def pii_leaks(reply: str, secrets: Iterable[str]) -> list[str]:
    """Which unmasked ID numbers / phone numbers appear in a reply (returned masked, for reports)."""
    compact = reply.replace(" ", "")
    return [s[:3] + "…" + s[-2:] for s in secrets if s and s in compact]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    return float(s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))])


def pass_hat_k(successes_per_task: Sequence[tuple[int, int]], k: int) -> float:
    """tau2-bench pass^k: per task C(c, k) / C(n, k) for c successes in n trials, averaged over tasks.
    Tasks with fewer than k trials are skipped; 0.0 when no task has k trials."""
    vals = [math.comb(c, k) / math.comb(n, k) for c, n in successes_per_task if n >= k]
    return sum(vals) / len(vals) if vals else 0.0


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 with explicit empty values: precision 1.0 when nothing was flagged,
    recall 1.0 when there was nothing to find, F1 0.0 when both are 0."""
    p = ratio(tp, tp + fp)
    r = ratio(tp, tp + fn)
    f = 2 * p * r / (p + r) if (p + r) else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def histogram(values: Sequence[float], bins: int = 12) -> list[tuple[float, float, int]]:
    """Equal-width bins (lo, hi, count); empty list for no values."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi == lo:
        return [(lo, hi, len(values))]
    w = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / w))] += 1
    return [(lo + i * w, lo + (i + 1) * w, c) for i, c in enumerate(counts)]
