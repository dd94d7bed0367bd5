"""The ledger and the audit log on a real PostgreSQL server (the store several services share).

A throwaway cluster is started in a temporary directory, on loopback, from the machine's PostgreSQL
binaries (Debian's `postgresql` package; `.ci/run` installs it), or RISKDESK_TEST_PG_URL names a
server to use. Without either the tests are skipped with the reason."""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from factories import customer, free_port, ledger_with
from test_temp_quota import _hammer, ask, grants

from agents.audit import AuditLog, AuditRecord
from agents.contract import GuardVerdict
from tools import ApprovalError, LedgerError, ToolInputError, approve, list_approvals, reject
from tools.ledger import Ledger, parse_ledger


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else (Path(shutil.which("initdb")).parent if shutil.which("initdb") else None)


@pytest.fixture(scope="module")
def server():
    """(SQLAlchemy URL prefix, admin connection URL) of a PostgreSQL server for this module."""
    if url := os.environ.get("RISKDESK_TEST_PG_URL"):
        yield url.rsplit("/", 1)[0], url
        return
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[test]')")
    bin_dir = _binaries()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (Debian: apt-get install postgresql) and no RISKDESK_TEST_PG_URL")
    data = Path(tempfile.mkdtemp(prefix="riskdesk-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: the cluster belongs to the postgres user
        if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            pytest.skip("running as root without a postgres user to own a throwaway cluster")
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "riskdesk",
                    "-E", "UTF8", "--no-locale"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "log"), "-w", "-o",
                    f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        prefix = f"postgresql+psycopg://riskdesk@127.0.0.1:{port}"
        yield prefix, f"{prefix}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg(server) -> str:
    """A fresh, empty database for one test."""
    from sqlalchemy import create_engine, text
    prefix, admin = server
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{prefix}/{name}"


D = dt.date(2026, 11, 23)


def test_concurrent_requests_for_one_customer_grant_once_on_postgres(pg):
    ledger_with(customer(), url=pg)
    results = _hammer(lambda i: ask(Ledger.open(pg), 1000, key=f"k{i}"), 8)
    assert sorted(r.outcome for r in results).count("approved") == 1
    assert all(r.deciding_rule == "TQ4" for r in results if r.outcome == "denied")
    assert grants(Ledger.open(pg)) == 1


def test_concurrent_retries_with_one_key_grant_once_on_postgres(pg):
    led = ledger_with(customer(), url=pg)
    results = _hammer(lambda i: ask(Ledger.open(pg), 1000, key="same"), 8)
    assert {r.outcome for r in results} == {"approved"} and sum(not r.replayed for r in results) == 1
    assert grants(led) == 1


def test_an_approval_is_applied_once_on_postgres(pg):
    led = ledger_with(customer(credit_line={"limit": 10000, "used": 0}), url=pg)
    r = ask(led, 8000, "laptop for work")
    assert r.outcome == "needs_approval" and grants(led) == 0
    done = _hammer(lambda i: approve(Ledger.open(pg), r.approval_id, f"sup{i}", D), 6)
    assert sum(d.changed for d in done) == 1 and grants(led) == 1
    assert [a.status for a in list_approvals(led, None)] == ["approved"]


def test_a_clashing_fixture_loads_nothing_into_a_postgres_ledger(pg):
    led = ledger_with(customer(), url=pg)
    before = led.customer("T1")
    with pytest.raises(LedgerError, match="T1: already in the ledger"):
        led.load(parse_ledger(json.dumps({"customers": [customer("T2"), customer("T1", name="Other")]})))
    assert led.customer_ids() == ["T1"] and led.customer("T1") == before


def test_audit_log_and_thread_owners_on_postgres(pg):
    audit = AuditLog(pg)
    record = AuditRecord(trace_id="tr1", thread_id="t-1", created_at="2026-11-23T10:00:00.000+00:00", caller="alice",
                         role="operator", as_of="2026-11-23", message="C1001的额度", planner="rules", reply="ok",
                         guard=GuardVerdict(grounded=True, checked_claims=0, ungrounded=[]))
    audit.write(record, owner="alice")
    audit.write(record.model_copy(update={"trace_id": "tr2", "caller": "bob", "created_at": "2026-11-23T10:00:01.000+00:00"}),
                owner="bob")                              # a thread keeps its first owner
    assert audit.thread("t-1").owner == "alice"
    assert [r.trace_id for r in audit.for_thread("t-1")] == ["tr1", "tr2"]
    audit.claim_thread("t-2", "carol")
    assert [(t["thread_id"], t["turns"]) for t in audit.threads()] == [("t-2", 0), ("t-1", 2)]
    assert audit.get("tr2").caller == "bob"


def test_one_key_for_two_customers_at_once_is_refused_once_on_postgres(pg):
    led = ledger_with(customer("T1"), customer("T2"), url=pg)

    def go(i: int):
        try:
            return ask(Ledger.open(pg), 1000, cid=f"T{i % 2 + 1}", key="shared")
        except ToolInputError as e:
            return e
    results = _hammer(go, 6)
    refused = [r for r in results if isinstance(r, ToolInputError)]
    assert refused and all("already used for a different request" in str(e) for e in refused)
    granted = {r.customer_id for r in results if not isinstance(r, ToolInputError)}
    assert len(granted) == 1                               # the key belongs to whichever customer came first
    assert grants(led, "T1") + grants(led, "T2") == 1      # and nothing was written for the refused ones


def test_approve_and_reject_racing_leave_one_decision_on_postgres(pg):
    led = ledger_with(customer(credit_line={"limit": 10000, "used": 0}), url=pg)
    r = ask(led, 8000, "laptop for work")

    def decide(i: int):
        try:
            if i % 2:
                return approve(Ledger.open(pg), r.approval_id, f"sup{i}", D)
            return reject(Ledger.open(pg), r.approval_id, f"sup{i}", "no", D)
        except ApprovalError as e:
            return e
    _hammer(decide, 6)
    [final] = list_approvals(led, None)
    assert final.status in ("approved", "rejected")
    assert grants(led) == (1 if final.status == "approved" else 0)
