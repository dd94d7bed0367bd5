"""Every table riskdesk stores, in one place, for SQLite and PostgreSQL alike (SQLAlchemy Core).

Two schemas, each with its own Alembic history (storage/migrations/<store>/):
- `ledger`: customers, their temporary quotas and overdue records, approvals, idempotency keys;
- `audit`: one record per turn, the owner of each conversation thread, the thread paused on each approval.
On one machine they default to two SQLite files under $RISKDESK_HOME; with RISKDESK_DATABASE_URL both live
in one database (PostgreSQL for several hosts), next to LangGraph's own checkpoint tables.
"""
from __future__ import annotations

from sqlalchemy import (
    Boolean, Column, Date, Float, ForeignKey, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text,
    UniqueConstraint,
)

ledger_meta = MetaData()

customers_t = Table(
    "customers", ledger_meta,
    Column("customer_id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("id_number", String(32), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("occupation", Text, nullable=False, default=""),
    Column("risk_tier", String(1), nullable=False),
    Column("kyc_verified", Boolean, nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("limit_fen", Integer, nullable=False),
    Column("used_fen", Integer, nullable=False),
    Column("extra", Text, nullable=False, default="{}"),
)

temp_quotas_t = Table(
    "temp_quotas", ledger_meta,
    Column("grant_id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(32), ForeignKey("customers.customer_id"), nullable=False, index=True),
    Column("amount_fen", Integer, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("granted_on", Date, nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("approval_id", String(40), nullable=True, unique=True),
    Column("granted_by", String(64), nullable=True),
)

overdue_t = Table(
    "overdue_records", ledger_meta,
    Column("customer_id", String(32), ForeignKey("customers.customer_id"), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("institution", Text, nullable=False),
    Column("product", String(32), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("overdue_since", Date, nullable=False),
    Column("repaid_on", Date, nullable=True),
)

approvals_t = Table(
    "approvals", ledger_meta,
    Column("approval_id", String(40), primary_key=True),
    Column("customer_id", String(32), ForeignKey("customers.customer_id"), nullable=False, index=True),
    Column("amount_fen", Integer, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("category", String(32), nullable=True),
    Column("requested_on", Date, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending / approved / rejected / expired
    Column("decided_by", String(64), nullable=True),
    Column("decided_on", Date, nullable=True),
    Column("reason", Text, nullable=True),
    # who asked (maker-checker: never the approver); added in place to stores made before it
    Column("requested_by", String(64), nullable=True),
)

# One row per idempotency key: the first result is the answer to every retry.
requests_t = Table(
    "quota_requests", ledger_meta,
    Column("idempotency_key", String(128), primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("result", Text, nullable=False),
    UniqueConstraint("idempotency_key"),
)


# Decision events (an outbox written in the change's own transaction, tools/events.py) and webhook
# subscriptions with their deliveries (tools/webhooks.py).
events_t = Table(
    "decision_events", ledger_meta,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("customer_id", String(32), nullable=False, index=True),
    Column("occurred_on", Date, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("min_role", String(16), nullable=False),
    Column("data", Text, nullable=False),
)

webhooks_t = Table(
    "webhooks", ledger_meta,
    Column("webhook_id", String(40), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("events", Text, nullable=False),  # JSON list of event types
    Column("role", String(16), nullable=False),
    Column("cursor", Integer, nullable=False, default=0),
    Column("created_at", String(40), nullable=False),
)

deliveries_t = Table(
    "webhook_deliveries", ledger_meta,
    Column("webhook_id", String(40), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("status", String(16), nullable=False),  # pending / delivered / dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", String(40), nullable=True),
    PrimaryKeyConstraint("webhook_id", "seq"),
)


audit_meta = MetaData()

audit_t = Table(
    "audit", audit_meta,
    Column("trace_id", String(40), primary_key=True),
    Column("thread_id", String(128), nullable=False, index=True),
    Column("created_at", String(40), nullable=False),
    Column("record", Text, nullable=False),
)
# Who opened each conversation thread: the caller of its first turn, or of POST /v1/threads.
threads_t = Table(
    "service_threads", audit_meta,
    Column("thread_id", String(128), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
)
# The thread paused on each pending approval (the newest one wins).
approval_threads_t = Table(
    "approval_threads", audit_meta,
    Column("approval_id", String(40), primary_key=True),
    Column("thread_id", String(128), nullable=False),
)

METADATA = {"ledger": ledger_meta, "audit": audit_meta}
