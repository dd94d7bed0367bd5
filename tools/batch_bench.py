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
    workers: int = 1
    customers: int
    as_of: dt.date
    seconds: float = Field(description="Wall-clock seconds of the scan (on a shared machine, load shows here).")
    cpu_seconds: float = Field(description="CPU seconds this process spent in the scan (the database server's, "
                                           "for PostgreSQL, not included).")
    rows_per_second: float
    peak_rss_mb: float = Field(description="Peak resident memory (ru_maxrss) of the process, or of the largest "
                                           "worker process with workers > 1; imports included.")
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
          say: Callable[[str], None] = print, workers: int = 1) -> BenchResult:
    chosen = sample_ids(ledger, sample, seed) if sample else set()
    kept: dict[str, str] = {}
    tally = Tally(as_of)
    t0, c0 = time.perf_counter(), time.process_time()
    if workers > 1:
        from tools.batch_parallel import merge, scan_pages
        for counts, _, sampled in scan_pages(ledger, as_of, workers, page, frozenset(chosen)):
            merge(tally, counts)
            kept.update(sampled)
    else:
        for r in scan_repair(ledger, as_of, page):
            tally.add(r)
            if r.customer_id in chosen:
                kept[r.customer_id] = r.model_dump_json()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if workers > 1:
        cpu += sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    say(f"scanned {tally.n:,} customers in {seconds:.1f} s ({tally.n / seconds:,.0f} rows/s; {cpu:.1f} CPU s), "
        f"peak RSS {peak:.0f} MB")
    t1 = time.perf_counter()
    mismatches = sum(repair_check(ledger, cid, as_of).model_dump_json() != kept.get(cid) for cid in sorted(chosen))
    sample_seconds = time.perf_counter() - t1
    say(f"sample of {len(chosen):,} decided one by one through repair_check in {sample_seconds:.1f} s: "
        f"{mismatches} mismatches")
    return BenchResult(dialect=ledger.engine.dialect.name, workers=workers, customers=tally.n, as_of=as_of, seconds=round(seconds, 2), cpu_seconds=round(cpu, 2),
                       rows_per_second=round(tally.n / seconds), peak_rss_mb=round(peak, 1), sample=len(chosen),
                       sample_mismatches=mismatches, sample_seconds=round(sample_seconds, 2),
                       by_outcome=dict(sorted(tally.outcomes.items())))
