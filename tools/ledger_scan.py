"""Every customer of a ledger, streamed in id order with their quotas and overdue records: three ordered
cursors merged, a batch at a time, so memory stays flat whatever the ledger's size. For bulk work (policy
impact); a single customer is read with Ledger.customer.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, TypeVar

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from tools.ledger import (
    AccountStatus, CreditLine, CustomerRecord, Ledger, OverdueRecord, Product, RiskTier, TempQuota, customers_t,
    overdue_t, temp_quotas_t,
)
from tools.money import from_fen

BATCH = 5000
M = TypeVar("M")
_set = object.__setattr__


def typed(cls: type[M], values: dict[str, Any]) -> M:
    """An instance of a pydantic model from values that are already of its field types (read back from the store
    that validated them when they were written, Ledger.load), with every field given: what `model_construct`
    builds, without its per-field default and alias handling (a third of the scan's time on a big ledger). A
    model that has gained a field the caller does not give goes through `model_construct`, which fills defaults."""
    if len(values) < len(cls.model_fields):  # type: ignore[attr-defined]
        return cls.model_construct(**values)  # type: ignore[attr-defined]
    m = cls.__new__(cls)
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", set(values))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


@lru_cache(maxsize=4096)
def _yuan(fen: int) -> Any:
    return from_fen(fen)  # Decimal is immutable: one object per distinct amount


def id_bounds(ledger: Ledger, parts: int) -> list[tuple[str | None, str | None]]:
    """`parts` ranges of customer ids (lo exclusive, hi inclusive; None: open) of about equal size."""
    with ledger.read() as conn:
        total = conn.execute(select(func.count()).select_from(customers_t)).scalar_one()
        cuts = []
        for i in range(1, parts):
            row = conn.execute(select(customers_t.c.customer_id).order_by(customers_t.c.customer_id)
                               .offset(total * i // parts).limit(1)).first()
            if row:
                cuts.append(row[0])
    if not total:
        return [(None, None)]
    edges = [None, *cuts, None]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _range(q, col, lo: str | None, hi: str | None):  # noqa: ANN001,ANN202
    if lo is not None:
        q = q.where(col > lo)
    if hi is not None:
        q = q.where(col <= hi)
    return q


def read_only(url: str) -> Engine:
    """A plain reading engine: a SQLite file opened read-only (no write lock at BEGIN), so that several
    processes scan one ledger at once; any other URL as it is."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        path = Path(url.removeprefix("sqlite:///")).resolve()
        return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    return create_engine(url)


def scan(ledger: Ledger | Engine, lo: str | None = None, hi: str | None = None) -> Iterator[CustomerRecord]:
    """Customers with lo < customer_id <= hi, in id order, as the same records Ledger.customer returns."""
    c, q, o = customers_t.c, temp_quotas_t.c, overdue_t.c
    cols = [c.customer_id, c.name, c.id_number, c.phone, c.occupation, c.risk_tier, c.kyc_verified, c.opened_on,
            c.status, c.limit_fen, c.used_fen, c.extra]
    with (ledger.connect() if isinstance(ledger, Engine) else ledger.read()) as conn:
        conn = conn.execution_options(yield_per=BATCH)
        cust = conn.execute(_range(select(*cols).order_by(c.customer_id), c.customer_id, lo, hi))
        quotas = conn.execute(_range(select(q.customer_id, q.amount_fen, q.purpose, q.granted_on, q.expires_on)
                                     .order_by(q.customer_id, q.granted_on, q.grant_id), q.customer_id, lo, hi))
        records = conn.execute(_range(select(o.customer_id, o.record_id, o.institution, o.product, o.amount_fen,
                                             o.overdue_since, o.repaid_on).order_by(o.customer_id, o.record_id),
                                      o.customer_id, lo, hi))
        nq, nr = next(quotas, None), next(records, None)
        tiers, states, products = {t.value: t for t in RiskTier}, {a.value: a for a in AccountStatus}, \
            {p.value: p for p in Product}
        for cid, name, idn, phone, occ, tier, kyc, opened, status, limit, used, extra in cust:
            tq, recs = [], []
            while nq is not None and nq[0] <= cid:
                if nq[0] == cid:
                    tq.append(typed(TempQuota, {"amount": _yuan(nq[1]), "purpose": nq[2], "granted_on": nq[3],
                                                "expires_on": nq[4]}))
                nq = next(quotas, None)
            while nr is not None and nr[0] <= cid:
                if nr[0] == cid:
                    recs.append(typed(OverdueRecord, {
                        "record_id": nr[1], "institution": nr[2], "product": products[nr[3]], "amount": _yuan(nr[4]),
                        "overdue_since": nr[5], "repaid_on": nr[6]}))
                nr = next(records, None)
            values = {"customer_id": cid, "name": name, "id_number": idn, "phone": phone, "occupation": occ,
                      "risk_tier": tiers[tier], "kyc_verified": kyc, "opened_on": opened, "status": states[status],
                      "credit_line": typed(CreditLine, {"limit": _yuan(limit), "used": _yuan(used)}),
                      "temp_quotas": tq, "overdue_records": recs}
            if extra and extra != "{}":  # fields a fixture carried beyond the model's: kept as model_construct keeps them
                yield CustomerRecord.model_construct(**values, **json.loads(extra))
            else:  # validated when it was stored (Ledger.load): built here without validating again
                yield typed(CustomerRecord, values)
