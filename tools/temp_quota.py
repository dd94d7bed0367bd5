"""Temporary quota (临时额度): the lender's policy TQ1–TQ7, and its approvals.

The numbers, lists and dates are the policy version in force on the request's as_of (tools/policy.py); the
figures below are the shipped version 2026-01. The check order and the logic live here.

Checks run in the order TQ1, TQ4, TQ2 (prohibited), TQ3, TQ5; the first failing rule decides a
denial and is the one cited.
TQ1 eligibility: status active, KYC verified, opened >= 90 days before the request date, no
    overdue record still unrepaid, risk tier A/B/C (D always denied).
TQ2 purpose: work_tools, education, medical, household allowed; gambling, investment,
    real_estate, debt_repayment, cash_out denied; unclassifiable -> needs approval.
TQ3 cap: min(20,000, max(5,000, 2 x base limit)); above the cap -> denied, cap stated.
TQ4 one at a time: an unexpired temporary quota -> denied.
TQ5 auto-approval: amount <= 5,000, tier A/B, allowed purpose -> approved; otherwise needs a
    supervisor, whose approval grants the requested amount.
TQ6 validity: 30 days from the grant date, inclusive (granted 2026-11-22 -> expires 2026-12-21).
TQ7 effect: total available = base limit - used + unexpired temporary quota (limit_lookup).

Writes are transactional and idempotent: one idempotency key never grants twice, and the TQ4
check and the grant happen under one write lock, so concurrent requests cannot both be granted.

TQ4 compares validity windows: the new quota's [as_of, as_of + 29] against every stored quota's
[granted_on, expires_on]; any overlap denies, so no as-of date (past or future) can put two quotas
in force on one day. TQ1 sees every overdue record the ledger knows, whatever the as-of date: a
record is unrepaid unless it was repaid on or before the as-of date.

Approvals always end. One pending approval per customer and purpose: a later identical request
attaches to it (same approval id, nothing new written). The requester can never approve their own
request (maker-checker, PermissionDenied). A pending approval lapses after 30 days counting its
request date (the validity a grant on that day would have had, TQ6): it becomes `expired`, with a
reason, on the next decision or when approvals are listed with a date. A reject always works on a
pending approval, also one that can no longer be granted (another quota in force).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from tools.ledger import CustomerRecord, Ledger, approvals_t, requests_t, temp_quotas_t
from tools.limit_lookup import ActiveTempQuota
from tools.dates import AsOf
from tools.registry import Tool
from tools.errors import ToolInputError, validate_input
from tools import events
from tools.money import MAX_AMOUNT, Yuan, from_fen, to_fen, yuan_str
from tools.policy import PolicyVersion, TempQuotaParams, active, in_force
from tools.purpose import Purpose, classify_purpose

CHECK_ORDER = ("TQ1", "TQ4", "TQ2", "TQ3", "TQ5")

Outcome = Literal["approved", "needs_approval", "denied", "not_found"]


class TempQuotaInput(BaseModel):
    """Request a temporary quota (临时额度) for a customer, for a stated purpose."""

    customer_id: str = Field(min_length=1, max_length=32, description="Customer id as the ledger holds it, in any format (e.g. C1001, 4402198812, CUS-004417).")
    amount: Yuan = Field(gt=0, le=MAX_AMOUNT, description="Requested amount in yuan (> 0, <= 10,000,000).")
    purpose: str = Field(min_length=1, max_length=500,
                         description="A purpose category or free text in Chinese or English.")
    as_of: AsOf
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128,
                                        description="Retries with the same key return the first result.")


class Grant(BaseModel):
    amount: Yuan
    purpose: str
    granted_on: dt.date
    expires_on: dt.date
    approval_id: str | None = None


class TempQuotaResult(BaseModel):
    tool: Literal["temp_quota"] = "temp_quota"
    outcome: Outcome
    customer_id: str
    as_of: dt.date
    amount: Yuan
    purpose: str
    purpose_category: Purpose | None = None
    deciding_rule: Literal["TQ1", "TQ2", "TQ3", "TQ4", "TQ5"] | None = None
    reasons: list[str] = Field(default_factory=list, description="Machine-readable reason codes.")
    cap: Yuan | None = Field(default=None, description="TQ3: the largest amount that could be requested.")
    active_quota_expires_on: dt.date | None = None
    grant: Grant | None = None
    approval_id: str | None = None
    rules_applied: list[str] = Field(default_factory=list)
    policy_version: str | None = Field(default=None, exclude=True,  # not in the JSON: recorded traffic stays as it is
                                       description="The policy version whose parameters decided.")
    replayed: bool = Field(default=False, description="True when this is a stored answer to a retried key.")
    attached: bool = Field(default=False, description="True when an identical request was already pending: "
                                                     "this one joined its approval and wrote nothing new.")


def cap_for(base_limit: Decimal, tq: TempQuotaParams | None = None) -> Decimal:
    """TQ3: min(ceiling, max(floor, multiplier x base limit)); shipped: min(20,000, max(5,000, 2 x base limit)).
    Without `tq`, the first version of the policy in force."""
    tq = tq or active().versions[0].temp_quota
    return min(tq.cap_ceiling, max(tq.cap_floor, tq.cap_multiplier * base_limit))


def expiry_for(granted_on: dt.date, tq: TempQuotaParams | None = None) -> dt.date:
    """TQ6: valid validity_days (shipped: 30) counting the grant date; the version in force on that date."""
    tq = tq or in_force(granted_on).temp_quota
    return granted_on + dt.timedelta(days=tq.validity_days - 1)


def decide_by(requested_on: dt.date) -> dt.date:
    """The last day a pending approval can be approved: TQ6's span (in force on the request date) counting it."""
    return expiry_for(requested_on)


def overlapping_temp_quota(c: CustomerRecord, start: dt.date, end: dt.date) -> ActiveTempQuota | None:
    """TQ4: a stored quota whose validity [granted_on, expires_on] overlaps [start, end] (the latest one)."""
    hits = [q for q in c.temp_quotas if q.granted_on <= end and start <= q.expires_on]
    if not hits:
        return None
    q = max(hits, key=lambda q: (q.expires_on, q.granted_on))
    return ActiveTempQuota(amount=q.amount, purpose=q.purpose, granted_on=q.granted_on, expires_on=q.expires_on)


def tq1_failures(c: CustomerRecord, as_of: dt.date, tq: TempQuotaParams | None = None) -> list[str]:
    tq = tq or in_force(as_of).temp_quota
    reasons = []
    if c.status.value != "active":
        reasons.append(f"account_{c.status.value}")
    if not c.kyc_verified:
        reasons.append("kyc_not_verified")
    if (as_of - c.opened_on).days < tq.min_account_age_days:
        reasons.append("account_under_90_days")  # a stable reason code: the figure is the version's
    # every record the ledger knows, whatever the as-of date: an as-of before a record arose must not hide it
    if any(r.repaid_on is None or r.repaid_on > as_of for r in c.overdue_records):
        reasons.append("unrepaid_overdue")
    if c.risk_tier not in tq.eligible_tiers:
        reasons.append(f"risk_tier_{c.risk_tier.value.lower()}")
    return reasons


def decide(c: CustomerRecord, amount: Decimal, purpose: str, as_of: dt.date,
           version: PolicyVersion | None = None) -> TempQuotaResult:
    """The pure decision: no writes. The first failing check, in CHECK_ORDER, decides a denial. The parameters
    are `version`'s, by default the policy version in force on `as_of`."""
    v = version or in_force(as_of)
    tq = v.temp_quota
    category = classify_purpose(purpose)
    cap = cap_for(c.credit_line.limit, tq)
    res = dict(customer_id=c.customer_id, as_of=as_of, amount=amount, purpose=purpose,
               purpose_category=category, cap=cap, policy_version=v.id)
    applied: list[str] = []

    applied.append("TQ1")
    if failures := tq1_failures(c, as_of, tq):
        return TempQuotaResult(**res, outcome="denied", deciding_rule="TQ1", reasons=failures, rules_applied=applied)
    applied.append("TQ4")
    if live := overlapping_temp_quota(c, as_of, expiry_for(as_of, tq)):
        return TempQuotaResult(**res, outcome="denied", deciding_rule="TQ4", reasons=["active_temp_quota"],
                               active_quota_expires_on=live.expires_on, rules_applied=applied)
    applied.append("TQ2")
    if category in tq.prohibited_purposes:
        return TempQuotaResult(**res, outcome="denied", deciding_rule="TQ2",
                               reasons=[f"prohibited_purpose_{category.value}"], rules_applied=applied)
    applied.append("TQ3")
    if amount > cap:
        return TempQuotaResult(**res, outcome="denied", deciding_rule="TQ3", reasons=["over_cap"],
                               rules_applied=applied)
    applied.append("TQ5")
    review = []
    if amount > tq.auto_approval_max:
        review.append("amount_over_5000")  # a stable reason code: the figure is the version's auto_approval_max
    if c.risk_tier not in tq.auto_approval_tiers:
        review.append(f"risk_tier_{c.risk_tier.value.lower()}")
    if category not in tq.allowed_purposes:
        review.append("purpose_unclassified")
    if review:
        return TempQuotaResult(**res, outcome="needs_approval", deciding_rule="TQ5", reasons=review,
                               rules_applied=applied)
    grant = Grant(amount=amount, purpose=category.value, granted_on=as_of, expires_on=expiry_for(as_of, tq))
    return TempQuotaResult(**res, outcome="approved", deciding_rule="TQ5", reasons=["auto_approved"],
                           grant=grant, rules_applied=applied + ["TQ6"])


def what_if(ledger: Ledger, customer_id: str, amount: Decimal | int | str, purpose: str, as_of: dt.date,
            **_: object) -> TempQuotaResult:
    """The decision a request would get on `as_of`, with nothing written (no grant, no approval, no key)."""
    a = validate_input(TempQuotaInput, "temporary-quota request", customer_id=customer_id, amount=amount,
                       purpose=purpose, as_of=as_of)
    c = ledger.customer(a.customer_id)
    if c is None:
        return TempQuotaResult(outcome="not_found", customer_id=a.customer_id, as_of=a.as_of, amount=a.amount,
                               purpose=a.purpose)
    return decide(c, a.amount, a.purpose, a.as_of)


def _fingerprint(a: TempQuotaInput) -> str:
    return json.dumps({"customer_id": a.customer_id, "amount": str(a.amount), "purpose": a.purpose,
                       "as_of": a.as_of.isoformat()}, sort_keys=True, ensure_ascii=False)


def _new_approval_id(conn: Connection, a: TempQuotaInput) -> str:
    n = conn.execute(select(func.count()).select_from(approvals_t)
                     .where(approvals_t.c.customer_id == a.customer_id)).scalar_one()
    seed = f"{a.idempotency_key or ''}|{_fingerprint(a)}|{n}"
    return "AP-" + hashlib.sha256(seed.encode()).hexdigest()[:10].upper()


def _purpose_key(category: str | None, purpose: str) -> str:
    """What makes two requests "the same purpose": the category when classified, else the text."""
    return category or " ".join(purpose.split()).casefold()


def _requester(requested_by: str | None) -> str | None:
    if requested_by is None:
        return None
    if not isinstance(requested_by, str) or not requested_by.strip() or len(requested_by) > 64:
        raise ToolInputError("invalid temporary-quota request: requested_by: a name of 1 to 64 characters")
    return requested_by.strip()


def _attach_to_pending(conn: Connection, a: TempQuotaInput, result: TempQuotaResult) -> str | None:
    """The id of the customer's pending approval for the same purpose and amount, if any (lapsed ones
    are expired on the way). The same purpose at another amount is refused: the pending one is decided
    (or rejected) first, so a supervisor never approves an amount the operator no longer means."""
    key = _purpose_key(result.purpose_category.value if result.purpose_category else None, a.purpose)
    rows = conn.execute(select(approvals_t).where(approvals_t.c.customer_id == a.customer_id,
                                                  approvals_t.c.status == "pending")
                        .order_by(approvals_t.c.requested_on, approvals_t.c.approval_id)).all()
    for row in rows:
        if _purpose_key(row.category, row.purpose) != key:
            continue
        if a.as_of > decide_by(row.requested_on):
            expire_row(conn, row, a.as_of)
            continue
        if row.amount_fen == to_fen(a.amount):
            return row.approval_id
        # no stored text, amount or id in the message: it is shown as the reply, with no evidence behind it
        raise ToolInputError(
            f"customer {a.customer_id} already has a pending approval for this purpose at another amount; a supervisor "
            "decides or rejects it before another amount can be asked. Nothing was written.")
    return None


def temp_quota(ledger: Ledger, customer_id: str, amount: Decimal | int | str, purpose: str,
               as_of: dt.date, idempotency_key: str | None = None, requested_by: str | None = None) -> TempQuotaResult:
    """Decide and, for an approval, store the grant (or the pending approval) in one transaction.
    `requested_by` (the caller's name) is stored with a pending approval: that name can never approve it."""
    a = validate_input(TempQuotaInput, "temporary-quota request", customer_id=customer_id, amount=amount,
                       purpose=purpose, as_of=as_of, idempotency_key=idempotency_key)
    requester = _requester(requested_by)
    with ledger.write() as conn:
        # the customer's lock first (servers; SQLite holds the whole store): a retry racing the first try
        # waits here, then finds its stored result below instead of deciding again
        ledger.lock_customer(conn, a.customer_id)
        if a.idempotency_key:
            row = conn.execute(select(requests_t).where(requests_t.c.idempotency_key == a.idempotency_key)).first()
            if row is not None:
                if row.fingerprint != _fingerprint(a):
                    raise ToolInputError(
                        f"idempotency key {a.idempotency_key!r} was already used for a different request")
                return TempQuotaResult.model_validate_json(row.result).model_copy(update={"replayed": True})
        customer = ledger.customer(a.customer_id, conn)
        if customer is None:
            return TempQuotaResult(outcome="not_found", customer_id=a.customer_id, as_of=a.as_of,
                                   amount=a.amount, purpose=a.purpose)
        result = decide(customer, a.amount, a.purpose, a.as_of)
        if result.outcome == "approved":
            g = result.grant
            conn.execute(temp_quotas_t.insert().values(
                customer_id=a.customer_id, amount_fen=to_fen(g.amount), purpose=g.purpose,
                granted_on=g.granted_on, expires_on=g.expires_on, granted_by="auto"))
            events.record(conn, "quota.granted", a.customer_id, g.granted_on, {
                "amount": yuan_str(g.amount), "purpose": a.purpose, "purpose_category": g.purpose,
                "granted_on": g.granted_on.isoformat(), "expires_on": g.expires_on.isoformat(), "granted_by": "auto",
                "requested_by": requester, "deciding_rule": "TQ5", "reasons": result.reasons})
        elif result.outcome == "needs_approval":
            if pending := _attach_to_pending(conn, a, result):
                result.approval_id, result.attached = pending, True
            else:
                approval_id = _new_approval_id(conn, a)
                conn.execute(approvals_t.insert().values(
                    approval_id=approval_id, customer_id=a.customer_id, amount_fen=to_fen(a.amount),
                    purpose=a.purpose, category=result.purpose_category.value if result.purpose_category else None,
                    requested_on=a.as_of, reasons=json.dumps(result.reasons), status="pending",
                    requested_by=requester))
                result.approval_id = approval_id
                events.record(conn, "approval.requested", a.customer_id, a.as_of, {
                    "approval_id": approval_id, "amount": yuan_str(a.amount), "purpose": a.purpose,
                    "purpose_category": result.purpose_category.value if result.purpose_category else None,
                    "requested_by": requester, "decide_by": decide_by(a.as_of).isoformat(), "deciding_rule": "TQ5",
                    "reasons": result.reasons})
        if a.idempotency_key:
            try:
                conn.execute(requests_t.insert().values(
                    idempotency_key=a.idempotency_key, fingerprint=_fingerprint(a), result=result.model_dump_json()))
            except IntegrityError:  # the same key, for another customer, in a concurrent transaction
                raise ToolInputError(f"idempotency key {a.idempotency_key!r} was already used for a different "
                                     "request") from None  # the whole transaction rolls back: nothing is written
        return result


# ---------------------------------------------------------------- pending approvals that lapse (tools/approvals.py)

def lapse_reason(row) -> str:  # noqa: ANN001
    days = in_force(row.requested_on).temp_quota.validity_days
    return (f"expired: not decided by {decide_by(row.requested_on).isoformat()}, {days} days counting the request "
            f"date {row.requested_on.isoformat()}; nothing was granted")


def expire_row(conn: Connection, row, day: dt.date) -> None:  # noqa: ANN001
    done = conn.execute(approvals_t.update().where(approvals_t.c.approval_id == row.approval_id,
                                                   approvals_t.c.status == "pending")
                        .values(status="expired", decided_by="system", decided_on=day, reason=lapse_reason(row)))
    if done.rowcount:
        events.record(conn, "approval.expired", row.customer_id, day, {
            "approval_id": row.approval_id, "amount": yuan_str(from_fen(row.amount_fen)), "purpose": row.purpose,
            "decided_by": "system", "reason": lapse_reason(row)})


TOOL = Tool("temp_quota", TempQuotaInput, TempQuotaResult, temp_quota,
            rules={f"TQ{i}": f"LENDER-TQ-TQ{i}" for i in range(1, 7)}, writes=True, role="operator")
