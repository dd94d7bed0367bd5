"""Temporary quota (临时额度): the lender's policy TQ1–TQ7, version 2026-01, and its approvals.

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

from tools.ledger import CustomerRecord, Ledger, RiskTier, approvals_t, requests_t, temp_quotas_t
from tools.limit_lookup import active_temp_quota
from tools.dates import AsOf, check_as_of
from tools.errors import ToolInputError, validate_input
from tools.money import MAX_AMOUNT, Yuan, from_fen, to_fen
from tools.purpose import ALLOWED, PROHIBITED, Purpose, classify_purpose

MIN_ACCOUNT_AGE_DAYS = 90
CAP_CEILING = Decimal("20000")
CAP_FLOOR = Decimal("5000")
AUTO_APPROVAL_MAX = Decimal("5000")
VALIDITY_DAYS = 30
CHECK_ORDER = ("TQ1", "TQ4", "TQ2", "TQ3", "TQ5")

Outcome = Literal["approved", "needs_approval", "denied", "not_found"]


class ApprovalError(ValueError):
    """An approval action that cannot be carried out (unknown id, already decided otherwise, TQ4)."""


class TempQuotaInput(BaseModel):
    """Request a temporary quota (临时额度) for a customer, for a stated purpose."""

    customer_id: str = Field(min_length=1, max_length=32, description="Customer id, e.g. C1001.")
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
    replayed: bool = Field(default=False, description="True when this is a stored answer to a retried key.")


class Approval(BaseModel):
    approval_id: str
    customer_id: str
    amount: Yuan
    purpose: str
    category: Purpose | None
    requested_on: dt.date
    reasons: list[str]
    status: Literal["pending", "approved", "rejected"]
    decided_by: str | None = None
    decided_on: dt.date | None = None
    reason: str | None = None


class ApprovalResult(BaseModel):
    approval: Approval
    grant: Grant | None = None
    changed: bool = Field(description="False when the call repeated a decision already taken.")
    rules_applied: list[str] = Field(default_factory=list)


def cap_for(base_limit: Decimal) -> Decimal:
    """TQ3: min(20,000, max(5,000, 2 x base limit))."""
    return min(CAP_CEILING, max(CAP_FLOOR, 2 * base_limit))


def expiry_for(granted_on: dt.date) -> dt.date:
    """TQ6: valid 30 days counting the grant date."""
    return granted_on + dt.timedelta(days=VALIDITY_DAYS - 1)


def tq1_failures(c: CustomerRecord, as_of: dt.date) -> list[str]:
    reasons = []
    if c.status.value != "active":
        reasons.append(f"account_{c.status.value}")
    if not c.kyc_verified:
        reasons.append("kyc_not_verified")
    if (as_of - c.opened_on).days < MIN_ACCOUNT_AGE_DAYS:
        reasons.append("account_under_90_days")
    if any(r.repaid_on is None or r.repaid_on > as_of for r in c.overdue_records if r.overdue_since <= as_of):
        reasons.append("unrepaid_overdue")
    if c.risk_tier == RiskTier.D:
        reasons.append("risk_tier_d")
    return reasons


def decide(c: CustomerRecord, amount: Decimal, purpose: str, as_of: dt.date) -> TempQuotaResult:
    """The pure decision: no writes. The first failing check, in CHECK_ORDER, decides a denial."""
    category = classify_purpose(purpose)
    cap = cap_for(c.credit_line.limit)
    res = dict(customer_id=c.customer_id, as_of=as_of, amount=amount, purpose=purpose,
               purpose_category=category, cap=cap)
    applied: list[str] = []

    applied.append("TQ1")
    if failures := tq1_failures(c, as_of):
        return TempQuotaResult(**res, outcome="denied", deciding_rule="TQ1", reasons=failures, rules_applied=applied)
    applied.append("TQ4")
    if live := active_temp_quota(c, as_of):
        return TempQuotaResult(**res, outcome="denied", deciding_rule="TQ4", reasons=["active_temp_quota"],
                               active_quota_expires_on=live.expires_on, rules_applied=applied)
    applied.append("TQ2")
    if category in PROHIBITED:
        return TempQuotaResult(**res, outcome="denied", deciding_rule="TQ2",
                               reasons=[f"prohibited_purpose_{category.value}"], rules_applied=applied)
    applied.append("TQ3")
    if amount > cap:
        return TempQuotaResult(**res, outcome="denied", deciding_rule="TQ3", reasons=["over_cap"],
                               rules_applied=applied)
    applied.append("TQ5")
    review = []
    if amount > AUTO_APPROVAL_MAX:
        review.append("amount_over_5000")
    if c.risk_tier == RiskTier.C:
        review.append("risk_tier_c")
    if category not in ALLOWED:
        review.append("purpose_unclassified")
    if review:
        return TempQuotaResult(**res, outcome="needs_approval", deciding_rule="TQ5", reasons=review,
                               rules_applied=applied)
    grant = Grant(amount=amount, purpose=category.value, granted_on=as_of, expires_on=expiry_for(as_of))
    return TempQuotaResult(**res, outcome="approved", deciding_rule="TQ5", reasons=["auto_approved"],
                           grant=grant, rules_applied=applied + ["TQ6"])


def _fingerprint(a: TempQuotaInput) -> str:
    return json.dumps({"customer_id": a.customer_id, "amount": str(a.amount), "purpose": a.purpose,
                       "as_of": a.as_of.isoformat()}, sort_keys=True, ensure_ascii=False)


def _new_approval_id(conn: Connection, a: TempQuotaInput) -> str:
    n = conn.execute(select(func.count()).select_from(approvals_t)
                     .where(approvals_t.c.customer_id == a.customer_id)).scalar_one()
    seed = f"{a.idempotency_key or ''}|{_fingerprint(a)}|{n}"
    return "AP-" + hashlib.sha256(seed.encode()).hexdigest()[:10].upper()


def temp_quota(ledger: Ledger, customer_id: str, amount: Decimal | int | str, purpose: str,
               as_of: dt.date, idempotency_key: str | None = None) -> TempQuotaResult:
    """Decide and, for an approval, store the grant (or the pending approval) in one transaction."""
    a = validate_input(TempQuotaInput, "temporary-quota request", customer_id=customer_id, amount=amount,
                       purpose=purpose, as_of=as_of, idempotency_key=idempotency_key)
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
        elif result.outcome == "needs_approval":
            approval_id = _new_approval_id(conn, a)
            conn.execute(approvals_t.insert().values(
                approval_id=approval_id, customer_id=a.customer_id, amount_fen=to_fen(a.amount),
                purpose=a.purpose, category=result.purpose_category.value if result.purpose_category else None,
                requested_on=a.as_of, reasons=json.dumps(result.reasons), status="pending"))
            result.approval_id = approval_id
        if a.idempotency_key:
            try:
                conn.execute(requests_t.insert().values(
                    idempotency_key=a.idempotency_key, fingerprint=_fingerprint(a), result=result.model_dump_json()))
            except IntegrityError:  # the same key, for another customer, in a concurrent transaction
                raise ToolInputError(f"idempotency key {a.idempotency_key!r} was already used for a different "
                                     "request") from None  # the whole transaction rolls back: nothing is written
        return result


# ---------------------------------------------------------------- approvals (TQ5, supervisor)

def _approval(row) -> Approval:  # noqa: ANN001
    return Approval(approval_id=row.approval_id, customer_id=row.customer_id, amount=from_fen(row.amount_fen),
                    purpose=row.purpose, category=row.category, requested_on=row.requested_on,
                    reasons=json.loads(row.reasons), status=row.status, decided_by=row.decided_by,
                    decided_on=row.decided_on, reason=row.reason)


def get_approval(ledger: Ledger, approval_id: str) -> Approval | None:
    with ledger.read() as conn:
        row = conn.execute(select(approvals_t).where(approvals_t.c.approval_id == approval_id)).first()
        return _approval(row) if row else None


def list_approvals(ledger: Ledger, status: str | None = "pending") -> list[Approval]:
    q = select(approvals_t).order_by(approvals_t.c.requested_on, approvals_t.c.approval_id)
    if status:
        q = q.where(approvals_t.c.status == status)
    with ledger.read() as conn:
        return [_approval(r) for r in conn.execute(q)]


def _load_for_decision(conn: Connection, approval_id: str):  # noqa: ANN202
    """The approval row, locked for this transaction on servers (SELECT ... FOR UPDATE): a second decision
    on the same approval waits, then reads the first one's outcome. (SQLite's BEGIN IMMEDIATE already
    holds the whole store.)"""
    row = conn.execute(select(approvals_t).where(approvals_t.c.approval_id == approval_id).with_for_update()).first()
    if row is None:
        raise ApprovalError(f"no approval with id {approval_id!r}")
    return row


def approve(ledger: Ledger, approval_id: str, supervisor: str, as_of: dt.date) -> ApprovalResult:
    """Grant the requested amount (TQ5) valid 30 days from `as_of` (TQ6). Twice is a no-op."""
    if not supervisor or not supervisor.strip():
        raise ApprovalError("a supervisor name is required to approve")
    as_of = check_as_of(as_of)
    with ledger.write() as conn:
        row = _load_for_decision(conn, approval_id)
        ledger.lock_customer(conn, row.customer_id)
        if row.status == "approved":
            g = conn.execute(select(temp_quotas_t).where(temp_quotas_t.c.approval_id == approval_id)).first()
            grant = Grant(amount=from_fen(g.amount_fen), purpose=g.purpose, granted_on=g.granted_on,
                          expires_on=g.expires_on, approval_id=approval_id)
            return ApprovalResult(approval=_approval(row), grant=grant, changed=False, rules_applied=["TQ5", "TQ6"])
        if row.status == "rejected":
            raise ApprovalError(f"approval {approval_id} was already rejected by {row.decided_by}; it cannot be approved")
        customer = ledger.customer(row.customer_id, conn)
        if live := active_temp_quota(customer, as_of):
            raise ApprovalError(f"customer {row.customer_id} already has a temporary quota valid until "
                                f"{live.expires_on.isoformat()} (TQ4); approval {approval_id} stays pending")
        grant = Grant(amount=from_fen(row.amount_fen), purpose=row.category or row.purpose,
                      granted_on=as_of, expires_on=expiry_for(as_of), approval_id=approval_id)
        conn.execute(temp_quotas_t.insert().values(
            customer_id=row.customer_id, amount_fen=row.amount_fen, purpose=grant.purpose,
            granted_on=grant.granted_on, expires_on=grant.expires_on, approval_id=approval_id,
            granted_by=supervisor))
        conn.execute(approvals_t.update().where(approvals_t.c.approval_id == approval_id)
                     .values(status="approved", decided_by=supervisor, decided_on=as_of))
        row = _load_for_decision(conn, approval_id)
        return ApprovalResult(approval=_approval(row), grant=grant, changed=True, rules_applied=["TQ4", "TQ5", "TQ6"])


def reject(ledger: Ledger, approval_id: str, supervisor: str, reason: str, as_of: dt.date) -> ApprovalResult:
    """Reject a pending approval. Rejecting twice is a no-op; rejecting an approved one is an error."""
    if not supervisor or not supervisor.strip():
        raise ApprovalError("a supervisor name is required to reject")
    as_of = check_as_of(as_of)
    with ledger.write() as conn:
        row = _load_for_decision(conn, approval_id)
        if row.status == "rejected":
            return ApprovalResult(approval=_approval(row), changed=False)
        if row.status == "approved":
            raise ApprovalError(f"approval {approval_id} was already approved by {row.decided_by}; it cannot be rejected")
        conn.execute(approvals_t.update().where(approvals_t.c.approval_id == approval_id)
                     .values(status="rejected", decided_by=supervisor, decided_on=as_of, reason=reason or ""))
        return ApprovalResult(approval=_approval(_load_for_decision(conn, approval_id)), changed=True)
