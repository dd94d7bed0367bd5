"""The central bank's one-time personal credit repair check (R1–R4), record by record.

R1 window: overdue since 2020-01-01 .. 2025-12-31 inclusive.
R2 amount: single overdue amount <= 10,000.00 yuan; each record on its own, no count limit.
R3 repayment: repaid in full by 2026-03-31 inclusive. Repaid on or before 2025-11-30: not shown
   from 2026-01-01. Repaid 2025-12-01 .. 2026-03-31: not shown from the repayment date.
   Unrepaid on as_of <= 2026-03-31: eligible if repaid in full by 2026-03-31. Otherwise the
   ordinary rule applies (kept 5 years from the day the default ends).
R4 procedure: nothing to apply for, no fee, no agent (paid "repair" intermediaries are a scam).

The dates and amounts are the policy version in force on the check's as_of (tools/policy.py, table `repair`);
the figures above are the shipped ones. The order and the logic live here.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Literal

from pydantic import BaseModel, Field

from tools.ledger import Ledger, OverdueRecord, Product
from tools.dates import AsOf
from tools.registry import Tool
from tools.errors import validate_input
from tools.money import Yuan
from tools.policy import PolicyVersion, RepairParams, in_force

RecordStatus = Literal["eligible", "eligible_if_repaid", "ineligible"]


class RepairCheckInput(BaseModel):
    """Check a customer's overdue records against the one-time credit repair policy."""

    customer_id: str = Field(min_length=1, max_length=32, description="Customer id as the ledger holds it, in any format (e.g. C1001, 4402198812, CUS-004417).")
    as_of: AsOf


class RecordVerdict(BaseModel):
    record_id: str
    institution: str
    product: Product
    amount: Yuan
    overdue_since: dt.date
    repaid_on: dt.date | None
    status: RecordStatus
    deciding_rule: Literal["R1", "R2", "R3"] | None = Field(
        default=None, description="The first failing rule of an ineligible record.")
    hidden_from: dt.date | None = Field(default=None, description="From this date the record is no longer shown.")
    repay_by: dt.date | None = Field(default=None, description="Deadline for an unrepaid qualifying record.")
    ordinary_until: dt.date | None = Field(
        default=None, description="Ineligible repaid record: kept 5 years from the repayment date.")
    rules_applied: list[str]


class RepairProcedure(BaseModel):
    """R4: the central bank processes qualifying records itself."""

    rule: Literal["R4"] = "R4"
    application_needed: bool = False
    fee_yuan: int = 0
    agent_needed: bool = False


class RepairCheckResult(BaseModel):
    tool: Literal["repair_check"] = "repair_check"
    outcome: Literal["eligible", "partially_eligible", "ineligible", "no_records", "not_found"]
    customer_id: str
    as_of: dt.date
    records: list[RecordVerdict] = Field(default_factory=list)
    eligible_count: int = 0
    procedure: RepairProcedure = Field(default_factory=RepairProcedure)
    rules_applied: list[str] = Field(default_factory=list)
    policy_version: str | None = Field(default=None, exclude=True,  # not in the JSON: recorded traffic stays as it is
                                       description="The policy version whose parameters decided.")


def _plus_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def judge_record(r: OverdueRecord, as_of: dt.date, p: RepairParams | None = None) -> RecordVerdict:
    """One record, rules in order R1, R2, R3; the first failing rule decides (parameters: `p`, by default the
    policy version in force on `as_of`)."""
    p = p or in_force(as_of).repair
    base = dict(record_id=r.record_id, institution=r.institution, product=r.product, amount=r.amount,
                overdue_since=r.overdue_since, repaid_on=r.repaid_on)
    if not (p.window_start <= r.overdue_since <= p.window_end):
        return RecordVerdict(**base, status="ineligible", deciding_rule="R1", rules_applied=["R1"])
    if r.amount > p.max_single_amount:
        return RecordVerdict(**base, status="ineligible", deciding_rule="R2", rules_applied=["R1", "R2"])
    applied = ["R1", "R2", "R3"]
    repaid = r.repaid_on if r.repaid_on is not None and r.repaid_on <= as_of else None
    if repaid is not None and repaid <= p.repay_by:
        hidden = p.early_hidden_from if repaid <= p.early_repaid_by else repaid
        return RecordVerdict(**base, status="eligible", hidden_from=hidden, rules_applied=applied)
    if repaid is None and as_of <= p.repay_by:
        return RecordVerdict(**base, status="eligible_if_repaid", repay_by=p.repay_by, rules_applied=applied)
    return RecordVerdict(**base, status="ineligible", deciding_rule="R3", rules_applied=applied,
                         ordinary_until=_plus_years(repaid, p.ordinary_retention_years) if repaid else None)


def repair_check(ledger: Ledger, customer_id: str, as_of: dt.date) -> RepairCheckResult:
    args = validate_input(RepairCheckInput, "repair check", customer_id=customer_id, as_of=as_of)
    customer = ledger.customer(args.customer_id)
    if customer is None:
        return RepairCheckResult(outcome="not_found", customer_id=args.customer_id, as_of=args.as_of)
    return assess(customer.customer_id, customer.overdue_records, args.as_of)


def assess(customer_id: str, overdue_records: Iterable[OverdueRecord], as_of: dt.date,
           version: PolicyVersion | None = None) -> RepairCheckResult:
    """The pure decision for one customer's records (no reads, no writes): what `repair_check` answers once it
    has read the customer, and what a whole-ledger batch calls for every customer it streams. `version` is by
    default the policy version in force on as_of."""
    v = version or in_force(as_of)
    records = sorted(overdue_records, key=lambda r: r.record_id)
    verdicts = [judge_record(r, as_of, v.repair) for r in records]
    n_ok = sum(v.status != "ineligible" for v in verdicts)
    if not verdicts:
        outcome = "no_records"
    elif n_ok == len(verdicts):
        outcome = "eligible"
    elif n_ok:
        outcome = "partially_eligible"
    else:
        outcome = "ineligible"
    applied = sorted({rule for v in verdicts for rule in v.rules_applied}) + ["R4"]
    return RepairCheckResult(outcome=outcome, customer_id=customer_id, as_of=as_of, records=verdicts,
                             eligible_count=n_ok, rules_applied=applied, policy_version=v.id)


TOOL = Tool("repair_check", RepairCheckInput, RepairCheckResult, repair_check,
            rules={f"R{i}": f"PBOC-REPAIR-R{i}" for i in range(1, 5)}, writes=False, role="viewer")
