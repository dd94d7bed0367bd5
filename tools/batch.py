"""Batch decisions: many rows through the same tools and rules as a single turn, with no LLM.

    run_batch("repair" | "limit" | "quota", ledger, Path("in.csv"), Path("out.jsonl"), as_of=day)

One output row per input row: the outcome, the deciding rule, the figures it compared and the rule's clause
id, or an error that says what is wrong with that row (a bad row never stops the batch). Rows are decided by
the tools themselves (`limit_lookup`, `repair_check`, and for quotas `temp_quota.what_if`, or `temp_quota`
with `commit=True`): nothing is decided here. A quota batch writes grants and approvals only when committed;
each committed row carries an idempotency key made of the input file and the row's content, so a resumed
batch replays a stored decision instead of deciding it twice.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field

from tools.approvals import ApprovalError
from tools.batch_io import RowWriter, read_rows, resume_point
from tools.batch_scan import Tally, repair_deciding_rule, scan_repair
from tools.dates import parse_day
from tools.errors import PermissionDenied, ToolInputError
from tools.ledger import Ledger
from tools.limit_lookup import limit_lookup
from tools.repair_check import RepairCheckResult, repair_check
from tools.rules import RULE_CLAUSES, clause_for
from tools.temp_quota import temp_quota, what_if

Kind = Literal["repair", "limit", "quota"]
KINDS: tuple[str, ...] = ("repair", "limit", "quota")


class BatchRow(BaseModel):
    """One output row: the decision for one input row, or the error that row got."""

    row: int = Field(description="The input row's number, from 1.")
    customer_id: str | None = None
    as_of: dt.date | None = None
    outcome: str | None = None
    deciding_rule: str | None = None
    clause_id: str | None = Field(default=None, description="The knowledge-base clause of the deciding rule.")
    figures: dict[str, Any] = Field(default_factory=dict, description="What the rule compared (money as strings).")
    error: str | None = None


COLUMNS = list(BatchRow.model_fields)


class BatchReport(BaseModel):
    kind: str
    rows: int = Field(default=0, description="Input rows seen in this run.")
    resumed_after: int = Field(default=0, description="Rows an earlier run had already answered (skipped).")
    decided: int = 0
    errors: int = 0
    committed: bool = False
    by_outcome: dict[str, int] = Field(default_factory=dict)


def _clause(rule: str | None, as_of: dt.date) -> str | None:
    """The clause the rule cites on that day (the policy version in force may name its own)."""
    return clause_for(rule, as_of) if rule in RULE_CLAUSES else None


def _day(raw: dict[str, Any], default: dt.date) -> dt.date:
    value = raw.get("as_of")
    if value in (None, ""):
        return default
    try:
        return parse_day(str(value))
    except ValueError as e:
        raise ToolInputError(f"as_of: {e}") from None


def _figures_repair(r: RepairCheckResult) -> dict[str, Any]:
    return {"records": [v.model_dump(mode="json", include={"record_id", "amount", "overdue_since", "repaid_on", "status",
                                                           "deciding_rule", "hidden_from", "repay_by"})
                        for v in r.records],
            "eligible_count": r.eligible_count, "policy_version": r.policy_version}


def repair_row(r: RepairCheckResult) -> dict[str, Any]:
    rule = repair_deciding_rule(r)
    return dict(customer_id=r.customer_id, as_of=r.as_of, outcome=r.outcome, deciding_rule=rule,
                clause_id=_clause(rule, r.as_of), figures=_figures_repair(r))


def _decide(kind: str, ledger: Ledger, raw: dict[str, Any], as_of: dt.date, commit: bool, key: str,
            requested_by: str | None) -> dict[str, Any]:
    cid = raw.get("customer_id")
    if kind == "repair":
        return repair_row(repair_check(ledger, cid, as_of))
    if kind == "limit":
        r = limit_lookup(ledger, cid, as_of)
        rule = "LIMIT" if r.outcome == "found" else None
        return dict(customer_id=r.customer_id, as_of=r.as_of, outcome=r.outcome, deciding_rule=rule, clause_id=_clause(rule, r.as_of),
                    figures=r.model_dump(mode="json", include={"base_limit", "used", "available", "temp_quota",
                                                               "total_available", "rules_applied"}))
    args = dict(customer_id=cid, amount=raw.get("amount"), purpose=raw.get("purpose"), as_of=as_of)
    if commit:
        r = temp_quota(ledger, **args, idempotency_key=key, requested_by=requested_by)
    else:
        r = what_if(ledger, **args)
    figures = r.model_dump(mode="json", include={"amount", "cap", "purpose_category", "reasons", "active_quota_expires_on",
                                                 "grant", "approval_id", "replayed", "attached",
                                                 "policy_version"})
    figures["committed"] = commit and r.outcome in ("approved", "needs_approval")
    return dict(customer_id=r.customer_id, as_of=r.as_of, outcome=r.outcome, deciding_rule=r.deciding_rule,
                clause_id=_clause(r.deciding_rule, r.as_of), figures=figures)


def row_key(source: Path, n: int, raw: dict[str, Any]) -> str:
    """The idempotency key of a committed row: the input file, the row number and the row's content."""
    text = json.dumps([str(source.resolve()), n, raw], ensure_ascii=False, sort_keys=True, default=str)
    return "batch-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def decide_row(kind: str, ledger: Ledger, n: int, raw: dict[str, Any] | str, as_of: dt.date, *, commit: bool = False,
               write_day: dt.date | None = None, key: str = "", requested_by: str | None = None) -> BatchRow:
    """One row, never raising for bad input: the error goes into the row. `write_day`: the only date a committed
    row may be decided on (a persistent store's today)."""
    if isinstance(raw, str):
        return BatchRow(row=n, error=raw)
    cid = raw.get("customer_id")
    cid = cid if isinstance(cid, str) and cid else None
    try:
        if cid is None:
            raise ToolInputError("customer_id: missing / 缺少客户号")
        day = _day(raw, as_of)
        if commit and write_day is not None and day != write_day:
            raise ToolInputError(f"as_of: {day} cannot date a write on the persistent store; grants are dated today "
                                 f"({write_day}) / 持久账本的写入只能以今天为日期")
        return BatchRow(row=n, **_decide(kind, ledger, raw, day, commit, key, requested_by))
    except (ToolInputError, ApprovalError, PermissionDenied) as e:
        return BatchRow(row=n, customer_id=cid, error=str(e))


def run_batch(kind: str, ledger: Ledger, source: Path, out: Path, *, as_of: dt.date, commit: bool = False,
              write_day: dt.date | None = None, requested_by: str | None = None,
              progress: Callable[[int], None] | None = None) -> BatchReport:
    """Decide every row of `source` into `out`, resuming after the rows `out` already holds."""
    if kind not in KINDS:
        raise ToolInputError(f"unknown batch kind {kind!r}; one of {', '.join(KINDS)}")
    if commit and kind != "quota":
        raise ToolInputError("only a quota batch writes anything; --commit applies to quota")
    done = resume_point(out)
    report = BatchReport(kind=kind, resumed_after=done, committed=commit)
    outcomes: Counter[str] = Counter()
    with RowWriter(out, COLUMNS) as w:
        for n, raw in read_rows(source):
            report.rows += 1
            if n <= done:
                continue
            row = decide_row(kind, ledger, n, raw, as_of, commit=commit, write_day=write_day,
                             key=row_key(source, n, raw) if isinstance(raw, dict) else "", requested_by=requested_by)
            w.write(row.model_dump(mode="json"))
            if row.error:
                report.errors += 1
            else:
                report.decided += 1
                outcomes[row.outcome or "none"] += 1
            if progress:
                progress(1)
    report.by_outcome = dict(sorted(outcomes.items()))
    return report


SCAN_COLUMNS = ["customer_id", "as_of", "outcome", "deciding_rule", "clause_id", "figures"]


def scan_ledger(ledger: Ledger, as_of: dt.date, out: Path | None, page: int = 5000,
                progress: Callable[[int], None] | None = None, workers: int = 1) -> Tally:
    """The whole ledger's repair scan: counts for every customer; the eligible and partially eligible ones,
    with their records, written to `out` (replaced). `workers` > 1 decides pages in that many processes
    (tools/batch_parallel.py); the counts and the file are the same."""
    tally = Tally(as_of)
    if out is not None and out.exists():
        out.unlink()
    writer = RowWriter(out, SCAN_COLUMNS) if out is not None else None
    try:
        if workers > 1:
            from tools.batch_parallel import merge, scan_pages
            for counts, rows, _ in scan_pages(ledger, as_of, workers, page):
                merge(tally, counts)
                for row in rows:
                    if writer is not None:
                        writer.write(row)
                        tally.written += 1
                if progress:
                    progress(counts["n"])
            return tally
        for r in scan_repair(ledger, as_of, page):
            tally.add(r)
            if writer is not None and r.outcome in ("eligible", "partially_eligible"):
                row = repair_row(r)
                writer.write({**row, "as_of": r.as_of.isoformat()})
                tally.written += 1
            if progress and tally.n % page == 0:
                progress(page)
    finally:
        if writer is not None:
            writer.close()
    return tally
