"""Several service instances on one PostgreSQL and one Chroma server (`pytest -m scale`).

A throwaway PostgreSQL cluster (the `pg` fixture: initdb + pg_ctl), a `chroma run` server on loopback, and
two `riskdesk serve` processes, each with its own empty RISKDESK_HOME and port, started with the same
command as compose.yaml's services. Nothing here is skipped under CI: a missing PostgreSQL or Chroma fails."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from console.loadtest import _free_port, start_service

pytestmark = pytest.mark.scale
KEYS = {"k-op": ("alice", "operator"), "k-op2": ("carol", "operator"), "k-sup": ("bob", "supervisor")}
OP, OP2, SUP = ({"X-API-Key": k} for k in ("k-op", "k-op2", "k-sup"))
JSON = {"Accept": "application/json"}


def _required(what: str, why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the scale test needs {what} under CI: {why}")
    pytest.skip(f"{what}: {why}")


@pytest.fixture(scope="module")
def database(request) -> str:
    try:
        return request.getfixturevalue("pg")
    except pytest.skip.Exception as e:
        _required("PostgreSQL", str(e))


@pytest.fixture(scope="module")
def chroma(tmp_path_factory) -> str:
    exe = Path(sys.executable).with_name("chroma")
    exe = str(exe) if exe.exists() else shutil.which("chroma")
    if exe is None:
        _required("a Chroma server", "no `chroma` command (pip install chromadb)")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma")
    proc = subprocess.Popen([exe, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("`chroma run` did not answer in 60 s")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def pg(pg_server) -> str:  # one database for the module (the conftest's is per test)
    import uuid
    prefix, admin = pg_server
    name = f"scale_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{prefix}/{name}"


def _instance(tmp_path_factory, name: str, database: str, chroma: str) -> tuple[subprocess.Popen, str]:
    # the same command as compose.yaml's riskdesk services: riskdesk serve --db URL (RISKDESK_CHROMA_URL set)
    return start_service(tmp_path_factory.mktemp(f"home-{name}"), KEYS, extra=["--db", database],
                         env={"RISKDESK_CHROMA_URL": chroma, "RISKDESK_KB_REFRESH_SECONDS": "0"}, timeout=180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, database, chroma):
    a = _instance(tmp_path_factory, "a", database, chroma)      # A first: it builds the schema and seeds the ledger
    b = _instance(tmp_path_factory, "b", database, chroma)
    procs = {"a": a, "b": b}
    yield procs
    for proc, _ in procs.values():
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _ask(url: str, message: str, headers: dict, **body) -> dict:
    r = httpx.post(f"{url}/v1/ask", json={"message": message, **body}, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _say(url: str, thread: str, message: str, headers: dict = OP) -> dict:
    r = httpx.post(f"{url}/v1/threads/{thread}/messages", json={"message": message}, headers={**headers, **JSON},
                   timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_thread_started_on_one_instance_continues_on_the_other(cluster):
    a, b = cluster["a"][1], cluster["b"][1]
    thread = httpx.post(f"{a}/v1/threads", headers=OP, timeout=30).json()["thread_id"]
    first = _say(a, thread, "What's C1001's available credit?")
    assert (first["intent"], first["customer_id"]) == ("limit_lookup", "C1001")
    follow = _say(b, thread, "and what about C1002?")          # the follow-up needs the first turn's intent
    assert (follow["intent"], follow["customer_id"], follow["outcome"]) == ("limit_lookup", "C1002", "found")
    view = httpx.get(f"{b}/v1/threads/{thread}", headers=OP, timeout=30).json()
    assert view["owner"] == "alice" and len(view["messages"]) == 4 and len(view["turns"]) == 2
    assert httpx.get(f"{b}/v1/threads/{thread}", headers=OP2, timeout=30).status_code == 404   # still alice's


def test_an_approval_asked_on_a_is_approved_on_b_and_the_grant_is_seen_on_a(cluster):
    a, b = cluster["a"][1], cluster["b"][1]
    asked = _ask(a, "C1003 temp quota 8000 for a laptop for work", OP)
    assert asked["outcome"] == "needs_approval" and asked["approval_id"]
    pending = httpx.get(f"{b}/v1/approvals", headers=SUP, timeout=30).json()
    assert asked["approval_id"] in [p["approval_id"] for p in pending]
    done = httpx.post(f"{b}/v1/approvals/{asked['approval_id']}/approve", json={}, headers=SUP, timeout=60)
    assert done.status_code == 200, done.text
    approved = httpx.get(f"{a}/v1/approvals", params={"status": "approved"}, headers=SUP, timeout=30).json()
    assert [p["decided_by"] for p in approved if p["approval_id"] == asked["approval_id"]] == ["bob"]
    limit = _ask(a, "What's C1003's available credit?", OP)
    quota = limit["tool_calls"][0]["result"]["temp_quota"]
    assert quota is not None and quota["amount"] == "8000.00"


def _grants(database: str, customer: str) -> int:
    engine = create_engine(database)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM temp_quotas WHERE customer_id = :c AND granted_by IS NOT NULL"),
                         {"c": customer}).scalar()
    engine.dispose()
    return n


@pytest.mark.parametrize("customer, keyed", [("C1009", True), ("C1010", False)])
def test_fifty_concurrent_requests_across_both_instances_grant_once(cluster, database, customer, keyed):
    urls = [cluster["a"][1], cluster["b"][1]]

    def one(n: int) -> dict:
        headers = {**OP, **({"Idempotency-Key": f"scale-{customer}"} if keyed else {})}
        r = httpx.post(f"{urls[n % 2]}/v1/ask", json={"message": f"{customer} temp quota 3000 for a laptop for work"},
                       headers=headers, timeout=120)
        assert r.status_code == 200, r.text
        return r.json()
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(one, range(50)))
    outcomes = [r["outcome"] for r in results]
    assert _grants(database, customer) == 1
    if keyed:
        assert set(outcomes) == {"approved"}                  # every retry answers with the one grant
    else:
        assert outcomes.count("approved") == 1 and set(outcomes) <= {"approved", "denied"}


def test_the_audit_log_read_through_either_instance_holds_the_turns_of_both(cluster):
    a, b = cluster["a"][1], cluster["b"][1]
    on_a = _ask(a, "C1001的额度", OP)["trace_id"]
    on_b = _ask(b, "C1002的额度", OP)["trace_id"]
    for url in (a, b):
        for trace in (on_a, on_b):
            r = httpx.get(f"{url}/v1/audit/{trace}", headers=SUP, timeout=30)
            assert r.status_code == 200 and r.json()["trace_id"] == trace
    threads = httpx.get(f"{a}/v1/threads", params={"owner": "alice", "limit": 200}, headers=SUP, timeout=30).json()
    assert threads == httpx.get(f"{b}/v1/threads", params={"owner": "alice", "limit": 200}, headers=SUP, timeout=30).json()


DOC = """---
doc_id: SCALE-NOTICE
title: 扩容测试通知 / Scale-out test notice
issuer: riskdesk tests
source: tests/scale
effective_from: 2026-01-01
effective_to: open
version: 2026-11
language: zh+en
---

## SCALE-ORBIT-FEE · 轨道电梯维护费 / Orbital elevator maintenance fee
zh: 轨道电梯维护费不得计入临时额度，也不得向客户收取。
en: The orbital elevator maintenance fee may not be counted in a temporary quota and may not be charged to customers.
"""


def test_a_re_ingest_is_seen_by_every_instance_without_a_restart(cluster, chroma, tmp_path):
    a, b = cluster["a"][1], cluster["b"][1]
    (tmp_path / "notice.md").write_text(DOC, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "console", "kb", "ingest", str(tmp_path), "--url", chroma],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "RISKDESK_HOME": str(tmp_path / "home")})
    assert run.returncode == 0, run.stderr
    for url in (a, b):                                     # neither instance was restarted
        r = _ask(url, "What does the policy say about the orbital elevator maintenance fee?", OP, as_of="2026-11-23")
        assert "SCALE-ORBIT-FEE" in [c["clause_id"] for c in r["citations"]], r["answer"]


def test_kill_9_mid_turn_leaves_nothing_half_written_and_b_serves_on(cluster, database):
    (proc_a, a), (_, b) = cluster["a"], cluster["b"]
    customers = ["C1011", "C1012", "C1013", "C1015", "C1016", "C1017", "C1018", "C1019"]
    threads = [httpx.post(f"{a}/v1/threads", headers=OP, timeout=30).json()["thread_id"] for _ in customers]

    def fire(i: int) -> int:
        try:
            r = httpx.post(f"{a}/v1/threads/{threads[i % len(threads)]}/messages", headers={**OP, **JSON},
                           json={"message": f"{customers[i % len(customers)]} temp quota "
                                            f"{3000 if i % 2 else 8000} for a laptop for work"}, timeout=30)
            return r.status_code
        except httpx.HTTPError:
            return 0                                          # cut off by the kill
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(fire, i) for i in range(64)]
        time.sleep(0.4)                                       # turns under way on A
        os.kill(proc_a.pid, signal.SIGKILL)
        codes = [f.result() for f in futures]
    proc_a.wait(10)
    assert 0 in codes                                         # the kill cut turns off mid-way
    engine = create_engine(database)
    with engine.connect() as conn:
        # every grant is whole: an amount, dates, who granted it; an approved approval has exactly its grant
        bad_grants = conn.execute(text(
            "SELECT count(*) FROM temp_quotas WHERE granted_by IS NOT NULL AND (amount_fen <= 0 OR expires_on < granted_on)"
        )).scalar()
        approved_without_grant = conn.execute(text(
            "SELECT count(*) FROM approvals a WHERE a.status = 'approved' AND NOT EXISTS "
            "(SELECT 1 FROM temp_quotas q WHERE q.approval_id = a.approval_id)")).scalar()
        double = conn.execute(text(
            "SELECT count(*) FROM (SELECT customer_id FROM temp_quotas WHERE granted_by IS NOT NULL "
            "GROUP BY customer_id, granted_on HAVING count(*) > 1) d")).scalar()
        pending_incomplete = conn.execute(text(
            "SELECT count(*) FROM approvals WHERE status = 'pending' AND (amount_fen <= 0 OR reasons = '')")).scalar()
    engine.dispose()
    assert (bad_grants, approved_without_grant, double, pending_incomplete) == (0, 0, 0, 0)
    assert httpx.get(f"{b}/readyz", timeout=10).status_code == 200
    # B goes on serving, in the very threads A was killed in (A's thread locks died with its connections)
    for thread, customer in zip(threads[:3], customers):
        r = _say(b, thread, f"What's {customer}'s available credit?")
        assert r["outcome"] == "found"
