"""Does a turn stay as cheap as the data grows? `riskdesk bench --growth`.

Warm turns with the rules planner (the same mixed messages as `riskdesk bench`), p50 / p95 per setting:

  thread length  turns 1-5, 50-54 and 200-204 of a thread (12 threads filled to that length first; the same
                 messages at every length)
  ledger size    1,000 / 100,000 / 1,000,000 synthetic customers (tools/synthetic_ledger.py, seed 7) plus
                 the sample ledger's customers the messages name, in one SQLite file
  audit log      0 and 1,000,000 earlier records in the audit table (inserted with executemany)
  knowledge base the shipped policy alone, and the policy plus 10,000 synthetic clauses (seeded); then the
                 same with every search scanning all chunks again (a question the process was not asked
                 before: the knowledge base keeps each question's similarities, knowledge/similarity_cache.py)

Every setting has its own RISKDESK_HOME (temporary); the big stores are built once per run (or reused from
`--data DIR`). The settings of one group are measured turn by turn in alternation (the same message on each,
the first setting rotating), so the load of a shared machine falls on all of them alike; CPU time per turn
(p50 and p95) is printed beside the wall clock. The goal:
no figure at the large end above 1.5x its figure at the small end.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import sqlite3
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

AS_OF = "2026-11-23"


def _pct(values: list[float], q: float) -> float:
    from agents.bench import pct
    return pct(values, q)


@contextmanager
def _home(base: Path, name: str) -> Iterator[Path]:
    home = base / name
    home.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("RISKDESK_HOME")
    os.environ["RISKDESK_HOME"] = str(home)
    try:
        yield home
    finally:
        if old is None:
            os.environ.pop("RISKDESK_HOME", None)
        else:
            os.environ["RISKDESK_HOME"] = old


def _ledger(url: str, customers: int) -> Any:
    """A SQLite ledger of `customers` synthetic customers plus the sample's (built once per file)."""
    from tools.ledger import SAMPLE_LEDGER, Ledger, parse_ledger
    from tools.synthetic_ledger import generate
    ledger = Ledger.open(url)
    if ledger.is_empty():
        generate(ledger, customers, seed=7)
        ledger.load(parse_ledger(SAMPLE_LEDGER.read_bytes(), str(SAMPLE_LEDGER)))
    ledger.sandbox = True  # the benchmark's messages carry their own as-of date
    return ledger


def _desk(ledger: Any, kb: Any, **kw: Any) -> Any:
    from agents.desk import Desk
    return Desk(ledger, kb, **kw)


def _interleaved(desks: dict[str, Any], turns: int, before: Callable[[Any], None] | None = None) -> list[dict[str, Any]]:
    """Each desk's warm turns, interleaved turn by turn: the same message on every setting one after the other
    (which setting goes first rotates), so a burst of load on a shared machine falls on all of them alike;
    wall and CPU time per turn. ``before(desk)``: run before each timed turn, untimed."""
    from agents.bench import MIXED_TURNS
    labels = list(desks)
    wall: dict[str, list[float]] = {k: [] for k in desks}
    cpu: dict[str, list[float]] = {k: [] for k in desks}
    for desk in desks.values():
        for m in MIXED_TURNS:
            desk.ask(m, as_of=AS_OF)
    for i in range(max(1, turns)):
        message = MIXED_TURNS[i % len(MIXED_TURNS)]
        for j in range(len(labels)):
            label = labels[(i + j) % len(labels)]
            desk = desks[label]
            if before is not None:
                before(desk)
            c0, t0 = time.process_time(), time.perf_counter()
            desk.ask(message, as_of=AS_OF)
            wall[label].append((time.perf_counter() - t0) * 1000)
            cpu[label].append((time.process_time() - c0) * 1000)
    return [_row(label, wall[label], cpu[label]) for label in desks]


def _row(label: str, times: list[float], cpu: list[float]) -> dict[str, Any]:
    return {"setting": label, "p50_ms": _pct(times, .5), "p95_ms": _pct(times, .95), "cpu_p50_ms": _pct(cpu, .5),
            "cpu_p95_ms": _pct(cpu, .95), "n": len(times)}


# ---------------------------------------------------------------- settings
def thread_length(base: Path, kb: Any, threads: int = 12, length: int = 200, window: int = 5) -> list[dict[str, Any]]:
    """Threads filled to 0, 49 and length-1 turns, then their next `window` turns measured in alternation: turn w
    of thread t asks the same message at every length."""
    from agents.bench import MIXED_TURNS
    from tools.ledger import SAMPLE_LEDGER, Ledger
    starts = [1, 50, length]
    with _home(base, "thread"):
        desk = _desk(Ledger.from_file(SAMPLE_LEDGER), kb)
    for m in MIXED_TURNS:
        desk.ask(m, as_of=AS_OF)
    for s in starts:
        for t in range(threads):
            for i in range(1, s):
                desk.ask(MIXED_TURNS[i % len(MIXED_TURNS)], thread_id=f"growth-{s}-{t}", as_of=AS_OF)
    wall: dict[int, list[float]] = {s: [] for s in starts}
    cpu: dict[int, list[float]] = {s: [] for s in starts}
    for w in range(window):
        for t in range(threads):
            for j in range(len(starts)):  # which length goes first rotates, as in _interleaved
                s = starts[(w * threads + t + j) % len(starts)]
                c0, t0 = time.process_time(), time.perf_counter()
                desk.ask(MIXED_TURNS[(w + t) % len(MIXED_TURNS)], thread_id=f"growth-{s}-{t}", as_of=AS_OF)
                wall[s].append((time.perf_counter() - t0) * 1000)
                cpu[s].append((time.process_time() - c0) * 1000)
    desk.close()
    return [_row(f"thread turns {s}-{s + window - 1}", wall[s], cpu[s]) for s in starts]


def ledger_size(base: Path, kb: Any, data: Path, sizes: tuple[int, ...], turns: int) -> list[dict[str, Any]]:
    desks, notes = {}, []
    for n in sizes:
        t0 = time.perf_counter()
        ledger = _ledger(f"sqlite:///{data / f'ledger-{n}.sqlite3'}", n)
        built = time.perf_counter() - t0
        with _home(base, f"ledger-{n}"):
            t0 = time.perf_counter()
            desks[f"ledger {n:,} customers"] = _desk(ledger, kb)
            notes.append(f"ledger ready in {built:.1f} s, desk opened in {time.perf_counter() - t0:.1f} s")
    rows = _interleaved(desks, turns)
    for desk in desks.values():
        desk.close()
    return [{**r, "note": note} for r, note in zip(rows, notes)]


def _fill_audit(path: Path, n: int, sample: str) -> None:
    """n audit records shaped like `sample` (a real record's JSON), distinct trace and thread ids."""
    from agents.audit import AuditLog
    AuditLog(f"sqlite:///{path}").engine.dispose()  # the tables, as the desk makes them
    con = sqlite3.connect(path)
    have = con.execute("SELECT count(*) FROM audit").fetchone()[0]
    if have >= n:
        con.close()
        return
    rec = json.loads(sample)
    rng = random.Random(7)
    day = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    def rows(start: int, stop: int) -> Iterator[tuple[str, str, str, str]]:
        for i in range(start, stop):
            trace, thread = uuid.UUID(int=rng.getrandbits(128)).hex, f"t-{i // 4:012x}"
            created = (day + dt.timedelta(seconds=i * 30)).isoformat(timespec="milliseconds")
            yield trace, thread, created, json.dumps({**rec, "trace_id": trace, "thread_id": thread, "created_at": created},
                                                     ensure_ascii=False)
    step = 50_000
    for s in range(have, n, step):
        with con:
            con.executemany("INSERT INTO audit (trace_id, thread_id, created_at, record) VALUES (?, ?, ?, ?)",
                            rows(s, min(n, s + step)))
    con.close()


def audit_size(base: Path, kb: Any, data: Path, sizes: tuple[int, ...], turns: int) -> list[dict[str, Any]]:
    from agents.audit import AuditLog
    from tools.ledger import SAMPLE_LEDGER, Ledger
    desks, notes, sample = {}, [], None
    for n in sizes:
        path = data / f"audit-{n}.sqlite3"
        with _home(base, f"audit-{n}"):
            if n:
                if sample is None:
                    probe = _desk(Ledger.from_file(SAMPLE_LEDGER), kb, audit=AuditLog(f"sqlite:///{base / 'probe.sqlite3'}"))
                    sample = probe.audit.get(probe.ask("What's C1001's available credit?", as_of=AS_OF).trace_id).model_dump_json()
                    probe.close()
                t0 = time.perf_counter()
                _fill_audit(path, n, sample)
                notes.append(f"records inserted in {time.perf_counter() - t0:.1f} s")
            else:
                path.unlink(missing_ok=True)
                notes.append("empty audit log")
            desks[f"audit log {n:,} records"] = _desk(Ledger.from_file(SAMPLE_LEDGER), kb, audit=AuditLog(f"sqlite:///{path}"))
    rows = _interleaved(desks, turns)
    for desk in desks.values():
        desk.close()
        desk.audit.engine.dispose()
    return [{**r, "note": note} for r, note in zip(rows, notes)]


_TOPICS = [("还款提醒", "repayment reminders"), ("账单分期", "bill instalments"), ("催收行为", "debt collection conduct"),
           ("营销短信", "marketing messages"), ("数据保存", "data retention"), ("投诉处理", "complaint handling"),
           ("反洗钱核查", "anti-money-laundering checks"), ("联名卡权益", "co-branded card benefits"),
           ("积分兑换", "reward points"), ("挂失补卡", "card replacement"), ("境外交易", "foreign transactions"),
           ("年费减免", "annual fee waivers")]
_VERBS = [("应当在", "must be completed within"), ("不得超过", "may not exceed"), ("至少提前", "must be notified at least")]


def synthetic_clauses(directory: Path, clauses: int, seed: int = 7, per_doc: int = 500) -> None:
    """`clauses` seeded bilingual clauses in Markdown documents of the corpus format (SYN-* ids)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for d in range(0, clauses, per_doc):
        lines = ["---", f"doc_id: SYN-DOC-{d // per_doc:03d}", f"title: 合成制度{d // per_doc} / Synthetic rules {d // per_doc}",
                 "issuer: Synthetic", "source: synthetic", "effective_from: 2020-01-01", "effective_to: open",
                 "version: 1", "language: zh+en", "---"]
        for i in range(d, min(clauses, d + per_doc)):
            (tz, te), (vz, ve) = rng.choice(_TOPICS), rng.choice(_VERBS)
            k = rng.randrange(2, 90)
            lines += [f"## SYN-{i:05d} · {tz}第{i}条 / {te} rule {i}",
                      f"zh: 第{i}号{tz}事项{vz}{k}个工作日内处理。",
                      f"en: Item {i} on {te} {ve} {k} business days."]
        (directory / f"syn_{d // per_doc:03d}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def kb_size(base: Path, data: Path, extra: tuple[int, ...], turns: int, afresh: bool = False) -> list[dict[str, Any]]:
    """The shipped policy alone and with ``extra`` synthetic clauses. ``afresh``: each turn's search scans every
    chunk again (the knowledge base's per-question similarities are forgotten before each turn, untimed), as a
    question the process has not been asked before; the query embedding stays cached, as it costs the same at
    every size."""
    from knowledge import KnowledgeBase
    from tools.ledger import SAMPLE_LEDGER, Ledger
    desks, notes = {}, []
    for n in extra:
        with _home(base, f"kb-{n}"):
            t0 = time.perf_counter()
            kb = KnowledgeBase.open(data / f"kb-{n}")
            kb.ingest()
            if n:
                synthetic_clauses(data / f"kb-{n}-docs", n)
                kb.ingest(data / f"kb-{n}-docs")
            notes.append(f"{len(kb):,} clauses, ready in {time.perf_counter() - t0:.1f} s")
            desks["knowledge base: policy" + (f" + {n:,} clauses" if n else " alone")] = \
                _desk(Ledger.from_file(SAMPLE_LEDGER), kb)
    rows = _interleaved(desks, turns, before=(lambda desk: desk.kb.forget_queries(embeddings=False)) if afresh else None)
    for desk in desks.values():
        desk.close()
    return [{**r, "note": note} for r, note in zip(rows, notes)]


def run(turns: int = 120, data: str | None = None, ledger_sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000),
        audit_sizes: tuple[int, ...] = (0, 1_000_000), kb_extra: tuple[int, ...] = (0, 10_000),
        thread_len: int = 200, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from knowledge import KnowledgeBase
    say = progress or (lambda _m: None)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        store = Path(data) if data else base / "data"
        store.mkdir(parents=True, exist_ok=True)
        with _home(base, "kb"):
            kb = KnowledgeBase.open(base / "kb")
            kb.ingest()
        groups: dict[str, list[dict[str, Any]]] = {}
        steps = [("thread length", lambda: thread_length(base, kb, length=thread_len)),
                 ("ledger size", lambda: ledger_size(base, kb, store, ledger_sizes, turns)),
                 ("audit log size", lambda: audit_size(base, kb, store, audit_sizes, turns)),
                 ("knowledge base size", lambda: kb_size(base, store, kb_extra, turns)),
                 ("knowledge base size, every search scanned afresh", lambda: kb_size(base, store, kb_extra, turns, True))]
        for name, step in steps:
            say(name)
            rows = groups[name] = step()
            for r in rows:
                r["vs_small_p50"] = r["p50_ms"] / rows[0]["p50_ms"]
                r["vs_small_p95"] = r["p95_ms"] / rows[0]["p95_ms"]
                r["vs_small_cpu"] = r["cpu_p50_ms"] / rows[0]["cpu_p50_ms"]
                r["vs_small_cpu_p95"] = r["cpu_p95_ms"] / rows[0]["cpu_p95_ms"]
            say(render({"turns": turns, "groups": {name: rows}}).split("\n", 2)[-1])  # each group as it is done
    return {"turns": turns, "groups": groups}


def render(result: dict[str, Any]) -> str:
    lines = [f"growth (warm turns, rules planner; {result['turns']} turns per setting, interleaved; thread rows: 12 threads x 5 turns)",
             f"  {'setting':<40} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8} {'CPU p95':>8} {'p50 x':>6} {'p95 x':>6} "
             f"{'CPU x':>6} {'CPU95 x':>7}"]
    for group, rows in result["groups"].items():
        lines.append(f"{group}:")
        for r in rows:
            lines.append(f"  {r['setting']:<40} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['cpu_p50_ms']:>8.2f} "
                         f"{r['cpu_p95_ms']:>8.2f} {r['vs_small_p50']:>6.2f} {r['vs_small_p95']:>6.2f} "
                         f"{r['vs_small_cpu']:>6.2f} {r['vs_small_cpu_p95']:>7.2f}"
                         + (f"   ({r['note']})" if r.get("note") else ""))
    return "\n".join(lines)
