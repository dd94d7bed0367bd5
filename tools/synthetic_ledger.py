"""A seeded factory of synthetic customers, bulk-inserted into any ledger URL (SQLite, PostgreSQL).

    python -m tools.synthetic_ledger --customers 1000000 --seed 7 --url sqlite:////tmp/big.sqlite3

The same seed and count always give the same ledger. Customers are `SYN` + 7 digits; names, ID numbers
and phone numbers are made up (well-formed, so the masker treats them as the real thing). About a third
of the customers carry one to three overdue records spread around the repair policy's boundaries (R1's
window edges, R2's 10,000.00 / 10,000.01, R3's 2025-11-30 and 2026-03-31, unrepaid ones), and some hold
a temporary quota. Rows go in with executemany, `chunk` customers per transaction.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from typing import Any, Iterator

from tools.ledger import Ledger, customers_t, overdue_t, temp_quotas_t

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
INSTITUTIONS = ("某商业银行", "某消费金融公司", "某小额贷款公司", "花呗", "借呗", "某城商行信用卡中心")
PRODUCTS = ("credit_card", "consumer_loan", "housing_loan", "business_loan", "credit_line", "cash_loan")
OCCUPATIONS = ("外卖骑手", "教师", "护士", "程序员", "个体户", "司机", "nurse", "engineer", "")
# Edge amounts in fen that R2 turns on, drawn now and then besides uniform ones.
EDGE_AMOUNTS = (1_000_000, 1_000_001, 999_999, 1)
EDGE_SINCE = (dt.date(2019, 12, 31), dt.date(2020, 1, 1), dt.date(2025, 12, 31), dt.date(2026, 1, 1))
EDGE_REPAID = (dt.date(2025, 11, 30), dt.date(2025, 12, 1), dt.date(2026, 3, 31), dt.date(2026, 4, 1))


def customer_id(i: int) -> str:
    return f"SYN{i:07d}"


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _id_number(rng: random.Random) -> str:
    birth = _day(rng, dt.date(1960, 1, 1), dt.date(2004, 12, 31))
    return f"110101{birth:%Y%m%d}{rng.randrange(1000):03d}{rng.choice('0123456789X')}"


def rows(n: int, seed: int = 7, start: int = 1) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
    """(customer row, temp-quota rows, overdue rows) for customers start .. start+n-1, in storage form (fen)."""
    rng = random.Random(seed)
    for i in range(start, start + n):
        cid = customer_id(i)
        limit = rng.choice((0, 1000, 2000, 3000, 5000, 8000, 10000, 15000, 30000)) * 100
        c = {"customer_id": cid, "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
             "id_number": _id_number(rng), "phone": f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
             "occupation": rng.choice(OCCUPATIONS), "risk_tier": rng.choices("ABCD", (40, 30, 20, 10))[0],
             "kyc_verified": rng.random() < 0.9, "opened_on": _day(rng, dt.date(2015, 1, 1), dt.date(2026, 10, 1)),
             "status": rng.choices(("active", "frozen", "closed"), (90, 6, 4))[0],
             "limit_fen": limit, "used_fen": rng.randrange(limit + 1) if limit else 0, "extra": "{}"}
        quotas = []
        if rng.random() < 0.05:
            granted = _day(rng, dt.date(2025, 6, 1), dt.date(2026, 12, 31))
            quotas.append({"customer_id": cid, "amount_fen": rng.randrange(1, 200) * 10_000, "purpose": "work_tools",
                           "granted_on": granted, "expires_on": granted + dt.timedelta(days=29)})
        records = []
        if rng.random() < 0.35:
            for k in range(rng.choice((1, 1, 1, 2, 2, 3))):
                edge = rng.random() < 0.1
                since = rng.choice(EDGE_SINCE) if edge else _day(rng, dt.date(2018, 1, 1), dt.date(2026, 6, 30))
                amount = rng.choice(EDGE_AMOUNTS) if edge else rng.randrange(100, 2_000_000)
                if rng.random() < 0.3:
                    repaid = None
                elif edge:
                    repaid = max(since, rng.choice(EDGE_REPAID))
                else:
                    repaid = _day(rng, since, dt.date(2026, 12, 31))
                records.append({"customer_id": cid, "record_id": f"OD{k + 1}", "institution": rng.choice(INSTITUTIONS),
                                "product": rng.choice(PRODUCTS), "amount_fen": amount, "overdue_since": since,
                                "repaid_on": repaid})
        yield c, quotas, records


def generate(ledger: Ledger, n: int, seed: int = 7, chunk: int = 20_000, progress=None) -> int:  # noqa: ANN001
    """Insert n synthetic customers (ids SYN0000001..) into `ledger`, `chunk` per transaction; returns n."""
    done = 0
    batch: list[tuple[dict, list, list]] = []

    def flush() -> None:
        nonlocal done
        with ledger.write() as conn:
            conn.execute(customers_t.insert(), [c for c, _, _ in batch])
            if qs := [q for _, qq, _ in batch for q in qq]:
                conn.execute(temp_quotas_t.insert(), qs)
            if rs := [r for _, _, rr in batch for r in rr]:
                conn.execute(overdue_t.insert(), rs)
        done += len(batch)
        batch.clear()
        if progress:
            progress(done, n)

    for item in rows(n, seed):
        batch.append(item)
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return done


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Fill a ledger with N seeded synthetic customers.")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--url", required=True, help="SQLAlchemy URL of an empty ledger, e.g. sqlite:////tmp/big.sqlite3")
    a = ap.parse_args(argv)
    ledger = Ledger.open(a.url)
    if not ledger.is_empty():
        raise SystemExit(f"{a.url}: the ledger already holds customers; give an empty one")
    t0 = time.perf_counter()
    generate(ledger, a.customers, a.seed)
    print(f"customers={a.customers:,} seed={a.seed} load={time.perf_counter() - t0:.1f}s url={a.url}")


if __name__ == "__main__":
    main()
