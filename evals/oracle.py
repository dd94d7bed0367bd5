"""An independent reading of /work/shared/DOMAIN.md, written for the evals from the policy text alone.

It exists so that suite expectations do not come from the tools under evaluation (that would make
rule adherence tautological). It imports nothing from tools/ or agents/ and works on the raw
fixture JSON. Purpose categories are given by the case author, not classified by code.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

ALLOWED = {"work_tools", "education", "medical", "household"}
PROHIBITED = {"gambling", "investment", "real_estate", "debt_repayment", "cash_out"}

# Rule -> knowledge-base clause id (the lender's clause ids, as fixed in DOMAIN / the KB contract).
CLAUSE = {**{f"R{i}": f"PBOC-REPAIR-R{i}" for i in range(1, 5)},
          **{f"TQ{i}": f"LENDER-TQ-TQ{i}" for i in range(1, 8)}, "LIMIT": "LENDER-LIMIT-LOOKUP"}


def d(s: Any) -> dt.date:
    return s if isinstance(s, dt.date) else dt.date.fromisoformat(str(s))


def money(v: Any) -> Decimal:
    return Decimal(str(v))


# ---------------------------------------------------------------- section 4: temporary quota
def tq_cap(limit: Any) -> Decimal:
    """TQ3: min(20,000, max(5,000, 2 x base limit))."""
    return min(Decimal(20000), max(Decimal(5000), 2 * money(limit)))


def tq_expiry(granted: dt.date) -> dt.date:
    """TQ6: 30 days counting the grant date (2026-11-22 -> 2026-12-21)."""
    return granted + dt.timedelta(days=29)


def unexpired_quota(c: dict, day: dt.date) -> dict | None:
    """TQ7 (limit lookup): the quota in force on `day`."""
    for q in c.get("temp_quotas") or []:
        if d(q["granted_on"]) <= day <= d(q["expires_on"]):
            return q
    return None


def overlapping_quota(c: dict, start: dt.date, end: dt.date) -> dict | None:
    """TQ4 ("one at a time"): a stored quota whose validity shares a day with [start, end], the window a
    new quota would have. Comparing windows, not "in force on the request date", is what keeps two quotas
    from ever being in force on one day, whatever date a request is evaluated on."""
    hits = [q for q in c.get("temp_quotas") or [] if d(q["granted_on"]) <= end and start <= d(q["expires_on"])]
    return max(hits, key=lambda q: (d(q["expires_on"]), d(q["granted_on"]))) if hits else None


def tq_decide(c: dict | None, amount: Any, category: str | None, day: dt.date) -> dict:
    """Checks in the order TQ1, TQ4, TQ2 (prohibited), TQ3, TQ5; the first failing rule decides."""
    amount = money(amount)
    if c is None:
        return {"outcome": "not_found"}
    opened = d(c["opened_on"])
    # "no overdue record that is still unrepaid": every record on file counts, even one that arose after
    # the request date (a date before it must not hide it); repaid means repaid on or before that date
    unrepaid = any(r.get("repaid_on") is None or d(r["repaid_on"]) > day for r in c.get("overdue_records") or [])
    if (c["status"] != "active" or not c["kyc_verified"] or (day - opened).days < 90 or unrepaid
            or c["risk_tier"] == "D"):
        return {"outcome": "denied", "rule": "TQ1"}
    q = overlapping_quota(c, day, tq_expiry(day))
    if q is not None:
        return {"outcome": "denied", "rule": "TQ4", "until": d(q["expires_on"])}
    if category in PROHIBITED:
        return {"outcome": "denied", "rule": "TQ2"}
    cap = tq_cap(c["credit_line"]["limit"])
    if amount > cap:
        return {"outcome": "denied", "rule": "TQ3", "cap": cap}
    if amount <= 5000 and c["risk_tier"] in ("A", "B") and category in ALLOWED:
        return {"outcome": "approved", "rule": "TQ5", "granted_on": day, "expires_on": tq_expiry(day)}
    return {"outcome": "needs_approval", "rule": "TQ5", "unclassified": category not in ALLOWED}


def tq_citations(res: dict) -> list[str]:
    if res["outcome"] == "not_found":
        return []
    if res["outcome"] == "approved":
        return [CLAUSE["TQ5"], CLAUSE["TQ6"]]
    if res["outcome"] == "needs_approval":
        return [CLAUSE["TQ5"]] + ([CLAUSE["TQ2"]] if res.get("unclassified") else [])
    return [CLAUSE[res["rule"]]]


# ---------------------------------------------------------------- section 1: credit repair
WINDOW = (dt.date(2020, 1, 1), dt.date(2025, 12, 31))
DEADLINE = dt.date(2026, 3, 31)
EARLY = dt.date(2025, 11, 30)


def repair_record(r: dict, day: dt.date) -> dict:
    since, amount = d(r["overdue_since"]), money(r["amount"])
    if not (WINDOW[0] <= since <= WINDOW[1]):
        return {"status": "ineligible", "rule": "R1"}
    if amount > Decimal("10000.00"):
        return {"status": "ineligible", "rule": "R2"}
    repaid = d(r["repaid_on"]) if r.get("repaid_on") else None
    if repaid is not None and repaid > day:
        repaid = None  # not yet repaid on the day asked about
    if repaid is not None:
        if repaid <= DEADLINE:
            return {"status": "eligible", "hidden_from": dt.date(2026, 1, 1) if repaid <= EARLY else repaid}
        return {"status": "ineligible", "rule": "R3"}
    if day <= DEADLINE:
        return {"status": "eligible_if_repaid", "repay_by": DEADLINE}
    return {"status": "ineligible", "rule": "R3"}


def repair_decide(c: dict | None, day: dt.date) -> dict:
    if c is None:
        return {"outcome": "not_found", "records": []}
    recs = sorted(c.get("overdue_records") or [], key=lambda r: r["record_id"])
    verdicts = [{"record_id": r["record_id"], **repair_record(r, day)} for r in recs]
    ok = sum(v["status"] != "ineligible" for v in verdicts)
    if not verdicts:
        outcome = "no_records"
    elif ok == len(verdicts):
        outcome = "eligible"
    elif ok:
        outcome = "partially_eligible"
    else:
        outcome = "ineligible"
    return {"outcome": outcome, "records": verdicts}


def repair_citations(res: dict) -> tuple[list[str], list[str]]:
    """(required, allowed extra). Required: R4 always; the deciding rule of each ineligible record;
    R3 for each qualifying record. Allowed: R1 and R2 also applied to qualifying records."""
    if res["outcome"] == "not_found":
        return [], []
    req, allowed = [], []
    for v in res["records"]:
        if v["status"] == "ineligible":
            req.append(CLAUSE[v["rule"]])
        else:
            req.append(CLAUSE["R3"])
            allowed += [CLAUSE["R1"], CLAUSE["R2"]]
    req.append(CLAUSE["R4"])
    return list(dict.fromkeys(req)), [a for a in dict.fromkeys(allowed) if a not in req]


# ---------------------------------------------------------------- section 5: limit lookup
def limit_decide(c: dict | None, day: dt.date) -> dict:
    if c is None:
        return {"outcome": "not_found"}
    base, used = money(c["credit_line"]["limit"]), money(c["credit_line"]["used"])
    q = unexpired_quota(c, day)
    extra = money(q["amount"]) if q else Decimal(0)
    return {"outcome": "found", "base": base, "used": used, "available": base - used,
            "quota": q, "total": base - used + extra}
