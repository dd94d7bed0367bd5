"""The whole-ledger repair scan over several processes (`riskdesk batch repair --all --workers N`).

The parent streams customer-id pages (keyset, as in tools/batch_scan.py) and hands each page's first and last
id to a pool of worker processes; each worker opens the ledger itself, reads that page's customers and
records, decides each customer with `tools.repair_check.assess` and sends back only the page's counts, its
eligible customers' rows and the results of any sampled customers. Pages come back in order, so the output
is the same file a single process writes. Memory stays flat: a page per worker, plus the pool's small queue.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
from typing import Any, Iterator

from sqlalchemy import select

from tools.batch_scan import Tally, _records, customer_pages
from tools.ledger import Ledger, customers_t
from tools.policy import in_force
from tools.repair_check import assess

_W: dict[str, Any] = {}


def _init(url: str, as_of: str, sample: frozenset[str]) -> None:
    day = dt.date.fromisoformat(as_of)
    _W.update(ledger=Ledger.open(url), as_of=day, version=in_force(day), sample=sample)


def _page(bounds: tuple[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
    from tools.batch import repair_row
    first, last = bounds
    led, day = _W["ledger"], _W["as_of"]
    with led.read() as conn:
        ids = [r[0] for r in conn.execute(select(customers_t.c.customer_id).where(
            customers_t.c.customer_id >= first, customers_t.c.customer_id <= last).order_by(customers_t.c.customer_id))]
    records = _records(led, first, last)
    tally, rows, kept = Tally(day), [], {}
    for cid in ids:
        r = assess(cid, records.get(cid, ()), day, _W["version"])
        tally.add(r)
        if r.outcome in ("eligible", "partially_eligible"):
            rows.append({**repair_row(r), "as_of": day.isoformat()})
        if cid in _W["sample"]:
            kept[cid] = r.model_dump_json()
    return {"n": tally.n, "outcomes": tally.outcomes, "rules": tally.rules, "records": tally.records}, rows, kept


def scan_pages(ledger: Ledger, as_of: dt.date, workers: int, page: int = 5000,
               sample: frozenset[str] = frozenset()) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]]:
    """(page counts, eligible rows, sampled results as JSON) for every page, in customer-id order."""
    url = ledger.engine.url.render_as_string(hide_password=False)
    if url in ("sqlite://", "sqlite:///:memory:"):
        raise ValueError("an in-memory ledger cannot be scanned by several processes; use workers=1")
    bounds = ((ids[0], ids[-1]) for ids in customer_pages(ledger, page))
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no database connection crosses a fork
    with ctx.Pool(workers, initializer=_init, initargs=(url, as_of.isoformat(), sample)) as pool:
        yield from pool.imap(_page, bounds)


def merge(tally: Tally, counts: dict[str, Any]) -> None:
    tally.n += counts["n"]
    tally.outcomes.update(counts["outcomes"])
    tally.rules.update(counts["rules"])
    tally.records.update(counts["records"])
