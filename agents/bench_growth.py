"""Does a turn stay as cheap as the data grows? `riskdesk bench --growth`.

Warm turns with the rules planner (the same mixed messages as `riskdesk bench`), p50 / p95 per setting:

  thread length  turn 1, 50 and 200 of one thread (several threads; a window of 5 turns around each index)
  ledger size    1,000 / 100,000 / 1,000,000 synthetic customers (tools/synthetic_ledger.py, seed 7) plus
                 the sample ledger's customers the messages name, in one SQLite file
  audit log      0 and 1,000,000 earlier records in the audit table (inserted with executemany)
  knowledge base the shipped policy alone, and the policy plus 10,000 synthetic clauses (seeded)

Every setting has its own RISKDESK_HOME (temporary); the big stores are built once per run (or reused from
`--data DIR`). The goal: no figure at the large end above 1.5x its figure at the small end.
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


def _turns(desk: Any, n: int, warm: int = 12) -> list[float]:
    from agents.bench import MIXED_TURNS
    for m in MIXED_TURNS[:warm]:
        desk.ask(m, as_of=AS_OF)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        desk.ask(MIXED_TURNS[i % len(MIXED_TURNS)], as_of=AS_OF)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _row(label: str, times: list[float]) -> dict[str, Any]:
    return {"setting": label, "p50_ms": _pct(times, .5), "p95_ms": _pct(times, .95), "n": len(times)}


# ---------------------------------------------------------------- settings
def thread_length(base: Path, kb: Any, threads: int = 6, length: int = 200) -> list[dict[str, Any]]:
    from agents.bench import MIXED_TURNS
    from tools.ledger import SAMPLE_LEDGER, Ledger
    marks = {1: (1, 5), 50: (48, 52), length: (length - 4, length)}
    times: dict[int, list[float]] = {k: [] for k in marks}
    with _home(base, "thread"):
        desk = _desk(Ledger.from_file(SAMPLE_LEDGER), kb)
        _turns(desk, 0)
        for t in range(threads):
            thread = f"growth-{t}"
            for i in range(1, length + 1):
                m = MIXED_TURNS[(i + t) % len(MIXED_TURNS)]
                t0 = time.perf_counter()
                desk.ask(m, thread_id=thread, as_of=AS_OF)
                ms = (time.perf_counter() - t0) * 1000
                for k, (lo, hi) in marks.items():
                    if lo <= i <= hi:
                        times[k].append(ms)
        desk.close()
    return [_row(f"thread turn {k}", v) for k, v in times.items()]


def ledger_size(base: Path, kb: Any, data: Path, sizes: tuple[int, ...], turns: int) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        path = data / f"ledger-{n}.sqlite3"
        t0 = time.perf_counter()
        ledger = _ledger(f"sqlite:///{path}", n)
        built = time.perf_counter() - t0
        with _home(base, f"ledger-{n}"):
            t0 = time.perf_counter()
            desk = _desk(ledger, kb)
            opened = time.perf_counter() - t0
            row = _row(f"ledger {n:,} customers", _turns(desk, turns))
            desk.close()
        rows.append({**row, "note": f"ledger ready in {built:.1f} s, desk opened in {opened:.1f} s"})
        ledger.engine.dispose()
    return rows


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
    rows = []
    sample = None
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
                note = f"records inserted in {time.perf_counter() - t0:.1f} s"
            else:
                path.unlink(missing_ok=True)
                note = "empty audit log"
            desk = _desk(Ledger.from_file(SAMPLE_LEDGER), kb, audit=AuditLog(f"sqlite:///{path}"))
            rows.append({**_row(f"audit log {n:,} records", _turns(desk, turns)), "note": note})
            desk.close()
            desk.audit.engine.dispose()
    return rows


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


def kb_size(base: Path, data: Path, extra: tuple[int, ...], turns: int) -> list[dict[str, Any]]:
    from knowledge import KnowledgeBase
    from tools.ledger import SAMPLE_LEDGER, Ledger
    rows = []
    for n in extra:
        with _home(base, f"kb-{n}"):
            t0 = time.perf_counter()
            kb = KnowledgeBase.open(data / f"kb-{n}")
            kb.ingest()
            if n:
                synthetic_clauses(data / f"kb-{n}-docs", n)
                kb.ingest(data / f"kb-{n}-docs")
            note = f"{len(kb):,} clauses, ready in {time.perf_counter() - t0:.1f} s"
            desk = _desk(Ledger.from_file(SAMPLE_LEDGER), kb)
            rows.append({**_row("knowledge base: policy" + (f" + {n:,} clauses" if n else " alone"), _turns(desk, turns)),
                         "note": note})
            desk.close()
    return rows


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
        groups = {}
        say("thread length")
        groups["thread length"] = thread_length(base, kb, length=thread_len)
        say("ledger size")
        groups["ledger size"] = ledger_size(base, kb, store, ledger_sizes, turns)
        say("audit log size")
        groups["audit log size"] = audit_size(base, kb, store, audit_sizes, turns)
        say("knowledge base size")
        groups["knowledge base size"] = kb_size(base, store, kb_extra, turns)
    for rows in groups.values():
        for r in rows:
            r["vs_small_p50"] = r["p50_ms"] / rows[0]["p50_ms"]
            r["vs_small_p95"] = r["p95_ms"] / rows[0]["p95_ms"]
    return {"turns": turns, "groups": groups}


def render(result: dict[str, Any]) -> str:
    lines = [f"growth (warm turns, rules planner; {result['turns']} turns per setting, thread rows: 5-turn windows)",
             f"  {'setting':<44} {'p50 ms':>8} {'p95 ms':>8} {'p50 x':>6} {'p95 x':>6}"]
    for group, rows in result["groups"].items():
        lines.append(f"{group}:")
        for r in rows:
            lines.append(f"  {r['setting']:<44} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['vs_small_p50']:>6.2f} "
                         f"{r['vs_small_p95']:>6.2f}" + (f"   ({r['note']})" if r.get("note") else ""))
    return "\n".join(lines)
