"""Several worker processes over shared stores: the knowledge-base replica, the cross-process locks,
and `riskdesk serve --workers 2` end to end (one grant per idempotency key across processes, threads
that continue on any worker, a clear refusal of a per-process ledger)."""
from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from console.loadtest import start_service
from knowledge.bench import load_queries
from knowledge.replica import Replica, ReplicaError, publish

D = "2026-11-23"


# ------------------------------------------------------------------ the knowledge-base replica

def test_replica_searches_exactly_like_the_store(kb, tmp_path):
    replica = Replica.open(publish(kb, tmp_path / "kb.npz"))
    assert len(replica) == len(kb) and replica.digest() == kb.digest()
    for q in load_queries()[:40]:
        assert ([h.model_dump() for h in replica.search(q["query"], q["as_of"], k=5)]
                == [h.model_dump() for h in kb.search(q["query"], q["as_of"], k=5)]), q["query"]
    assert replica.get("PBOC-REPAIR-R1") == kb.get("PBOC-REPAIR-R1")


def test_replica_is_read_only(kb, tmp_path):
    replica = Replica.open(publish(kb, tmp_path / "kb.npz"))
    with pytest.raises(ReplicaError, match="read-only replica"):
        replica.ingest()


def test_publish_replaces_the_file_whole(kb, tmp_path):
    path = publish(kb, tmp_path / "kb.npz")
    first = path.read_bytes()
    publish(kb, path)
    assert path.read_bytes() == first                      # same store, same snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb.npz"]  # no temporary file left behind


@pytest.mark.parametrize("damage, words", [
    (lambda p: p.write_bytes(b"not a snapshot"), "not a readable"),
    (lambda p: p.unlink(), "not a readable"),
])
def test_a_bad_replica_file_is_a_clear_error(kb, tmp_path, damage, words):
    path = publish(kb, tmp_path / "kb.npz")
    damage(path)
    with pytest.raises(ReplicaError, match=words):
        Replica.open(path)


def test_a_replica_of_another_format_is_refused(kb, tmp_path):
    path = tmp_path / "kb.npz"
    header = np.frombuffer(b'{"format": "something-else/9", "ids": [], "metadatas": []}', dtype=np.uint8)
    np.savez(path, header=header, embeddings=np.zeros((0, 512), dtype=np.float32))
    with pytest.raises(ReplicaError, match="something-else/9"):
        Replica.open(path)


# ------------------------------------------------------------------ locks held across processes

def _hold(directory: str, key: str, ready, release) -> None:  # noqa: ANN001 - runs in a child process
    from console.service import _Stripes
    with _Stripes(directory=Path(directory))(key):
        ready.set()
        release.wait(10)


def test_a_thread_lock_held_by_another_process_blocks_until_released(tmp_path):
    from console.service import _Stripes
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold, args=(str(tmp_path), "t:abc", ready, release))
    child.start()
    try:
        assert ready.wait(30)
        got = threading.Event()
        stripes = _Stripes(directory=tmp_path)

        def take() -> None:
            with stripes("t:abc"):
                got.set()
        threading.Thread(target=take, daemon=True).start()
        assert not got.wait(0.5)          # the other process holds it
        other = next(k for k in (f"t:{n}" for n in range(100)) if stripes(k).path != stripes("t:abc").path)
        with stripes(other):
            pass                          # other stripes are free meanwhile
        release.set()
        assert got.wait(10)               # released by the other process: now ours
    finally:
        release.set()
        child.join(10)


def test_one_process_two_threads_wait_for_each_other(tmp_path):
    from console.service import _Stripes
    stripes, inside, overlaps = _Stripes(directory=tmp_path), [], []

    def turn(n: int) -> None:
        with stripes("t:same"):
            inside.append(n)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            time.sleep(0.01)
            inside.remove(n)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(turn, range(16)))
    assert overlaps == []


# ------------------------------------------------------------------ riskdesk serve --workers 2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("workers-home")
    try:
        proc, url = start_service(home, {"k-op": ("alice", "operator"), "k-sup": ("bob", "supervisor")}, workers=2)
    except RuntimeError as e:
        pytest.fail(f"serve --workers 2: {e}")
    yield url, home, proc
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _workers(pid: int) -> list[int]:
    """The service's turn processes (children started by multiprocessing's spawn)."""
    def cmdline(child: int) -> str:
        try:
            return Path(f"/proc/{child}/cmdline").read_text(errors="replace")
        except FileNotFoundError:  # reaped between listing and reading: not a worker any more
            return ""
    return [p for p in _children(pid) if "spawn_main" in cmdline(p)]


def test_turns_run_in_separate_processes_over_one_replica(served):
    url, home, proc = served
    workers = _workers(proc.pid)
    assert len(workers) == 2
    assert (home / "kb-replica.npz").is_file()
    r = httpx.post(url + "/v1/ask", json={"message": "逾期还清后多久不再展示？", "as_of": D},
                   headers={"X-API-Key": "k-op"}, timeout=30)
    assert r.status_code == 200 and r.json()["citations"], r.text  # turn processes search the replica

    def cpu(pid: int) -> int:  # user + system clock ticks
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    before = {p: cpu(p) for p in workers}
    with httpx.Client(base_url=url, headers={"X-API-Key": "k-op"}, timeout=30) as c:  # one keep-alive connection
        assert {c.post("/v1/ask", json={"message": "逾期还清后多久不再展示？", "as_of": D}).status_code
                for _ in range(30)} == {200}
    assert all(cpu(p) > before[p] for p in workers)  # both processes ran turns: balanced per turn, not per connection


def test_one_idempotency_key_grants_once_across_worker_processes(served):
    url, home, _ = served
    body = {"message": "给C1002申请4000元临时额度，买电动车送外卖", "as_of": D}

    def ask(_: int) -> dict:
        with httpx.Client(base_url=url, headers={"X-API-Key": "k-op", "Idempotency-Key": "retry-1"}, timeout=60) as c:
            return c.post("/v1/ask", json=body).json()  # a fresh connection each: requests spread over workers
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(ask, range(32)))
    assert {r["outcome"] for r in replies} == {"approved"}
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        rows = conn.execute("SELECT COUNT(*) FROM temp_quotas WHERE customer_id = 'C1002' AND granted_by IS NOT NULL"
                            ).fetchone()[0]
    assert rows == 1


def test_a_thread_continues_whichever_worker_answers(served):
    url, *_ = served
    thread = None
    for n in range(6):
        with httpx.Client(base_url=url, headers={"X-API-Key": "k-op"}, timeout=30) as c:  # new connection per turn
            r = c.post("/v1/ask", json={"message": f"C100{n + 1}的额度", "as_of": D, **({"thread_id": thread} if thread else {})})
            assert r.status_code == 200, r.text
            thread = r.json()["thread_id"]
    view = httpx.get(f"{url}/v1/threads/{thread}", headers={"X-API-Key": "k-op"}, timeout=30).json()
    assert len(view["messages"]) == 12 and len(view["turns"]) == 6
    assert [t["thread_id"] for t in httpx.get(f"{url}/v1/threads", headers={"X-API-Key": "k-op"}).json()].count(thread) == 1


def test_workers_refuse_a_per_process_ledger(tmp_path):
    from typer.testing import CliRunner

    from console.cli import app
    from tools.ledger import SAMPLE_LEDGER
    r = CliRunner().invoke(app, ["serve", "--workers", "2", "--ledger", str(SAMPLE_LEDGER)])
    assert r.exit_code != 0 and "--workers needs a ledger every worker shares" in r.output
    assert not list(Path(os.environ["RISKDESK_HOME"]).glob("kb-replica.npz"))  # refused before anything was opened


def test_a_turn_process_that_dies_is_replaced_and_turns_go_on(served):
    url, _, proc = served

    def workers() -> list[int]:
        return _workers(proc.pid)
    victim = workers()[0]
    os.kill(victim, 9)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (victim in workers() or len(workers()) < 2):
        time.sleep(0.2)
    assert victim not in workers() and len(workers()) == 2
    with httpx.Client(base_url=url, headers={"X-API-Key": "k-op"}, timeout=30) as c:
        codes = [c.post("/v1/ask", json={"message": "C1001的额度", "as_of": D}).status_code for _ in range(6)]
    assert codes == [200] * 6


def test_stopping_the_service_stops_every_worker(tmp_path):
    proc, url = start_service(tmp_path, {"k-op": ("alice", "operator")}, workers=2)
    try:
        children = _children(proc.pid)
        assert children
        proc.terminate()
        assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
        def gone(pid: int) -> bool:
            try:
                return "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
            except FileNotFoundError:
                return True
        deadline = time.monotonic() + 10  # the children exit as they see the parent go (pipe closed)
        while time.monotonic() < deadline and not all(gone(c) for c in children):
            time.sleep(0.1)
        left = [c for c in children if not gone(c)]
        assert not left, [subprocess.run(["ps", "-o", "pid=,args=", "-p", str(c)], capture_output=True, text=True).stdout
                          for c in left]
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/readyz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
