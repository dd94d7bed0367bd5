"""Webhook delivery of decision events (tools/events.py): signed, retried with backoff, dead-lettered.

A webhook is a URL, the event types it wants, the role whose view it gets (it never receives an event that
role may not see), and a secret. Delivery is at least once, with a unique event id a receiver drops
duplicates by. The dispatcher (`Dispatcher`, in the service process, or `riskdesk webhooks deliver`):

1. enqueues: for each webhook, the events committed after its cursor become delivery rows, and the cursor
   moves on, in one transaction (a crash before it commits re-enqueues; the unique (webhook, seq) key keeps
   one row per event);
2. claims due deliveries (a lease: their next attempt moves `LEASE` seconds on, so a dispatcher that dies
   mid-call leaves them to be retried, never lost);
3. POSTs each event's JSON with `X-Riskdesk-Signature: t=UNIX,v1=HEX`, HEX = HMAC-SHA256(secret, "UNIX.BODY"),
   plus `X-Riskdesk-Event-Id` and `X-Riskdesk-Event-Type`; a 2xx answer is delivered, anything else is
   retried after `base * 2**attempt` seconds (capped), and after `max_attempts` the delivery is dead: listed
   by `riskdesk webhooks failed`, sent again by `riskdesk webhooks redeliver`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import Any, Callable

import httpx
from pydantic import BaseModel, Field, HttpUrl, TypeAdapter
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from tools.errors import ToolInputError
from tools.events import EVENT_TYPES, events_after, events_t, visible_types
from storage.schema import deliveries_t, webhooks_t
from tools.ledger import Ledger

LEASE = 30.0
SIGNATURE_HEADER = "X-Riskdesk-Signature"

# The tables live with every other table in storage/schema.py (migrations: storage/migrations/ledger).


class Webhook(BaseModel):
    webhook_id: str
    url: str
    events: list[str]
    role: str = Field(description="Events are filtered to what this role may see.")
    cursor: int = Field(description="The last event seq enqueued for it.")
    created_at: str


class Delivery(BaseModel):
    webhook_id: str
    seq: int
    event_id: str
    status: str
    attempts: int
    last_error: str | None = None
    delivered_at: str | None = None


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str | None, tolerance: float = 300.0, now: float | None = None) -> bool:
    """A receiver's check: the signature header matches this body and secret, and is recent."""
    try:
        parts = dict(p.split("=", 1) for p in (header or "").split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, ts), f"t={ts},v1={parts.get('v1', '')}")


def add_webhook(ledger: Ledger, url: str, events: list[str] | None = None, role: str = "operator",
                secret: str | None = None, from_start: bool = False) -> tuple[Webhook, str]:
    """Register a URL; returns it and its secret (shown once). It gets events committed from now on (all of
    them with `from_start`)."""
    try:
        TypeAdapter(HttpUrl).validate_python(url)
    except Exception:  # noqa: BLE001
        raise ToolInputError(f"url: {url!r} is not an http(s) URL / 不是有效的 http(s) 地址") from None
    if role not in ("viewer", "operator", "supervisor"):
        raise ToolInputError(f"role: {role!r}; one of viewer, operator, supervisor")
    wanted = list(events or visible_types(role))
    if bad := [e for e in wanted if e not in EVENT_TYPES]:
        raise ToolInputError(f"events: unknown event type {bad[0]!r}; known: {', '.join(EVENT_TYPES)}")
    if hidden := [e for e in wanted if e not in visible_types(role)]:
        raise ToolInputError(f"events: the {role} role may not see {hidden[0]!r}")
    secret = secret or "whsec_" + secrets.token_urlsafe(24)
    webhook_id = "wh_" + secrets.token_hex(8)
    with ledger.write() as conn:
        cursor = 0 if from_start else (conn.execute(select(events_t.c.seq).order_by(events_t.c.seq.desc()).limit(1))
                                       .scalar() or 0)
        conn.execute(webhooks_t.insert().values(webhook_id=webhook_id, url=url, secret=secret, events=json.dumps(wanted),
                                                role=role, cursor=cursor, created_at=_now_iso()))
    return list_webhooks(ledger, webhook_id)[0], secret


def _webhook(row) -> Webhook:  # noqa: ANN001
    return Webhook(webhook_id=row.webhook_id, url=row.url, events=json.loads(row.events), role=row.role,
                   cursor=row.cursor, created_at=row.created_at)


def list_webhooks(ledger: Ledger, webhook_id: str | None = None) -> list[Webhook]:
    q = select(webhooks_t).order_by(webhooks_t.c.created_at)
    if webhook_id:
        q = q.where(webhooks_t.c.webhook_id == webhook_id)
    with ledger.read() as conn:
        return [_webhook(r) for r in conn.execute(q)]


def remove_webhook(ledger: Ledger, webhook_id: str) -> bool:
    with ledger.write() as conn:
        conn.execute(deliveries_t.delete().where(deliveries_t.c.webhook_id == webhook_id))
        return bool(conn.execute(webhooks_t.delete().where(webhooks_t.c.webhook_id == webhook_id)).rowcount)


def deliveries(ledger: Ledger, status: str | None = None) -> list[Delivery]:
    q = select(deliveries_t).order_by(deliveries_t.c.seq, deliveries_t.c.webhook_id)
    if status:
        q = q.where(deliveries_t.c.status == status)
    with ledger.read() as conn:
        return [Delivery(**{k: getattr(r, k) for k in Delivery.model_fields}) for r in conn.execute(q)]


def redeliver(ledger: Ledger, webhook_id: str | None = None, seq: int | None = None) -> int:
    """Dead deliveries (all, one webhook's, or one) back to pending, due now; how many."""
    cond = [deliveries_t.c.status == "dead"]
    if webhook_id:
        cond.append(deliveries_t.c.webhook_id == webhook_id)
    if seq is not None:
        cond.append(deliveries_t.c.seq == seq)
    with ledger.write() as conn:
        return conn.execute(deliveries_t.update().where(and_(*cond))
                            .values(status="pending", attempts=0, next_attempt_at=0.0)).rowcount  # due at once


class Dispatcher:
    """Enqueue and deliver; `run_once()` for one pass, `start()` for a background thread."""

    def __init__(self, ledger: Ledger, *, base: float = 2.0, cap: float = 600.0, max_attempts: int = 8,
                 timeout: float = 10.0, interval: float = 1.0, clock: Callable[[], float] = time.time):
        self.ledger, self.base, self.cap, self.max_attempts = ledger, base, cap, max_attempts
        self.interval, self.clock = interval, clock
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _idle(self) -> bool:
        """Nothing to enqueue and nothing due (a read: an idle dispatcher never takes the write lock)."""
        with self.ledger.read() as conn:
            last = conn.execute(select(events_t.c.seq).order_by(events_t.c.seq.desc()).limit(1)).scalar() or 0
            behind = conn.execute(select(webhooks_t.c.webhook_id).where(webhooks_t.c.cursor < last).limit(1)).first()
            due = conn.execute(select(deliveries_t.c.seq).where(deliveries_t.c.status == "pending",
                                                                deliveries_t.c.next_attempt_at <= self.clock())
                               .limit(1)).first()
        return behind is None and due is None

    def enqueue(self) -> int:
        n = 0
        with self.ledger.write() as conn:
            for hook in conn.execute(select(webhooks_t).order_by(webhooks_t.c.webhook_id)).all():
                wanted = [t for t in json.loads(hook.events) if t in visible_types(hook.role)]
                last = conn.execute(select(events_t.c.seq).order_by(events_t.c.seq.desc()).limit(1)).scalar() or 0
                if last <= hook.cursor:
                    continue
                evs = events_after(self.ledger, hook.cursor, limit=1000, types=wanted, conn=conn)
                upto = evs[-1].seq if len(evs) == 1000 else last
                now = self.clock()
                for ev in evs:
                    try:
                        with conn.begin_nested():
                            conn.execute(deliveries_t.insert().values(
                                webhook_id=hook.webhook_id, seq=ev.seq, event_id=ev.event_id, status="pending",
                                attempts=0, next_attempt_at=now))
                            n += 1
                    except IntegrityError:
                        pass
                conn.execute(webhooks_t.update().where(webhooks_t.c.webhook_id == hook.webhook_id).values(cursor=upto))
        return n

    def _claim(self, limit: int = 100) -> list[Any]:
        now = self.clock()
        with self.ledger.write() as conn:
            rows = conn.execute(
                select(deliveries_t.c.webhook_id, deliveries_t.c.seq, deliveries_t.c.attempts, webhooks_t.c.url,
                       webhooks_t.c.secret, events_t.c.event_id, events_t.c.type, events_t.c.customer_id,
                       events_t.c.occurred_on, events_t.c.created_at, events_t.c.data)
                .join(webhooks_t, webhooks_t.c.webhook_id == deliveries_t.c.webhook_id)
                .join(events_t, events_t.c.seq == deliveries_t.c.seq)
                .where(deliveries_t.c.status == "pending", deliveries_t.c.next_attempt_at <= now)
                .order_by(deliveries_t.c.seq).limit(limit).with_for_update(skip_locked=True, of=deliveries_t)).all()
            for r in rows:
                conn.execute(deliveries_t.update().where(deliveries_t.c.webhook_id == r.webhook_id,
                                                         deliveries_t.c.seq == r.seq)
                             .values(next_attempt_at=now + LEASE))
        return rows

    def _send(self, r: Any) -> str | None:
        """POST one event; None when the receiver took it (2xx), else what went wrong."""
        from tools.events import _event
        body = _event(r).model_dump_json().encode()
        ts = int(self.clock())
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(r.secret, body, ts),
                   "X-Riskdesk-Event-Id": r.event_id, "X-Riskdesk-Event-Type": r.type, "User-Agent": "riskdesk-webhooks"}
        try:
            resp = self.client.post(r.url, content=body, headers=headers)
        except httpx.HTTPError as e:
            return f"{type(e).__name__}: {e}"[:500]
        return None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"

    def deliver_due(self) -> tuple[int, int]:
        """One round of due deliveries: (delivered, failed)."""
        ok = failed = 0
        for r in self._claim():
            error = self._send(r)
            attempts = r.attempts + 1
            if error is None:
                values = dict(status="delivered", attempts=attempts, delivered_at=_now_iso(), last_error=None)
                ok += 1
            else:
                dead = attempts >= self.max_attempts
                values = dict(status="dead" if dead else "pending", attempts=attempts, last_error=error,
                              next_attempt_at=self.clock() + min(self.cap, self.base * 2 ** (attempts - 1)))
                failed += 1
            with self.ledger.write() as conn:
                conn.execute(deliveries_t.update().where(deliveries_t.c.webhook_id == r.webhook_id,
                                                         deliveries_t.c.seq == r.seq).values(**values))
        return ok, failed

    def run_once(self) -> tuple[int, int]:
        if self._idle():
            return 0, 0
        self.enqueue()
        return self.deliver_due()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a store hiccup: the next pass retries
                import logging
                logging.getLogger("riskdesk.webhooks").exception("webhook dispatch failed")
            self._stop.wait(self.interval)

    def start(self) -> "Dispatcher":
        self._thread = threading.Thread(target=self._loop, name="riskdesk-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.client.close()
