"""Credit-limit lookup (LIMIT) with the temporary quota's effect on the limit (TQ7).

available = base limit - used; total available = base limit - used + unexpired temporary quota.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from tools.ledger import AccountStatus, CustomerRecord, Ledger
from tools.dates import AsOf
from tools.registry import Tool
from tools.errors import validate_input
from tools.money import Yuan


class LimitLookupInput(BaseModel):
    """Look up a customer's credit limit as of a date."""

    customer_id: str = Field(min_length=1, max_length=32, description="Customer id as the ledger holds it, in any format (e.g. C1001, 4402198812, CUS-004417).")
    as_of: AsOf


class ActiveTempQuota(BaseModel):
    amount: Yuan
    purpose: str
    granted_on: dt.date
    expires_on: dt.date


class LimitLookupResult(BaseModel):
    tool: Literal["limit_lookup"] = "limit_lookup"
    outcome: Literal["found", "not_found"]
    customer_id: str
    as_of: dt.date
    status: AccountStatus | None = None
    base_limit: Yuan | None = None
    used: Yuan | None = None
    available: Yuan | None = None
    temp_quota: ActiveTempQuota | None = None
    total_available: Yuan | None = None
    rules_applied: list[str] = Field(default_factory=list)


def active_temp_quota(customer: CustomerRecord, as_of: dt.date) -> ActiveTempQuota | None:
    """The temporary quota in force on `as_of` (granted on or before, expiring on or after)."""
    live = [q for q in customer.temp_quotas if q.active_on(as_of)]
    if not live:
        return None
    q = max(live, key=lambda q: (q.expires_on, q.granted_on))
    return ActiveTempQuota(amount=q.amount, purpose=q.purpose, granted_on=q.granted_on, expires_on=q.expires_on)


def limit_lookup(ledger: Ledger, customer_id: str, as_of: dt.date) -> LimitLookupResult:
    args = validate_input(LimitLookupInput, "limit lookup", customer_id=customer_id, as_of=as_of)
    customer = ledger.customer(args.customer_id)
    if customer is None:
        return LimitLookupResult(outcome="not_found", customer_id=args.customer_id, as_of=args.as_of)
    base, used = customer.credit_line.limit, customer.credit_line.used
    quota = active_temp_quota(customer, args.as_of)
    available = base - used
    return LimitLookupResult(
        outcome="found", customer_id=customer.customer_id, as_of=args.as_of, status=customer.status,
        base_limit=base, used=used, available=available, temp_quota=quota,
        total_available=available + (quota.amount if quota else 0),
        rules_applied=["LIMIT", "TQ7"],
    )


TOOL = Tool("limit_lookup", LimitLookupInput, LimitLookupResult, limit_lookup,
            rules={"LIMIT": "LENDER-LIMIT-LOOKUP", "TQ7": "LENDER-TQ-TQ7"}, writes=False, role="viewer")
