"""Where riskdesk keeps what must be shared: one home, one interface, SQLite or PostgreSQL.

- `database_url()`: RISKDESK_DATABASE_URL (or `--db`), the one database for everything shared: the ledger,
  grants, approvals, idempotency keys, the audit log, thread ownership and LangGraph's thread checkpoints.
  Unset: SQLite files under $RISKDESK_HOME (one machine). RISKDESK_LEDGER_URL / RISKDESK_AUDIT_URL still
  name one store each and win over it.
- storage/schema.py: every table; storage/migrate.py: Alembic migrations, applied in place.
- storage/checkpoints.py: the checkpointer for a URL (PostgresSaver, or SqliteSaver on one machine).
- storage/locks.py: one turn at a time per thread across processes (file locks) or hosts (advisory locks).
"""
from __future__ import annotations

import os
from pathlib import Path

DATABASE_ENV = "RISKDESK_DATABASE_URL"


def database_url() -> str | None:
    """The shared database for every store (RISKDESK_DATABASE_URL), or None: per-store SQLite files."""
    return os.environ.get(DATABASE_ENV) or None


def normalise(url: str) -> str:
    """`postgresql://` and `postgres://` mean the psycopg 3 driver (the one riskdesk ships with)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def store_url(store: str) -> str:
    """The URL of one store: its own setting (RISKDESK_LEDGER_URL / RISKDESK_AUDIT_URL), else the shared
    database, else its SQLite file under $RISKDESK_HOME."""
    own = os.environ.get(f"RISKDESK_{store.upper()}_URL")
    if own:
        return normalise(own)
    if shared := database_url():
        return normalise(shared)
    from tools.home import riskdesk_home
    return f"sqlite:///{riskdesk_home() / f'{store}.sqlite3'}"


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for memory or another database)."""
    if url.startswith("sqlite:///") and url not in ("sqlite:///:memory:",):
        return Path(url.removeprefix("sqlite:///"))
    return None
