"""Whole-ledger scans: every customer, streamed in keyset pages, decided by the tools' own pure functions.

Memory stays flat whatever the ledger's size: one page of customers (`page` rows, ordered by customer_id,
the next page starting after the last id seen) and their overdue records is held at a time. Each
customer is decided by `tools.repair_check.assess`, the very function `repair_check` calls once it has
read one customer: no second copy of a rule.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Iterator

from pydantic import BaseModel, Field
from sqlalchemy import select

from tools.ledger import Ledger, OverdueRecord, customers_t, overdue_t
from tools.money import from_fen
from tools.repair_check import RepairCheckResult, assess
from tools.policy import in_force
from tools.rules import RULE_CLAUSES, clause_for

RULE_ORDER = ("R1", "R2", "R3")


def customer_pages(ledger: Ledger, page: int = 5000) -> Iterator[list[str]]:
    """Customer ids in pages of `page`, ascending (keyset: WHERE customer_id > last ORDER BY customer_id)."""
    last: str | None = None
    while True:
        q = select(customers_t.c.customer_id).order_by(customers_t.c.customer_id).limit(page)
        if last is not None:
            q = q.where(customers_t.c.customer_id > last)
        with ledger.read() as conn:
            ids = [r[0] for r in conn.execute(q)]
        if not ids:
            return
        yield ids
        last = ids[-1]


def _records(ledger: Ledger, first: str, last: str) -> dict[str, list[OverdueRecord]]:
    """The overdue records of customers first..last (inclusive), by customer."""
    out: dict[str, list[OverdueRecord]] = {}
    q = (select(overdue_t.c.customer_id, overdue_t.c.record_id, overdue_t.c.institution, overdue_t.c.product,
                overdue_t.c.amount_fen, overdue_t.c.overdue_since, overdue_t.c.repaid_on)
         .where(overdue_t.c.customer_id >= first, overdue_t.c.customer_id <= last))
    with ledger.read() as conn:
        for cid, rid, inst, product, fen, since, repaid in conn.execute(q):
            out.setdefault(cid, []).append(OverdueRecord(record_id=rid, institution=inst, product=product,
                                                         amount=from_fen(fen), overdue_since=since, repaid_on=repaid))
    return out


def scan_repair(ledger: Ledger, as_of: dt.date, page: int = 5000) -> Iterator[RepairCheckResult]:
    """The repair check (R1–R4) of every customer, in customer-id order, one page in memory at a time, under the
    policy version in force on `as_of` (looked up once)."""
    version = in_force(as_of)
    for ids in customer_pages(ledger, page):
        records = _records(ledger, ids[0], ids[-1])
        for cid in ids:
            yield assess(cid, records.get(cid, ()), as_of, version)


def repair_deciding_rule(result: RepairCheckResult) -> str | None:
    """The rule a customer's outcome turns on: for a customer with an ineligible record, the first failing rule
    (R1, R2, R3 in order) among those records; for an all-eligible customer R3 (the repayment test that sets
    the record's hidden-from or repay-by day); none without records."""
    failing = {v.deciding_rule for v in result.records if v.deciding_rule}
    if failing:
        return next(r for r in RULE_ORDER if r in failing)
    return "R3" if result.records else None


class ScanSummary(BaseModel):
    """What a whole-ledger repair scan found."""

    as_of: dt.date
    customers: int = 0
    by_outcome: dict[str, int] = Field(default_factory=dict, description="Customers by outcome.")
    by_deciding_rule: dict[str, int] = Field(default_factory=dict, description="Customers by the rule their outcome "
                                                                              "turns on (none: no records).")
    records_by_status: dict[str, int] = Field(default_factory=dict,
                                              description="Overdue records by status, an ineligible one by its rule.")
    written: int = Field(default=0, description="Customers written to the output (eligible or partially eligible).")
    clauses: dict[str, str] = Field(default_factory=dict, description="The clause id of every rule counted.")


class Tally:
    """Counts a scan's results as they stream past (constant memory)."""

    def __init__(self, as_of: dt.date):
        self.as_of, self.n = as_of, 0
        self.outcomes: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self.records: Counter[str] = Counter()
        self.written = 0

    def add(self, r: RepairCheckResult) -> None:
        self.n += 1
        self.outcomes[r.outcome] += 1
        self.rules[repair_deciding_rule(r) or "none"] += 1
        for v in r.records:
            self.records[f"ineligible_{v.deciding_rule}" if v.deciding_rule else v.status] += 1

    def summary(self) -> ScanSummary:
        rules = sorted(k for k in self.rules if k in RULE_CLAUSES)
        return ScanSummary(as_of=self.as_of, customers=self.n, by_outcome=dict(sorted(self.outcomes.items())),
                           by_deciding_rule=dict(sorted(self.rules.items())),
                           records_by_status=dict(sorted(self.records.items())), written=self.written,
                           clauses={r: clause_for(r, self.as_of) for r in [*rules, "R4"]})
