"""Scoring the metamorphic suite: a variant is invariant when it passed every check of its own case
AND the agent decided it as it decided the original: the same intent, outcome and customer (modulo
the renamed id) on every turn, the same tools with the same outcomes and deciding rules, and the
same ledger writes. The rate is reported per transformation, per family (id, amount, date, lang,
filler, typo, order) and over all variants, in the suite summary (so the baseline gate compares it)
and in report.html.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from evals.results import CaseResult, Ratio

ORIGINAL = "meta:original"


def transformation(tags: Iterable[str]) -> str | None:
    """The transformation a variant's tags name (meta:<transformation>), None for anything else."""
    return next((t[5:] for t in tags if t.startswith("meta:") and t != ORIGINAL), None)


def original_of(tags: Iterable[str]) -> str | None:
    return next((t[8:] for t in tags if t.startswith("meta_of:")), None)


def renamed_back(tags: Iterable[str]) -> dict[str, str]:
    """new id -> original id, from the variant's meta_rename:<old>><new> tags."""
    out = {}
    for t in tags:
        if t.startswith("meta_rename:"):
            old, _, new = t[12:].partition(">")
            out[new] = old
    return out


def signature(r: CaseResult, back: dict[str, str] | None = None) -> dict[str, Any]:
    """What the agent decided in a case, with renamed ids mapped back to the original's."""
    back = back or {}

    def cid(x: Any) -> Any:
        """A renamed variant's ids map back; any other id it names (the original's own, say) cannot
        be the original's customer, so it is marked rather than passed through."""
        if not back or not isinstance(x, str):
            return x
        return back.get(x, f"(not renamed) {x}")

    turns = []
    for t in r.turns:
        tools = []
        for c in t.tool_calls:
            res = c.get("result") or {}
            records = [(x.get("record_id"), x.get("status"), x.get("deciding_rule")) for x in res.get("records") or []]
            tools.append((c.get("tool"), res.get("outcome"), res.get("deciding_rule"), records))
        turns.append({"intent": t.intent, "outcome": t.outcome, "customer": cid(t.customer_id), "error": t.error,
                      "tools": tools})
    writes = {"grants": sorted((cid(g.get("customer_id")), str(g.get("amount")), str(g.get("granted_on")),
                                str(g.get("expires_on"))) for g in r.end_state.get("grants", [])),
              "approvals": sorted((cid(a.get("customer_id")), str(a.get("amount")), str(a.get("status")))
                                  for a in r.end_state.get("approvals", []))}
    return {"turns": turns, "writes": writes}


def difference(variant: dict[str, Any], original: dict[str, Any]) -> str:
    """'' when the two signatures agree, else the first thing that differs."""
    if len(variant["turns"]) != len(original["turns"]):
        return f"{len(variant['turns'])} turns run, the original {len(original['turns'])}"
    for i, (v, o) in enumerate(zip(variant["turns"], original["turns"])):
        for k in ("intent", "outcome", "customer", "error", "tools"):
            if v[k] != o[k]:
                return f"turn {i} {k}: {v[k]!r}, the original {o[k]!r}"
    for k in ("grants", "approvals"):
        if variant["writes"][k] != original["writes"][k]:
            return f"ledger {k}: {variant['writes'][k]}, the original {original['writes'][k]}"
    return ""


def _ratio(num: int, n: int) -> Ratio:
    return Ratio(value=round(num / n, 4) if n else 1.0, num=num, n=n)


def invariance(results: list[CaseResult], limit: int = 300) -> tuple[dict[str, Ratio], dict[str, Any]]:
    """(rates, detail). rates: invariance per transformation, per family and 'all' (empty when no
    result is a variant). detail: the counts behind each rate, split by language, and the variants
    that broke (up to `limit`) with the reason."""
    originals = {(r.case_id, r.trial): r for r in results if ORIGINAL in r.tags}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    broken: list[dict[str, str]] = []
    for r in results:
        t = transformation(r.tags)
        if t is None:
            continue
        orig = originals.get((original_of(r.tags) or "", r.trial))
        if orig is None:
            diff = "original not run"
        else:
            diff = difference(signature(r, renamed_back(r.tags)), signature(orig))
        ok = r.passed and not diff
        for key in dict.fromkeys([t, t.split(":")[0], "all"]):
            for group in (key, f"{key}@{r.language}"):
                c = counts[group]
                c["variants"] += 1
                c["passed"] += r.passed
                c["agreed"] += not diff
                c["invariant"] += ok
        if not ok and len(broken) < limit:
            why = "; ".join(([diff] if diff else []) + (r.failed_checks[:2] if not r.passed else []))
            broken.append({"variant": r.case_id, "original": original_of(r.tags) or "", "transformation": t,
                           "language": r.language, "trial": str(r.trial), "reason": why[:400]})
    rates = {k: _ratio(c["invariant"], c["variants"]) for k, c in sorted(counts.items()) if "@" not in k}
    detail = {"counts": {k: dict(c) for k, c in sorted(counts.items())}, "broken": broken,
              "broken_total": sum(c["variants"] - c["invariant"] for k, c in counts.items() if k == "all")}
    return rates, detail
