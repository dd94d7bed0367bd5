"""One home for what is shared (storage/): the schema through Alembic migrations, in place on a store an
earlier release made; `riskdesk db upgrade`; thread checkpoints on PostgreSQL (PostgresSaver); locks
held across hosts (PostgreSQL advisory locks)."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select

from storage.migrate import current, head, upgrade
from storage.schema import METADATA, approvals_t, audit_t, customers_t
from tools.ledger import SAMPLE_LEDGER, Ledger, parse_ledger

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


@pytest.mark.parametrize("store", ["ledger", "audit"])
def test_the_first_revision_builds_exactly_the_schema_the_code_declares(store_url, store):
    engine = create_engine(store_url)
    assert upgrade(engine, store) is None                  # a new database: built from the migrations
    with engine.connect() as conn:
        assert current(conn, store) == head(store)
        diff = compare_metadata(MigrationContext.configure(conn, opts={"version_table": f"alembic_version_{store}"}),
                                METADATA[store])
    engine.dispose()
    # PostgreSQL reflects no unique constraint that repeats the primary key (quota_requests declares one)
    pk = {name: {c.name for c in t.primary_key.columns} for name, t in METADATA[store].tables.items()}
    diff = [d for d in diff if not (d[0] == "add_constraint" and {c.name for c in d[1].columns} == pk[d[1].table.name])]
    assert diff == []                                       # migrations and storage/schema.py agree


def test_a_store_made_before_migrations_is_adopted_in_place(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    engine = create_engine(url)
    METADATA["ledger"].create_all(engine)                   # what earlier releases made at open: no version table
    with engine.begin() as conn:
        conn.execute(customers_t.insert().values(
            customer_id="OLD1", name="Old", id_number="x", phone="y", occupation="", risk_tier="A", kyc_verified=True,
            opened_on=dt.date(2020, 1, 1), status="active", limit_fen=100, used_fen=0, extra="{}"))
    with engine.connect() as conn:
        assert current(conn, "ledger") is None
    engine.dispose()
    run = _cli("db", "upgrade", env={"RISKDESK_LEDGER_URL": url, "RISKDESK_HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert f"ledger  pre-migration → {head('ledger')}" in run.stdout
    led = Ledger.open(url)
    assert led.customer_ids() == ["OLD1"]                   # the data stayed
    with led.engine.connect() as conn:
        assert current(conn, "ledger") == head("ledger")
    again = _cli("db", "upgrade", env={"RISKDESK_LEDGER_URL": url, "RISKDESK_HOME": str(tmp_path)})
    assert again.returncode == 0 and "ledger  up to date" in again.stdout


def test_several_processes_opening_one_new_store_at_once_build_it_once(pg):
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Ledger.open(pg).engine.dispose()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    engine = create_engine(pg)
    with engine.connect() as conn:
        assert current(conn, "ledger") == head("ledger")
    engine.dispose()


def test_ledger_and_audit_share_one_postgres_database(pg, monkeypatch):
    from agents.audit import AuditLog
    monkeypatch.setenv("RISKDESK_DATABASE_URL", pg)
    led = Ledger.open()
    audit = AuditLog()
    assert str(led.engine.url) == str(audit.engine.url) and led.engine.dialect.name == "postgresql"
    names = set(inspect(led.engine).get_table_names())
    assert {"customers", "approvals", "quota_requests", "audit", "service_threads", "approval_threads",
            "alembic_version_ledger", "alembic_version_audit"} <= names
    led.engine.dispose(), audit.engine.dispose()


def test_postgres_url_without_a_driver_means_psycopg(pg):
    led = Ledger.open(pg.replace("postgresql+psycopg://", "postgresql://"))
    assert led.engine.dialect.driver == "psycopg"
    led.engine.dispose()


# ------------------------------------------------------------------ checkpoints and locks on PostgreSQL

def test_a_thread_continues_in_another_desk_on_postgres(pg, tmp_path, monkeypatch, kb):
    from agents import Desk
    monkeypatch.setenv("RISKDESK_DATABASE_URL", pg)
    first = Desk.open(kb=kb, llm=None)
    assert type(first.checkpointer).__name__ == "PostgresSaver"
    r = first.ask("C1001的额度是多少", thread_id="t-pg-1", as_of="2026-11-23", caller="alice")
    first.close()
    monkeypatch.setenv("RISKDESK_HOME", str(tmp_path / "other-home"))   # another host: nothing local shared
    second = Desk.open(kb=kb, llm=None)
    history = second.history("t-pg-1")
    assert [m["role"] for m in history][:2] == ["operator", "assistant"] and "C1001" in history[0]["text"]
    assert second.audit.thread("t-pg-1").owner == "alice"
    assert second.audit.get(r.trace_id).thread_id == "t-pg-1"
    second.close()


def test_advisory_locks_exclude_across_connections(pg):
    from console.locks import _AdvisoryLocks
    engine = create_engine(pg)
    a, b = _AdvisoryLocks(engine), _AdvisoryLocks(engine)
    held = a("t:abc")
    assert held.acquire()
    assert not b("t:abc").acquire(blocking=False)          # another connection (another host) must wait
    other = b("t:other")
    assert other.acquire(blocking=False)                    # other keys are free
    other.release()
    got = threading.Event()

    def take() -> None:
        with b("t:abc"):
            got.set()
    threading.Thread(target=take, daemon=True).start()
    assert not got.wait(0.3)
    held.release()
    assert got.wait(10)
    engine.dispose()
