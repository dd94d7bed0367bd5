"""The ledger as the first releases made it (customers, quotas, overdue records, approvals with their
requester, idempotency keys). A store made before migrations is stamped at this revision.

Revision ID: l0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "l0001"
down_revision = None
branch_labels = ("ledger",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("id_number", sa.String(32), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("occupation", sa.Text, nullable=False),
        sa.Column("risk_tier", sa.String(1), nullable=False),
        sa.Column("kyc_verified", sa.Boolean, nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("limit_fen", sa.Integer, nullable=False),
        sa.Column("used_fen", sa.Integer, nullable=False),
        sa.Column("extra", sa.Text, nullable=False),
    )
    op.create_table(
        "temp_quotas",
        sa.Column("grant_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.customer_id"), nullable=False),
        sa.Column("amount_fen", sa.Integer, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("granted_on", sa.Date, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("approval_id", sa.String(40), nullable=True, unique=True),
        sa.Column("granted_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_temp_quotas_customer_id", "temp_quotas", ["customer_id"])
    op.create_table(
        "overdue_records",
        sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.customer_id"), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("institution", sa.Text, nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("amount_fen", sa.Integer, nullable=False),
        sa.Column("overdue_since", sa.Date, nullable=False),
        sa.Column("repaid_on", sa.Date, nullable=True),
    )
    op.create_table(
        "approvals",
        sa.Column("approval_id", sa.String(40), primary_key=True),
        sa.Column("customer_id", sa.String(32), sa.ForeignKey("customers.customer_id"), nullable=False),
        sa.Column("amount_fen", sa.Integer, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("requested_on", sa.Date, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_on", sa.Date, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("requested_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_approvals_customer_id", "approvals", ["customer_id"])
    op.create_table(
        "quota_requests",
        sa.Column("idempotency_key", sa.String(128), primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.UniqueConstraint("idempotency_key"),
    )


def downgrade() -> None:
    for table in ("quota_requests", "approvals", "overdue_records", "temp_quotas", "customers"):
        op.drop_table(table)
