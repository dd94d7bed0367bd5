"""Benchmark of the whole-ledger repair scan: rows/s, peak memory, and a check against the tool.

    python -m tools.synthetic_ledger --customers 1000000 --seed 7 --url sqlite:////tmp/big.sqlite3
    riskdesk batch bench --url sqlite:////tmp/big.sqlite3 --as-of 2026-01-15 --sample 10000

A seeded random sample of customers (reservoir sampling over the streamed ids, so the sample never
depends on how ids look) is decided again one by one through `repair_check`, the tool a single turn
calls; every sampled result must equal the scan's, field for field.
"""
from __future__ import annotations

import datetime as dt
import random
import resource
import time
from typing import Callable

from pydantic import BaseModel, Field

from tools.batch_scan import Tally, customer_pages, scan_repair
from tools.ledger import Ledger
from tools.repair_check import repair_check


class BenchResult(BaseModel):
    dialect: str
    customers: int
    as_of: dt.date
    seconds: float
    rows_per_second: float
    peak_rss_mb: float = Field(description="The process's peak resident memory (ru_maxrss), imports included.")
    sample: int
    sample_mismatches: int
    sample_seconds: float
    by_outcome: dict[str, int]


def sample_ids(ledger: Ledger, k: int, seed: int) -> set[str]:
    """k customer ids drawn uniformly at random (reservoir sampling over the streamed ids)."""
    rng, pool, seen = random.Random(seed), [], 0
    for ids in customer_pages(ledger, 20_000):
        for cid in ids:
            seen += 1
            if len(pool) < k:
                pool.append(cid)
            elif (j := rng.randrange(seen)) < k:
                pool[j] = cid
    return set(pool)


def bench(ledger: Ledger, as_of: dt.date, sample: int = 10_000, seed: int = 11, page: int = 5000,
          say: Callable[[str], None] = print) -> BenchResult:
    chosen = sample_ids(ledger, sample, seed) if sample else set()
    kept: dict[str, str] = {}
    tally = Tally(as_of)
    t0 = time.perf_counter()
    for r in scan_repair(ledger, as_of, page):
        tally.add(r)
        if r.customer_id in chosen:
            kept[r.customer_id] = r.model_dump_json()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(f"scanned {tally.n:,} customers in {seconds:.1f} s ({tally.n / seconds:,.0f} rows/s), peak RSS {peak:.0f} MB")
    t1 = time.perf_counter()
    mismatches = sum(repair_check(ledger, cid, as_of).model_dump_json() != kept.get(cid) for cid in sorted(chosen))
    sample_seconds = time.perf_counter() - t1
    say(f"sample of {len(chosen):,} decided one by one through repair_check in {sample_seconds:.1f} s: "
        f"{mismatches} mismatches")
    return BenchResult(dialect=ledger.engine.dialect.name, customers=tally.n, as_of=as_of, seconds=round(seconds, 2),
                       rows_per_second=round(tally.n / seconds), peak_rss_mb=round(peak, 1), sample=len(chosen),
                       sample_mismatches=mismatches, sample_seconds=round(sample_seconds, 2),
                       by_outcome=dict(sorted(tally.outcomes.items())))
