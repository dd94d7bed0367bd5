"""Decision events (the outbox) and webhook subscriptions with their deliveries. Tables a store already
has (made by a release that created them at open) are left as they are.

Revision ID: l0002
Revises: l0001
"""
import sqlalchemy as sa
from alembic import op

revision = "l0002"
down_revision = "l0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "decision_events" not in have:
        op.create_table(
            "decision_events",
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("event_id", sa.String(40), nullable=False, unique=True),
            sa.Column("type", sa.String(32), nullable=False),
            sa.Column("customer_id", sa.String(32), nullable=False),
            sa.Column("occurred_on", sa.Date, nullable=False),
            sa.Column("created_at", sa.String(40), nullable=False),
            sa.Column("min_role", sa.String(16), nullable=False),
            sa.Column("data", sa.Text, nullable=False),
        )
        op.create_index("ix_decision_events_customer_id", "decision_events", ["customer_id"])
    if "webhooks" not in have:
        op.create_table(
            "webhooks",
            sa.Column("webhook_id", sa.String(40), primary_key=True),
            sa.Column("url", sa.Text, nullable=False),
            sa.Column("secret", sa.String(128), nullable=False),
            sa.Column("events", sa.Text, nullable=False),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("cursor", sa.Integer, nullable=False),
            sa.Column("created_at", sa.String(40), nullable=False),
        )
    if "webhook_deliveries" not in have:
        op.create_table(
            "webhook_deliveries",
            sa.Column("webhook_id", sa.String(40), nullable=False),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("event_id", sa.String(40), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("next_attempt_at", sa.Float, nullable=False),
            sa.Column("last_error", sa.Text, nullable=True),
            sa.Column("delivered_at", sa.String(40), nullable=True),
            sa.PrimaryKeyConstraint("webhook_id", "seq"),
        )


def downgrade() -> None:
    for table in ("webhook_deliveries", "webhooks", "decision_events"):
        op.drop_table(table)
