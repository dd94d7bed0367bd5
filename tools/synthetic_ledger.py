"""A seeded synthetic ledger for benchmarks: N customers with credit lines, some temporary quotas and some
overdue records, written to a SQLite (or any SQLAlchemy) store with bulk inserts.

    python -m tools.synthetic_ledger --customers 1000000 --seed 7 --out /tmp/ledger-1m.sqlite3 [--requests 100000]

The same seed and size give the same ledger. Ids are SYN-0000001 …; names, ID and phone numbers are
obviously synthetic (never a real person's): ID numbers end in X and start with 999, phones with 100.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

from tools.ledger import Ledger, customers_t, overdue_t, temp_quotas_t

TIERS = ("A", "B", "C", "D")
TIER_WEIGHTS = (30, 35, 25, 10)
PURPOSES = ("work_tools", "education", "medical", "household")
PRODUCTS = ("credit_card", "consumer_loan", "credit_line", "cash_loan", "housing_loan", "business_loan")
BATCH = 20_000


def _rows(n: int, seed: int, around: dt.date):  # noqa: ANN202 - three lists of row dicts per batch
    rng = random.Random(seed)
    for start in range(0, n, BATCH):
        customers, quotas, records = [], [], []
        for i in range(start, min(n, start + BATCH)):
            cid = f"SYN-{i + 1:07d}"
            opened = around - dt.timedelta(days=rng.randint(10, 3000))
            limit = rng.choice((0, 500, 1000, 2000, 3000, 5000, 8000, 10000, 12000, 15000, 20000, 30000))
            customers.append(dict(
                customer_id=cid, name=f"Synthetic {i + 1}", id_number=f"999{i + 1:014d}X", phone=f"100{i + 1:08d}",
                occupation="", risk_tier=rng.choices(TIERS, TIER_WEIGHTS)[0], kyc_verified=rng.random() < 0.95,
                opened_on=opened, status="active" if rng.random() < 0.93 else rng.choice(("frozen", "closed")),
                limit_fen=limit * 100, used_fen=rng.randint(0, limit) * 100, extra="{}"))
            if rng.random() < 0.12:
                granted = around - dt.timedelta(days=rng.randint(0, 120))
                quotas.append(dict(customer_id=cid, amount_fen=rng.choice((1000, 3000, 5000, 8000)) * 100,
                                   purpose=rng.choice(PURPOSES), granted_on=granted,
                                   expires_on=granted + dt.timedelta(days=29)))
            for k in range(rng.choices((0, 1, 2, 3), (70, 20, 7, 3))[0]):
                since = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randint(0, 3100))
                repaid = None if rng.random() < 0.3 else since + dt.timedelta(days=rng.randint(10, 900))
                records.append(dict(customer_id=cid, record_id=f"R{k + 1}", institution="synthetic bank",
                                    product=rng.choice(PRODUCTS), amount_fen=rng.randint(100, 2_000_000) * 10,
                                    overdue_since=since, repaid_on=repaid))
        yield customers, quotas, records


def generate(url: str, customers: int, seed: int = 7, around: dt.date = dt.date(2026, 11, 23)) -> int:
    """Write `customers` synthetic customers into the empty store at `url`; how many were written."""
    ledger = Ledger.open(url)
    if not ledger.is_empty():
        raise SystemExit(f"{url}: the store is not empty; give a new file")
    with ledger.write() as conn:
        for cust, quotas, records in _rows(customers, seed, around):
            conn.execute(customers_t.insert(), cust)
            if quotas:
                conn.execute(temp_quotas_t.insert(), quotas)
            if records:
                conn.execute(overdue_t.insert(), records)
    return customers


def write_requests(path: Path, n: int, customers: int, seed: int = 7) -> int:
    """`n` temporary-quota requests (JSON Lines) for random customers of a synthetic ledger of `customers`."""
    import json
    rng = random.Random(seed + 1)
    purposes = PURPOSES + ("investment", "a new phone", "cash_out")
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n):
            f.write(json.dumps({"customer_id": f"SYN-{rng.randint(1, customers):07d}",
                                "amount": str(rng.choice((1000, 3000, 5000, 6000, 8000, 12000, 20000, 25000, 30000, 40000))),
                                "purpose": rng.choice(purposes)}) + "\n")
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True, help="A new SQLite file.")
    ap.add_argument("--requests", type=int, default=0, help="Also write this many requests to OUT.requests.jsonl.")
    a = ap.parse_args(argv)
    if a.requests:
        write_requests(a.out.with_suffix(".requests.jsonl"), a.requests, a.customers, a.seed)
    if a.out.exists():
        if a.requests:  # requests for an existing ledger of that size
            return 0
        print(f"{a.out} exists; give a new file", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    n = generate(f"sqlite:///{a.out.resolve()}", a.customers, a.seed)
    print(f"wrote {n} customers to {a.out} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
