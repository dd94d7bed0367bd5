"""The audit log as the first releases made it: turn records, thread owners, the thread paused on each
approval. A store made before migrations is stamped at this revision.

Revision ID: a0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "a0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("trace_id", sa.String(40), primary_key=True),
        sa.Column("thread_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_thread_id", "audit", ["thread_id"])
    op.create_table(
        "service_threads",
        sa.Column("thread_id", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "approval_threads",
        sa.Column("approval_id", sa.String(40), primary_key=True),
        sa.Column("thread_id", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    for table in ("approval_threads", "service_threads", "audit"):
        op.drop_table(table)
