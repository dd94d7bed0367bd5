"""`python -m console.loadtest_compare`: one run, three setups, the same clients and mix (console/loadtest.py's).

    1 instance on SQLite (files under its RISKDESK_HOME)
    1 instance on PostgreSQL (RISKDESK_DATABASE_URL: ledger, audit, thread checkpoints)
    2 instances on PostgreSQL (each with its own empty RISKDESK_HOME; the clients dealt round them)

Each setup starts on a fresh store (a throwaway PostgreSQL cluster, or a new database on --pg), prints
turns/s and p50/p95, and checks the grants (exactly one per eligible customer). Then, where the time goes:
database round trips per turn, by kind, counted in process on a Desk over each store (every statement
SQLAlchemy sends, plus the checkpointer's own: sqlite3's trace callback, a counting psycopg cursor).
"""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import subprocess
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from console.loadtest import AS_OF, _drive, _mix, _pct, expected_grants, grants_written, parser, start_service

KEY = "load-operator-key"


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def _setup(name: str, instances: int, database: str | None, args: Any, customers: list[str], work: list) -> dict:
    limits = ["--rate-per-key", "5000/second", "--rate-per-address", "5000/second"]
    homes = [Path(tempfile.mkdtemp(prefix=f"riskdesk-load-{i}-")) for i in range(instances)]
    env = {"RISKDESK_DATABASE_URL": database} if database else {}
    procs, urls = [], []
    try:
        for home in homes:  # one after the other: the first builds the schema and seeds the ledger
            proc, url = start_service(home, {KEY: ("loadtest", "operator")}, workers=args.workers or 1, extra=limits,
                                      env=env, timeout=300)  # one process per instance unless --workers says more
            procs.append(proc)
            urls.append(url)
        res = asyncio.run(_drive(urls, KEY, args.clients, args.seconds, work, args.warmup, args.rate))
    finally:
        _stop(procs)
    lat = [x for xs in res["latency"].values() for x in xs]
    written = grants_written(homes[0], database)
    expected = expected_grants(customers) & res["asked"]
    doubles = {c: k for c, k in written.items() if k > 1}
    return {"name": name, "turns": res["completed"], "tps": res["completed"] / res["wall"],  # answered in the window "p50": _pct(lat, 50), "p95": _pct(lat, 95),
            "errors": sum(res["errors"].values()), "doubles": len(doubles),
            "grants_ok": not doubles and set(written) == expected}


# ------------------------------------------------------------------ round trips per turn

class _Trips:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, *_: Any, **__: Any) -> None:
        self.n += 1


def round_trips(database: str | None, customers: list[str], home: Path) -> dict[str, float]:
    """Statements sent to the database per turn, by kind, on a Desk over `database` (None: SQLite files)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import storage.checkpoints as checkpoints
    trips = _Trips()
    os.environ["RISKDESK_HOME"] = str(home)
    os.environ.pop("RISKDESK_DATABASE_URL", None)
    if database:
        os.environ["RISKDESK_DATABASE_URL"] = database
    os.environ["RISKDESK_TODAY"] = AS_OF
    event.listen(Engine, "before_cursor_execute", trips)
    if database:
        import psycopg

        class Counting(psycopg.Cursor):
            def execute(self, *a: Any, **k: Any) -> Any:
                trips()
                return super().execute(*a, **k)

            def executemany(self, *a: Any, **k: Any) -> Any:
                trips()
                return super().executemany(*a, **k)
        checkpoints.CURSOR_FACTORY = Counting
    try:
        from agents import Desk
        if True:
            desk = Desk.open(llm=None)
            if hasattr(getattr(desk, "_conn", None), "set_trace_callback"):  # SqliteSaver's sqlite3 connection
                desk._conn.set_trace_callback(trips)
            desk.warm()
            per_kind: dict[str, list[int]] = {}
            spent: list[float] = []
            for kind, message, idem in _mix(customers[:12]):
                before, t0 = trips.n, time.perf_counter()
                desk.ask(message, as_of=AS_OF, caller="loadtest",
                         idempotency_key=idem and f"trips-{idem}")
                spent.append((time.perf_counter() - t0) * 1000)
                per_kind.setdefault(kind, []).append(trips.n - before)
            desk.close()
    finally:
        event.remove(Engine, "before_cursor_execute", trips)
        checkpoints.CURSOR_FACTORY = None
    out = {k: sum(v) / len(v) for k, v in sorted(per_kind.items())}
    out["all"] = sum(sum(v) for v in per_kind.values()) / sum(len(v) for v in per_kind.values())
    out["ms/turn"] = statistics.median(spent)
    return out


def compare(args: Any) -> int:
    from storage.pg_cluster import new_database, throwaway_cluster
    customers = [f"C{1001 + i}" for i in range(max(1, min(args.customers, 45)))]
    work = _mix(customers)
    rows, trips = [], {}
    with (nullcontext(args.pg) if args.pg else throwaway_cluster()) as server:
        rows.append(_setup("1 instance, SQLite", 1, None, args, customers, work))
        rows.append(_setup("1 instance, PostgreSQL", 1, new_database(server), args, customers, work))
        rows.append(_setup("2 instances, PostgreSQL", 2, new_database(server), args, customers, work))
        trips["SQLite"] = round_trips(None, customers, Path(tempfile.mkdtemp(prefix="riskdesk-trips-")))
        trips["PostgreSQL"] = round_trips(new_database(server), customers, Path(tempfile.mkdtemp(prefix="riskdesk-trips-")))
    cores = os.cpu_count()
    print(f"{args.clients} clients in all · closed loop · {args.seconds:g} s measured · rules planner · "
          f"POST /v1/ask on loopback · {cores} cores (load generator on the same cores)")
    print(f"{'setup':<26}{'turns/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}  grants")
    for r in rows:
        print(f"{r['name']:<26}{r['tps']:>9.1f}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['errors']:>8}  "
              f"{'one each' if r['grants_ok'] else 'WRONG'} (double {r['doubles']})")
    base, pg1, pg2 = rows
    print(f"per-turn cost PostgreSQL / SQLite (1 instance, 1/throughput): {base['tps'] / pg1['tps']:.2f}x · "
          f"2 instances / 1 on PostgreSQL: {pg2['tps'] / pg1['tps']:.2f}x throughput")
    kinds = sorted({k for t in trips.values() for k in t} - {"ms/turn"}) + ["ms/turn"]
    print("database round trips per turn (statements; in process, one Desk; ms/turn: its median turn):")
    print(f"{'store':<12}" + "".join(f"{k:>9}" for k in kinds))
    for store, t in trips.items():
        print(f"{store:<12}" + "".join(f"{t.get(k, float('nan')):>9.1f}" for k in kinds))
    ok = all(r["errors"] == 0 and r["grants_ok"] for r in rows)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = parser("python -m console.loadtest_compare", __doc__.split("\n\n")[0])
    ap.add_argument("--pg", help="A PostgreSQL server URL without a database (postgresql+psycopg://user@host:port) "
                                 "instead of a throwaway cluster.")
    return compare(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
