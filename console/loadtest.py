"""Load benchmark for the HTTP service (a command, not a test).

    .venv/bin/python -m console.loadtest --clients 32 --seconds 20                         # closed loop
    .venv/bin/python -m console.loadtest --clients 32 --seconds 20 --rate 200              # open loop

Starts `riskdesk serve --workers N` (N turn processes) on a free loopback port, in a throwaway RISKDESK_HOME (the
sample ledger, the shipped corpus, the rules planner: no LLM), and drives POST /v1/ask with N
concurrent keep-alive clients for a bounded time. Closed loop: each client sends its next turn as
soon as the last is answered (this measures capacity; latency is then mostly queueing, clients /
throughput). Open loop (`--rate R`): R turns/s offered in all, each turn's latency counted from its
scheduled send time. The mix: limit lookups, temporary-quota requests (every eligible customer asked
many times, concurrently, with repeated and fresh Idempotency-Keys), repair checks and policy
questions. Reports throughput, p50/p95/p99 latency (overall and per kind), the load generator's own
CPU per turn, errors, and grants written vs expected read back from the ledger: each auto-approvable
customer must end with exactly one grant (0 double grants). `--url URL --key KEY` drives a running
service instead (no grant check).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx

AS_OF = "2026-11-23"
AMOUNT, PURPOSE = 3000, "laptop for work"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(home: Path, keys: dict[str, tuple[str, str]], workers: int | None = None, extra: list[str] | None = None,
                  timeout: float = 120, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`riskdesk serve` in its own process on a free loopback port, with RISKDESK_HOME=home and these keys
    (key -> (name, role)); returns once /readyz says 200. Raises RuntimeError (with the service's
    stderr) if it exits or is not ready in time. The service's clock is AS_OF (RISKDESK_TODAY): the
    sample ledger's day, which dates every grant the load asks for. `env`: more settings (for instance
    RISKDESK_DATABASE_URL and RISKDESK_CHROMA_URL, to share one database and one Chroma server)."""
    port = _free_port()
    settings = {k: v for k, v in os.environ.items() if not k.startswith("RISKDESK_")}
    settings |= {"RISKDESK_HOME": str(home), "RISKDESK_API_KEYS": ",".join(f"{k}:{n}:{r}" for k, (n, r) in keys.items()),
                 "RISKDESK_TODAY": AS_OF, **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "console", "serve", "--port", str(port), "--log-level", "warning",
                             *(["--workers", str(workers)] if workers else []), *(extra or [])],
                            env=settings, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the service exited: " + proc.stderr.read().decode(errors="replace"))
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the service did not become ready in {timeout:g} s")


def _mix(customers: list[str]) -> list[tuple[str, str, str | None]]:
    """(kind, message, idempotency-key or None) templates; quota keys repeat so retries race."""
    out: list[tuple[str, str, str | None]] = []
    for cid in customers:
        out += [("limit", f"What's {cid}'s available credit?", None), ("limit", f"{cid}的额度", None)] * 3
        out += [("quota", f"{cid} temp quota {AMOUNT} for a {PURPOSE}", f"lt-{cid}-{k}") for k in range(2)]
        out += [("repair", f"{cid}能做信用修复吗？", None)]
    out += [("policy", "逾期还清后多久不再展示？", None), ("policy", "What is the cap on a temporary quota?", None)] * 4
    return out


def expected_grants(customers: list[str]) -> set[str]:
    """Customers whose 3,000 'laptop for work' request the rules approve on AS_OF (from the sample ledger)."""
    from tools.ledger import SAMPLE_LEDGER, Ledger
    from tools.temp_quota import decide
    ledger = Ledger.from_file(SAMPLE_LEDGER)
    day = dt.date.fromisoformat(AS_OF)
    return {c for c in customers if decide(ledger.customer(c), Decimal(AMOUNT), PURPOSE, day).outcome == "approved"}


def grants_written(home: Path, database: str | None = None) -> Counter:
    """Grants the load wrote: in $home/ledger.sqlite3, or in the shared `database` (a SQLAlchemy URL)."""
    query = "SELECT customer_id FROM temp_quotas WHERE granted_on = :day AND granted_by IS NOT NULL"
    if database:
        from sqlalchemy import create_engine, text
        engine = create_engine(database)
        with engine.connect() as conn:
            rows = conn.execute(text(query), {"day": dt.date.fromisoformat(AS_OF)}).all()
        engine.dispose()
        return Counter(r[0] for r in rows)
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        rows = conn.execute(query.replace(":day", "?"), (AS_OF,)).fetchall()  # fixture quotas have no granted_by
    return Counter(r[0] for r in rows)


async def _drive(url: str | list[str], key: str, clients: int, seconds: float, work: list, warmup: float,
                 rate: float | None = None, service_pid: int | None = None) -> dict:
    """Closed loop (each client sends its next turn when the last one is answered) or, with `rate`, open
    loop: turns are scheduled at `rate` per second in all, each client every clients/rate seconds, and a
    turn's latency counts from its scheduled time, so time spent waiting behind a slow turn is measured
    (no coordinated omission)."""
    lat: dict[str, list[float]] = defaultdict(list)
    errors: Counter = Counter()
    outcomes: Counter = Counter()
    asked: set[str] = set()
    completed = [0]  # turns answered inside the measured window: the throughput and the CPU per turn
    deadline = time.perf_counter() + warmup + seconds
    measure_from = time.perf_counter() + warmup
    targets = [urlsplit(u) for u in ([url] if isinstance(url, str) else url)]

    async def client(n: int) -> None:
        rnd = random.Random(n)
        target = targets[n % len(targets)]  # several instances: the clients are dealt round the base URLs
        period = clients / rate if rate else 0.0
        due = time.perf_counter() + period * n / clients  # clients spread evenly over one period
        conn: Connection | None = None
        while time.perf_counter() < deadline:
            kind, message, idem = rnd.choice(work)
            if rate:
                if due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
                t0, due = due, due + period
            else:
                t0 = time.perf_counter()
            try:
                conn = conn or await Connection.open(target.hostname or "127.0.0.1", target.port or 80, key)
                status, body = await conn.post("/v1/ask", {"message": message, "as_of": AS_OF}, idem)
                ok = status == 200
                if ok and kind == "quota":
                    reply = json.loads(body)
                    outcomes[reply["outcome"]] += 1
                    asked.add(reply["customer_id"])
                elif not ok:
                    errors[f"HTTP {status}"] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError) as e:
                ok, conn = False, None
                errors[type(e).__name__] += 1
            now = time.perf_counter()
            if ok and measure_from <= now <= deadline:
                completed[0] += 1  # answered inside the window, whenever it was due
            if t0 >= measure_from and ok:
                lat[kind].append((now - t0) * 1000)
        if conn:
            conn.close()

    started, cpu = time.perf_counter(), time.process_time()
    service_cpu: list[float | None] = []
    http_cpu: list[float | None] = []

    async def measure() -> None:  # the service's CPU over the measured window: all its processes, and the HTTP one
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        service_cpu.append(tree_cpu(service_pid) if service_pid else None)
        http_cpu.append(tree_cpu(service_pid, children=False) if service_pid else None)
        await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
        service_cpu.append(tree_cpu(service_pid) if service_pid else None)
        http_cpu.append(tree_cpu(service_pid, children=False) if service_pid else None)

    await asyncio.gather(measure(), *(client(i) for i in range(clients)))
    wall = time.perf_counter() - started - warmup
    cpu = time.process_time() - cpu
    sent = completed[0]  # not the turns due in the window: an overloaded open loop answers those late or never
    before, after = (service_cpu + [None, None])[:2]
    http_before, http_after = (http_cpu + [None, None])[:2]
    return {"completed": completed[0], "http_cpu_ms": None if http_before is None or http_after is None
            else (http_after - http_before) * 1000 / max(1, sent),
            "latency": lat, "errors": errors, "outcomes": outcomes, "wall": wall, "asked": asked,
            "client_cpu_ms": cpu * 1000 / max(1, sent) * (wall / (wall + warmup)),
            "service_cpu_ms": None if before is None or after is None else (after - before) * 1000 / max(1, sent)}


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and reads Content-Length replies: the load
    generator shares the machine's two cores with the service, so it does as little work per turn as it
    can (about a fifth of an HTTP client library's)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, key: str):
        self.reader, self.writer = reader, writer
        self.head = f"Host: {host}\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n"

    @classmethod
    async def open(cls, host: str, port: int, key: str) -> "Connection":
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host, key)

    async def post(self, path: str, payload: dict, idempotency_key: str | None = None) -> tuple[int, bytes]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        extra = f"Idempotency-Key: {idempotency_key}\r\n" if idempotency_key else ""
        self.writer.write(f"POST {path} HTTP/1.1\r\n{self.head}{extra}Content-Length: {len(body)}\r\n\r\n".encode()
                          + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                raise ValueError(f"the load generator reads Content-Length replies only, got {line!r}")
        if length is None:
            raise ValueError("a reply without Content-Length")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def tree_cpu(pid: int, children: bool = True) -> float | None:
    """CPU seconds (user + system) a process and every process under it used so far, from /proc (Linux;
    None elsewhere). Turn processes are children of the service process. `children=False`: the process alone."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))  # ppid, utime + stime
    except (OSError, ValueError, AttributeError):
        return None
    if pid not in stats:
        return None
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += stats[p][1]
        todo += [c for c, (ppid, _) in stats.items() if ppid == p] if children else []
    return total / tick


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def report(res: dict, clients: int, seconds: float, grants: tuple[set, Counter] | None,
           rate: float | None = None, workers: int | None = None) -> tuple[str, bool]:
    all_lat = [x for xs in res["latency"].values() for x in xs]
    n = len(all_lat)
    load = f"open loop, {rate:g} turns/s offered" if rate else "closed loop"
    lines = [f"clients {clients} · {load} · measured {seconds:.0f} s · {workers or 'default'} worker(s) · rules planner · "
             "POST /v1/ask on loopback",
             f"turns ok      {res.get('completed', n)} answered in the window ({res.get('completed', n) / res['wall']:.1f} turns/s); "
             f"{n} of the turns due in it",
             f"latency ms    p50 {_pct(all_lat, 50):.1f}   p95 {_pct(all_lat, 95):.1f}   p99 {_pct(all_lat, 99):.1f}"
             f"   max {max(all_lat, default=float('nan')):.1f}"]
    for kind, xs in sorted(res["latency"].items()):
        lines.append(f"  {kind:<8}    n {len(xs):<6} p50 {_pct(xs, 50):6.1f}   p95 {_pct(xs, 95):6.1f}   "
                     f"mean {statistics.fmean(xs):6.1f}")
    lines.append(f"load generator CPU ≈ {res['client_cpu_ms']:.2f} ms per turn (on the same cores as the service)")
    if res.get("service_cpu_ms") is not None:
        lines.append(f"service CPU   ≈ {res['service_cpu_ms']:.2f} ms per turn (its processes, user + system)"
                     + (f": HTTP process {res['http_cpu_ms']:.2f}, turn processes {res['service_cpu_ms'] - res['http_cpu_ms']:.2f}"
                        if res.get("http_cpu_ms") is not None else ""))
    lines.append(f"errors        {sum(res['errors'].values())} {dict(res['errors']) or ''}".rstrip())
    lines.append(f"quota replies {dict(res['outcomes'])}")
    ok = not res["errors"]
    if grants is not None:
        eligible, written = grants
        expected = eligible & res["asked"]  # eligible customers whose request was answered at least once
        doubles = {c: k for c, k in written.items() if k > 1}
        missing = sorted(expected - set(written))
        unexpected = sorted(set(written) - expected)
        lines.append(f"grants        written {sum(written.values())} · expected {len(expected)} · double grants "
                     f"{len(doubles)}{' ' + str(doubles) if doubles else ''}"
                     + (f" · missing {missing}" if missing else "") + (f" · unexpected {unexpected}" if unexpected else ""))
        ok = ok and not doubles and not unexpected and not missing
    return "\n".join(lines), ok


def parser(prog: str = "python -m console.loadtest", description: str = "") -> argparse.ArgumentParser:
    """The options every load run takes (console/loadtest_compare.py adds its own)."""
    ap = argparse.ArgumentParser(prog=prog, description=description or __doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=2, help="Seconds of load before measuring.")
    ap.add_argument("--customers", type=int, default=45, help="How many sample customers the mix uses (max 45).")
    ap.add_argument("--url", action="append", help="Drive this running service instead of starting one (repeat "
                                                   "for several instances: the clients are dealt round them).")
    ap.add_argument("--key", help="API key for --url (an operator key).")
    ap.add_argument("--turn-workers", type=int, help="The service's --turn-workers (default: its own).")
    ap.add_argument("--workers", type=int, help="The service's --workers (processes; default: the service's own, "
                                                "one per core).")
    ap.add_argument("--rate", type=float, help="Open loop: offer this many turns/s in all (default: closed loop, "
                                               "each client sends as soon as its last turn is answered).")
    ap.add_argument("--json", action="store_true", help="Also print the figures as one JSON line.")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    customers = [f"C{1001 + i}" for i in range(max(1, min(args.customers, 45)))]
    work = _mix(customers)

    proc = None
    home = None
    if args.url:
        url, key = args.url, args.key or os.environ.get("RISKDESK_API_KEY", "")
    else:
        home = Path(tempfile.mkdtemp(prefix="riskdesk-load-"))
        key = "load-operator-key"
        try:
            # one key from one address is the whole load: limits far above it (the service's own are per client)
            limits = ["--rate-per-key", "5000/second", "--rate-per-address", "5000/second"]
            proc, url = start_service(home, {key: ("loadtest", "operator")}, workers=args.workers,
                                      extra=limits + (["--turn-workers", str(args.turn_workers)] if args.turn_workers else []))
        except RuntimeError as e:
            print(e, file=sys.stderr)
            return 2
    try:
        res = asyncio.run(_drive(url, key, args.clients, args.seconds, work, args.warmup, args.rate,
                                 service_pid=proc.pid if proc is not None else None))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    grants = (expected_grants(customers), grants_written(home)) if home else None
    if grants:
        grants = (grants[0] & res["asked"], grants[1])
    text, ok = report(res, args.clients, args.seconds, grants, args.rate, args.workers)
    print(text)
    if args.json:
        all_lat = [x for xs in res["latency"].values() for x in xs]
        print(json.dumps({"clients": args.clients, "rate": args.rate, "workers": args.workers, "turns": res["completed"], "turns_per_s": res["completed"] / res["wall"], "turns_due": len(all_lat),
                          "p50_ms": _pct(all_lat, 50), "p95_ms": _pct(all_lat, 95), "p99_ms": _pct(all_lat, 99),
                          "errors": sum(res["errors"].values()),
                          "service_cpu_ms_per_turn": res.get("service_cpu_ms"), "http_cpu_ms_per_turn": res.get("http_cpu_ms"),
                          "grants_written": sum(grants[1].values()) if grants else None,
                          "grants_expected": len(grants[0]) if grants else None}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
