"""Supervisor approvals of temporary quotas (TQ5): list, approve, reject, expire.

An approval always ends: approved (the grant is written, TQ6 from the decision date), rejected (always
possible while pending), or expired (not decided by its decide-by day, 30 days counting the request
date; marked on the next decision, or when approvals are listed with a date). The requester can never
approve their own request (maker-checker). Each decision is evaluated fresh, in one transaction, with the
approval's row locked on servers; approving twice or rejecting twice is a no-op.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import Connection

from tools.dates import check_as_of
from tools.errors import PermissionDenied, ToolInputError
from tools.ledger import Ledger, approvals_t, temp_quotas_t
from tools import events
from tools.money import Yuan, from_fen, yuan_str
from tools.purpose import Purpose
from tools.policy import active
from tools.temp_quota import (
    Grant, expire_row, lapse_reason, decide_by, expiry_for, overlapping_temp_quota,
)


class ApprovalError(ValueError):
    """An approval action that cannot be carried out (unknown id, already decided otherwise, expired, TQ4)."""


class Approval(BaseModel):
    approval_id: str
    customer_id: str
    amount: Yuan
    purpose: str
    category: Purpose | None
    requested_on: dt.date
    requested_by: str | None = Field(default=None, description="Who asked; never the one who approves.")
    decide_by: dt.date = Field(description="The last day it can be approved; after it, it expires.")
    reasons: list[str]
    status: Literal["pending", "approved", "rejected", "expired"]
    decided_by: str | None = Field(default=None, description="The supervisor, or 'system' for an expiry.")
    decided_on: dt.date | None = None
    reason: str | None = None


class ApprovalResult(BaseModel):
    approval: Approval
    grant: Grant | None = None
    changed: bool = Field(description="False when the call repeated a decision already taken.")
    rules_applied: list[str] = Field(default_factory=list)


def _approval(row) -> Approval:  # noqa: ANN001
    return Approval(approval_id=row.approval_id, customer_id=row.customer_id, amount=from_fen(row.amount_fen),
                    purpose=row.purpose, category=row.category, requested_on=row.requested_on,
                    requested_by=row.requested_by, decide_by=decide_by(row.requested_on),
                    reasons=json.loads(row.reasons), status=row.status, decided_by=row.decided_by,
                    decided_on=row.decided_on, reason=row.reason)


def expire_lapsed(ledger: Ledger, today: dt.date) -> int:
    """Mark every pending approval whose decide-by day is before `today` as expired; how many."""
    # requested on or before: decide_by < today under the shortest validity of any version (each row checked)
    shortest = min(v.temp_quota.validity_days for v in active().versions)
    last_request_day = today - dt.timedelta(days=shortest)
    with ledger.write() as conn:
        rows = conn.execute(select(approvals_t).where(approvals_t.c.status == "pending",
                                                      approvals_t.c.requested_on <= last_request_day)
                            .with_for_update()).all()
        rows = [row for row in rows if decide_by(row.requested_on) < today]
        for row in rows:
            expire_row(conn, row, today)
    return len(rows)


def get_approval(ledger: Ledger, approval_id: str) -> Approval | None:
    with ledger.read() as conn:
        row = conn.execute(select(approvals_t).where(approvals_t.c.approval_id == approval_id)).first()
        return _approval(row) if row else None


def list_approvals(ledger: Ledger, status: str | None = "pending", today: dt.date | None = None) -> list[Approval]:
    """Approvals with this status (all for None). With `today`, lapsed pending ones expire first."""
    if today is not None:
        expire_lapsed(ledger, today)
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


def _decider(supervisor: str, what: str) -> str:
    if not isinstance(supervisor, str) or not supervisor.strip():
        raise ApprovalError(f"a supervisor name is required to {what}")
    return supervisor.strip()


def approve(ledger: Ledger, approval_id: str, supervisor: str, as_of: dt.date) -> ApprovalResult:
    """Grant the requested amount (TQ5) valid 30 days from `as_of` (TQ6). Twice is a no-op. Refused for the
    requester (PermissionDenied), after the decide-by day (the approval expires), and while another quota's
    validity overlaps the new one's (TQ4: the approval stays pending and can be rejected)."""
    supervisor = _decider(supervisor, "approve")
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
        if row.status == "expired":
            raise ApprovalError(f"approval {approval_id} {row.reason or 'expired'}; it cannot be approved")
        if row.requested_by is not None and row.requested_by == supervisor:
            raise PermissionDenied(f"{supervisor} requested approval {approval_id} and cannot also approve it: "
                                   "another supervisor must decide (four eyes)")
        if as_of < row.requested_on:
            raise ToolInputError(f"invalid as_of: {as_of.isoformat()} is before the request date "
                                 f"{row.requested_on.isoformat()} of approval {approval_id}")
        lapsed = as_of > decide_by(row.requested_on)
        if lapsed:
            expire_row(conn, row, as_of)  # committed below; the caller is told why nothing was granted
        else:
            customer = ledger.customer(row.customer_id, conn)
            if live := overlapping_temp_quota(customer, as_of, expiry_for(as_of)):
                raise ApprovalError(
                    f"customer {row.customer_id} already has a temporary quota valid {live.granted_on.isoformat()} to "
                    f"{live.expires_on.isoformat()} (TQ4); approval {approval_id} stays pending: reject it, or it "
                    f"expires after {decide_by(row.requested_on).isoformat()}")
            grant = Grant(amount=from_fen(row.amount_fen), purpose=row.category or row.purpose,
                          granted_on=as_of, expires_on=expiry_for(as_of), approval_id=approval_id)
            conn.execute(temp_quotas_t.insert().values(
                customer_id=row.customer_id, amount_fen=row.amount_fen, purpose=grant.purpose,
                granted_on=grant.granted_on, expires_on=grant.expires_on, approval_id=approval_id,
                granted_by=supervisor))
            conn.execute(approvals_t.update().where(approvals_t.c.approval_id == approval_id)
                         .values(status="approved", decided_by=supervisor, decided_on=as_of))
            events.record(conn, "approval.approved", row.customer_id, as_of, {
                "approval_id": approval_id, "amount": yuan_str(grant.amount), "purpose": row.purpose,
                "purpose_category": row.category, "requested_by": row.requested_by, "decided_by": supervisor,
                "granted_on": grant.granted_on.isoformat(), "expires_on": grant.expires_on.isoformat(),
                "deciding_rule": "TQ5"})
            row = _load_for_decision(conn, approval_id)
            return ApprovalResult(approval=_approval(row), grant=grant, changed=True, rules_applied=["TQ4", "TQ5", "TQ6"])
    raise ApprovalError(f"approval {approval_id} {lapse_reason(row)}")


def reject(ledger: Ledger, approval_id: str, supervisor: str, reason: str, as_of: dt.date) -> ApprovalResult:
    """Reject a pending approval: always possible while it is pending (also when it can no longer be
    granted). Rejecting twice, or an expired one, is a no-op; rejecting an approved one is an error."""
    supervisor = _decider(supervisor, "reject")
    as_of = check_as_of(as_of)
    with ledger.write() as conn:
        row = _load_for_decision(conn, approval_id)
        if row.status in ("rejected", "expired"):
            return ApprovalResult(approval=_approval(row), changed=False)
        if row.status == "approved":
            raise ApprovalError(f"approval {approval_id} was already approved by {row.decided_by}; it cannot be rejected")
        conn.execute(approvals_t.update().where(approvals_t.c.approval_id == approval_id)
                     .values(status="rejected", decided_by=supervisor, decided_on=as_of, reason=reason or ""))
        events.record(conn, "approval.rejected", row.customer_id, as_of, {
            "approval_id": approval_id, "amount": yuan_str(from_fen(row.amount_fen)), "purpose": row.purpose,
            "requested_by": row.requested_by, "decided_by": supervisor, "reason": reason or ""})
        return ApprovalResult(approval=_approval(_load_for_decision(conn, approval_id)), changed=True)
