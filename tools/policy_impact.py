"""What a policy change would do, before it takes effect: every customer of a ledger (and any file of requests)
decided under two versions of the policy, with nothing written.

Per customer and version: the temporary-quota decision on the largest amount the version would approve without
a supervisor (min(cap, auto_approval_max), for its first allowed purpose) — which says eligibility (TQ1, TQ4),
the cap (TQ3) and the supervisor route (TQ5) — and, for a customer with overdue records, the repair check.
The decisions are the tools' own (tools.temp_quota.decide, tools.repair_check.assess): there is no
second copy of a rule here. Counters only, so memory stays flat; a ledger on a file is split into id ranges
decided in parallel processes.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import BaseModel, Field

from tools.ledger import CustomerRecord, Ledger
from tools.ledger_scan import id_bounds, read_only, scan
from tools.policy import PolicyVersion, active
from tools.repair_check import assess
from tools.temp_quota import TempQuotaResult, cap_for, decide

EXAMPLES = 20


class Transition(BaseModel):
    kind: str = Field(description="temp_quota (customers), request, or repair_check")
    before: str
    after: str
    rule: str | None = Field(description="The deciding rule after the change (before it, if none after).")
    count: int


class Change(BaseModel):
    kind: str
    customer_id: str
    request: dict[str, str] | None = None
    before: dict[str, Any]
    after: dict[str, Any]


class ImpactReport(BaseModel):
    """Two versions of the policy over one ledger (政策变更影响)."""
    from_version: str
    to_version: str
    as_of: dt.date
    customers: int = 0
    requests: int = 0
    changed_customers: int = 0
    changed_requests: int = 0
    transitions: list[Transition] = Field(default_factory=list)
    credit_before: Decimal = Field(default=Decimal(0), description="Sum of the caps of customers who may ask (TQ1, TQ4).")
    credit_after: Decimal = Decimal(0)
    auto_before: Decimal = Field(default=Decimal(0), description="Sum of the largest amounts approved without a supervisor.")
    auto_after: Decimal = Decimal(0)
    examples: list[Change] = Field(default_factory=list, description=f"The first {EXAMPLES} changed decisions.")
    seconds: float = 0.0
    workers: int = 1

    @property
    def credit_change(self) -> Decimal:
        return self.credit_after - self.credit_before


def _view(r: TempQuotaResult) -> dict[str, Any]:
    return {"outcome": r.outcome, "deciding_rule": r.deciding_rule, "cap": str(r.cap), "amount": str(r.amount),
            "reasons": r.reasons}


def _customer_view(r: TempQuotaResult, credit: Decimal, auto: Decimal) -> dict[str, Any]:
    """What a customer's decision is under one version: may they ask (and if not, the rule), their cap, the
    largest amount approved at once."""
    return {"outcome": r.outcome, "deciding_rule": r.deciding_rule, "cap": str(credit), "auto_max": str(auto),
            "reasons": r.reasons}


@dataclass
class Tally:
    customers: int = 0
    requests: int = 0
    changed_customers: int = 0
    changed_requests: int = 0
    transitions: Counter = field(default_factory=Counter)
    sums: Counter = field(default_factory=Counter)  # credit_before/after, auto_before/after (Decimal values)
    examples: list[dict] = field(default_factory=list)

    def merge(self, other: "Tally") -> None:
        for k in ("customers", "requests", "changed_customers", "changed_requests"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.transitions.update(other.transitions)
        self.sums.update(other.sums)
        self.examples += other.examples[:max(0, EXAMPLES - len(self.examples))]

    def note(self, change: Change, sink: Any) -> None:
        if len(self.examples) < EXAMPLES:
            self.examples.append(change.model_dump(mode="json"))
        if sink is not None:
            sink.write(change.model_dump_json() + "\n")


def probe(c: CustomerRecord, as_of: dt.date, v: PolicyVersion) -> tuple[TempQuotaResult, Decimal, Decimal]:
    """The decision on the largest amount `v` approves without a supervisor; the cap if the customer may ask
    (else 0) and the amount approved at once (else 0)."""
    tq = v.temp_quota
    amount = min(cap_for(c.credit_line.limit, tq), tq.auto_approval_max)
    r = decide(c, max(amount, Decimal("0.01")), tq.allowed_purposes[0].value, as_of, v)
    may_ask = r.outcome != "denied"
    return r, (r.cap if may_ask else Decimal(0)), (r.amount if r.outcome == "approved" else Decimal(0))


def customer(c: CustomerRecord, as_of: dt.date, a: PolicyVersion, b: PolicyVersion, t: Tally, sink: Any,
             repair: bool = True) -> None:
    """One customer under both versions; `repair=False` when both versions hold the same repair parameters (the
    same parameters decide the same records the same way: nothing to compare)."""
    t.customers += 1
    ra, credit_a, auto_a = probe(c, as_of, a)
    rb, credit_b, auto_b = probe(c, as_of, b)
    t.sums["credit_before"] += credit_a
    t.sums["credit_after"] += credit_b
    t.sums["auto_before"] += auto_a
    t.sums["auto_after"] += auto_b
    changed = (ra.outcome, ra.deciding_rule, credit_a, auto_a) != (rb.outcome, rb.deciding_rule, credit_b, auto_b)
    if ra.outcome != rb.outcome or ra.deciding_rule != rb.deciding_rule:
        t.transitions[("temp_quota", ra.outcome, rb.outcome, rb.deciding_rule or ra.deciding_rule)] += 1
    repaired = None
    if repair and c.overdue_records:
        pa = assess(c.customer_id, c.overdue_records, as_of, a)
        pb = assess(c.customer_id, c.overdue_records, as_of, b)
        if [v.status for v in pa.records] != [v.status for v in pb.records]:
            changed = True
            moved = next(x for x, y in zip(pa.records, pb.records) if x.status != y.status)
            after_rec = next(y for y in pb.records if y.record_id == moved.record_id)
            t.transitions[("repair_check", pa.outcome, pb.outcome, after_rec.deciding_rule or moved.deciding_rule
                           or "R3")] += 1
            repaired = (pa.outcome, pb.outcome)
    if changed:  # the views only for a decision that changes
        before, after = _customer_view(ra, credit_a, auto_a), _customer_view(rb, credit_b, auto_b)
        if repaired:
            before["repair"], after["repair"] = repaired
        t.changed_customers += 1
        t.note(Change(kind="customer", customer_id=c.customer_id, before=before, after=after), sink)


def request(c: CustomerRecord | None, req: dict[str, str], as_of: dt.date, a: PolicyVersion, b: PolicyVersion,
            t: Tally, sink: Any) -> None:
    t.requests += 1
    if c is None:
        return
    day = dt.date.fromisoformat(req["as_of"]) if req.get("as_of") else as_of
    ra = decide(c, Decimal(req["amount"]), req["purpose"], day, a)
    rb = decide(c, Decimal(req["amount"]), req["purpose"], day, b)
    if (ra.outcome, ra.deciding_rule) != (rb.outcome, rb.deciding_rule):
        t.transitions[("request", ra.outcome, rb.outcome, rb.deciding_rule or ra.deciding_rule)] += 1
    if _view(ra) != _view(rb):
        t.changed_requests += 1
        t.note(Change(kind="request", customer_id=c.customer_id, request=req, before=_view(ra), after=_view(rb)), sink)


def _part(url: str, lo: str | None, hi: str | None, as_of: dt.date, a_id: str, b_id: str,
          out: str | None) -> Tally:
    pol = active()  # a forked worker has the parent's policy; a spawned one reads $RISKDESK_POLICY
    a, b = pol.version(a_id), pol.version(b_id)
    t = Tally()
    engine = read_only(url)
    sink = open(out, "w", encoding="utf-8") if out else None
    try:
        repair = a.repair != b.repair
        for c in scan(engine, lo, hi):
            customer(c, as_of, a, b, t, sink, repair)
    finally:
        if sink:
            sink.close()
        engine.dispose()
    return t


def read_requests(path: Path) -> Iterator[dict[str, str]]:
    """Requests from CSV (a header with customer_id, amount, purpose[, as_of]) or JSON Lines."""
    import csv
    with open(path, encoding="utf-8", newline="") as f:
        if path.suffix.lower() == ".csv":
            rows: Iterable[dict] = csv.DictReader(f)
        else:
            rows = (json.loads(line) for line in f if line.strip())
        for n, row in enumerate(rows, start=1):
            missing = [k for k in ("customer_id", "amount", "purpose") if not str(row.get(k) or "").strip()]
            if missing:
                raise ValueError(f"{path}: request {n}: missing {', '.join(missing)}")
            yield {k: str(v) for k, v in row.items() if v is not None and k in ("customer_id", "amount", "purpose", "as_of")}


def impact(ledger: Ledger, a_id: str, b_id: str, as_of: dt.date, requests: Iterable[dict[str, str]] = (),
           out: Path | None = None, workers: int | None = None, url: str | None = None) -> ImpactReport:
    """Both versions over every customer of `ledger` (in `workers` processes when it is a file at `url`) and
    over `requests`; every changed decision is written to `out` (JSON Lines) when given."""
    import time
    t0 = time.perf_counter()
    pol = active()
    a, b = pol.version(a_id), pol.version(b_id)
    workers = workers or (os.cpu_count() or 1)
    total = Tally()
    parts: list[str] = []
    if url and workers > 1 and not url.startswith(("sqlite://:memory:", "sqlite:///:memory:")) and url != "sqlite://":
        import multiprocessing
        ranges = id_bounds(ledger, workers)
        parts = [f"{out}.part{i}" for i in range(len(ranges))] if out else [None] * len(ranges)
        with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context("fork")) as pool:
            for t in pool.map(_part, [url] * len(ranges), [r[0] for r in ranges], [r[1] for r in ranges],
                              [as_of] * len(ranges), [a_id] * len(ranges), [b_id] * len(ranges), parts):
                total.merge(t)
    else:
        workers = 1
        sink = open(f"{out}.part0", "w", encoding="utf-8") if out else None
        parts = [f"{out}.part0"] if out else []
        try:
            repair = a.repair != b.repair
            for c in scan(ledger):
                customer(c, as_of, a, b, total, sink, repair)
        finally:
            if sink:
                sink.close()
    sink = open(f"{out}.requests", "w", encoding="utf-8") if out else None
    try:
        for req in requests:
            request(ledger.customer(req["customer_id"]), req, as_of, a, b, total, sink)
    finally:
        if sink:
            sink.close()
    if out:
        with open(out, "w", encoding="utf-8") as dest:
            for p in [*[p for p in parts if p], f"{out}.requests"]:
                with open(p, encoding="utf-8") as src:
                    for line in src:
                        dest.write(line)
                os.remove(p)
    s = total.sums
    return ImpactReport(
        from_version=a.id, to_version=b.id, as_of=as_of, customers=total.customers, requests=total.requests,
        changed_customers=total.changed_customers, changed_requests=total.changed_requests,
        transitions=[Transition(kind=k, before=x, after=y, rule=r, count=n)
                     for (k, x, y, r), n in sorted(total.transitions.items(), key=lambda kv: (-kv[1], kv[0]))],
        credit_before=s["credit_before"], credit_after=s["credit_after"], auto_before=s["auto_before"],
        auto_after=s["auto_after"], examples=[Change.model_validate(e) for e in total.examples],
        seconds=round(time.perf_counter() - t0, 2), workers=workers)
