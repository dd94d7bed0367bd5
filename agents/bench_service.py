"""What the HTTP service adds to a turn: `riskdesk bench --service`.

One client, one turn at a time (no queueing), the same mixed messages as `riskdesk bench`, against
`riskdesk serve` started on loopback in a throwaway home (console.loadtest.start_service):

  in process        Desk.ask in this process (the nodes, checkpoint, audit: `riskdesk bench`)
  service, 1 proc   POST /v1/ask answered by the service process itself: + HTTP, auth, JSON
  service, 2 procs  `--workers 2`: the turn handed to a turn process over a pipe: + the hand-off

The differences of the medians are the HTTP/JSON share and the worker hand-off's share.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

AS_OF = "2026-11-23"


def _service_turns(workers: int, turns: int) -> list[float]:
    import httpx

    from agents.bench import MIXED_TURNS
    from console.loadtest import start_service
    home = Path(tempfile.mkdtemp(prefix="riskdesk-bench-service-"))
    proc = None
    try:
        proc, url = start_service(home, {"bench-key": ("bench", "operator")}, workers=workers, timeout=600)
        out = []
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer bench-key"}, timeout=60) as client:
            for i in range(len(MIXED_TURNS) + turns):
                t0 = time.perf_counter()
                r = client.post("/v1/ask", json={"message": MIXED_TURNS[i % len(MIXED_TURNS)], "as_of": AS_OF,
                                                  "dry_run": True})
                ms = (time.perf_counter() - t0) * 1000
                r.raise_for_status()
                if i >= len(MIXED_TURNS):  # the first round warms the service up
                    out.append(ms)
        return out
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def _in_process(turns: int) -> list[float]:
    from agents.bench import MIXED_TURNS
    from agents.desk import Desk
    with tempfile.TemporaryDirectory() as home:
        old = os.environ.get("RISKDESK_HOME")
        os.environ["RISKDESK_HOME"] = home
        try:
            desk = Desk.open()
            for m in MIXED_TURNS:
                desk.ask(m, as_of=AS_OF, dry_run=True)
            out = []
            for i in range(turns):
                t0 = time.perf_counter()
                desk.ask(MIXED_TURNS[i % len(MIXED_TURNS)], as_of=AS_OF, dry_run=True)
                out.append((time.perf_counter() - t0) * 1000)
            desk.close()
            return out
        finally:
            if old is None:
                os.environ.pop("RISKDESK_HOME", None)
            else:
                os.environ["RISKDESK_HOME"] = old


def run(turns: int = 120) -> dict[str, Any]:
    from agents.bench import pct
    rows = {"in process": _in_process(turns), "service, 1 process": _service_turns(1, turns),
            "service, 2 turn processes": _service_turns(2, turns)}
    result = {k: {"p50_ms": pct(v, .5), "p95_ms": pct(v, .95)} for k, v in rows.items()}
    p = {k: v["p50_ms"] for k, v in result.items()}
    return {"turns": turns, "rows": result,
            "http_json_ms": p["service, 1 process"] - p["in process"],
            "worker_handoff_ms": p["service, 2 turn processes"] - p["service, 1 process"]}


def render(result: dict[str, Any]) -> str:
    lines = [f"service, one client, one turn at a time ({result['turns']} turns each; what-if turns, nothing written):"]
    for k, v in result["rows"].items():
        lines.append(f"  {k:<28} p50 {v['p50_ms']:7.2f} ms   p95 {v['p95_ms']:7.2f} ms")
    lines.append(f"  HTTP + auth + JSON (p50 difference): {result['http_json_ms']:.2f} ms")
    lines.append(f"  hand-off to a turn process (p50 difference): {result['worker_handoff_ms']:.2f} ms")
    return "\n".join(lines)
