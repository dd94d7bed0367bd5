"""Decision events: every decision that changes the ledger, written in the same transaction as the change.

An outbox. `record(conn, ...)` runs inside the tool's own `ledger.write()` block, so an event exists exactly
when its change committed: none is lost, none is sent for a change that rolled back. Event types:

- `quota.granted`       a temporary quota granted at once (TQ5 auto-approval)
- `approval.requested`  a request that needs a supervisor (TQ5), a new pending approval
- `approval.approved`   a supervisor approved it; the grant is in the event
- `approval.rejected`   a supervisor rejected it
- `approval.expired`    it lapsed undecided (30 days counting the request date)

Each event has a unique `event_id` (receivers drop duplicates by it) and a `seq`, the order events
committed in: on servers an event's transaction takes one advisory lock before it writes the event, so
seq order is commit order and a reader that resumes after a seq misses nothing. Free text (a purpose, a
reason) is masked (tools/privacy.py); amounts are decimal strings. Who may see an event: `min_role`
(grants: viewer, approvals: operator, like the REST API's approvals list).
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from storage.schema import events_t
from tools.ledger import Ledger, customers_t
from tools.privacy import mask_text

EventType = Literal["quota.granted", "approval.requested", "approval.approved", "approval.rejected", "approval.expired"]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
MIN_ROLE: dict[str, str] = {"quota.granted": "viewer", "approval.requested": "operator",
                            "approval.approved": "operator", "approval.rejected": "operator",
                            "approval.expired": "operator"}
_PG_LOCK = 720020  # the advisory lock that puts event writers in commit order on servers

# The table lives with every other table in storage/schema.py (migrations: storage/migrations/ledger).


class DecisionEvent(BaseModel):
    """One decision that changed the ledger (the body of a webhook call and of an SSE `data:` line)."""

    event_id: str = Field(description="Unique; a receiver that saw it already drops it.")
    seq: int = Field(description="Commit order; SSE ids and Last-Event-ID are this number.")
    type: EventType
    customer_id: str
    occurred_on: dt.date = Field(description="The business day of the decision (the ledger's date of the change).")
    created_at: str = Field(description="When it was written (UTC, ISO 8601).")
    data: dict[str, Any] = Field(description="The decision: approval id, amount (decimal string), purpose (masked), "
                                             "deciding rule, who decided, the grant.")


def _masked(conn: Connection, customer_id: str, value: str | None) -> str | None:
    if not value:
        return value
    name = conn.execute(select(customers_t.c.name).where(customers_t.c.customer_id == customer_id)).scalar()
    return mask_text(value, [name] if name else [])


def record(conn: Connection, type_: str, customer_id: str, occurred_on: dt.date, data: dict[str, Any]) -> str:
    """Write one event inside the caller's transaction (the change's own); its event id."""
    if type_ not in MIN_ROLE:
        raise ValueError(f"unknown event type {type_!r}")
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    clean = {k: (_masked(conn, customer_id, v) if k in ("purpose", "reason") else v) for k, v in data.items()}
    event_id = "ev_" + uuid.uuid4().hex
    conn.execute(events_t.insert().values(
        event_id=event_id, type=type_, customer_id=customer_id, occurred_on=occurred_on,
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), min_role=MIN_ROLE[type_],
        data=json.dumps(clean, ensure_ascii=False, sort_keys=True, default=str)))
    return event_id


def visible_types(role: str) -> list[str]:
    """The event types a role may see (roles in rank order: viewer < operator < supervisor)."""
    rank = ("viewer", "operator", "supervisor").index
    return [t for t, r in MIN_ROLE.items() if rank(role) >= rank(r)]


def _event(row) -> DecisionEvent:  # noqa: ANN001
    return DecisionEvent(event_id=row.event_id, seq=row.seq, type=row.type, customer_id=row.customer_id,
                         occurred_on=row.occurred_on, created_at=row.created_at, data=json.loads(row.data))


def events_after(ledger: Ledger, after: int = 0, limit: int = 500, types: list[str] | None = None,
                 conn: Connection | None = None) -> list[DecisionEvent]:
    """Events with seq > `after`, oldest first (only `types` when given)."""
    q = select(events_t).where(events_t.c.seq > after).order_by(events_t.c.seq).limit(limit)
    if types is not None:
        q = q.where(events_t.c.type.in_(types))
    if conn is not None:
        return [_event(r) for r in conn.execute(q)]
    with ledger.read() as c:
        return [_event(r) for r in c.execute(q)]
