"""Retrieval quality and latency on the labelled query set (knowledge/queries.jsonl).

One JSON object per line: {"query", "gold": [clause ids], "lang": zh|en, "kind": paraphrase|colloquial|typo|cross,
"as_of"?: YYYY-MM-DD}. Queries without as_of are read as of DEFAULT_AS_OF.

knowledge/queries_holdout.jsonl is a held-out set in the same format, written from the policy facts before any
retrieval tuning and never used to choose a change; ``python -m knowledge.bench`` prints both sets."""
from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from pathlib import Path

from knowledge.store import KnowledgeBase

QUERIES = Path(__file__).resolve().parent / "queries.jsonl"
HOLDOUT = Path(__file__).resolve().parent / "queries_holdout.jsonl"
DEFAULT_AS_OF = dt.date(2026, 11, 23)
MODES = ("lexical", "dense", "hybrid")


def load_queries(path: Path | str = QUERIES) -> list[dict]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            row = json.loads(line)
            row["as_of"] = dt.date.fromisoformat(row["as_of"]) if row.get("as_of") else DEFAULT_AS_OF
            rows.append(row)
    return rows


def evaluate(kb: KnowledgeBase, rows: list[dict], mode: str, depth: int = 10) -> dict:
    r1 = r3 = rr = 0.0
    misses = []
    for row in rows:
        ranked = [h.clause_id for h in kb.search(row["query"], row["as_of"], k=depth, mode=mode)]
        gold = set(row["gold"])
        r1 += len(gold & set(ranked[:1])) / len(gold)
        r3 += len(gold & set(ranked[:3])) / len(gold)
        first = next((i for i, c in enumerate(ranked) if c in gold), None)
        rr += 0.0 if first is None else 1.0 / (first + 1)
        if first is None or first >= 3:
            misses.append({"query": row["query"], "gold": row["gold"], "got": ranked[:3]})
    n = len(rows) or 1
    return {"mode": mode, "queries": len(rows), "recall@1": r1 / n, "recall@3": r3 / n, "mrr": rr / n,
            "misses": misses}


def latency(kb: KnowledgeBase, rows: list[dict], repeat: int = 3, k: int = 5) -> dict:
    """Warm latency of hybrid search (model loaded, index built; every query embedded afresh)."""
    for row in rows[:5]:
        kb.search(row["query"], row["as_of"], k=k)
    forget = kb.forget_queries
    times = []
    for _ in range(repeat):
        for row in rows:
            forget()  # the process keeps one-text embeddings: empty it so each query is embedded afresh
            t = time.perf_counter()
            kb.search(row["query"], row["as_of"], k=k)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))], "samples": len(times)}


def run(kb: KnowledgeBase, path: Path | str = QUERIES) -> dict:
    rows = load_queries(path)
    return {"file": str(path), "results": [evaluate(kb, rows, m) for m in MODES], "latency": latency(kb, rows)}


def main(argv: list[str] | None = None) -> int:
    """``python -m knowledge.bench [FILE ...]``: the table of ``riskdesk kb bench`` for each labelled set
    (default: the dev set, then the held-out set) on the default store."""
    import sys
    from knowledge.store import default_kb
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)] or [QUERIES, HOLDOUT]
    kb = default_kb()
    names = {"lexical": "BM25", "dense": "dense (USE-m3)", "hybrid": "hybrid (z-score)"}
    for path in paths:
        result = run(kb, path)
        print(f"{path.name} ({result['results'][0]['queries']} queries)")
        print(f"  {'mode':<16}{'recall@1':>9}{'recall@3':>9}{'MRR':>7}")
        for r in result["results"]:
            print(f"  {names[r['mode']]:<16}{r['recall@1']:>9.3f}{r['recall@3']:>9.3f}{r['mrr']:>7.3f}")
        lat = result["latency"]
        print(f"  warm hybrid latency: p50 {lat['p50_ms']:.2f} ms, p95 {lat['p95_ms']:.2f} ms ({lat['samples']} queries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
