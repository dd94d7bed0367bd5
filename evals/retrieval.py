"""The knowledge base's labelled retrieval queries as an eval suite: recall@k and MRR.

Reuses the knowledge base's own labelled file (no copy here). Accepted shapes, one query per
JSONL line or a YAML/JSON list: {query|q|question, expected|relevant|clause_ids|gold: [ids] or id,
as_of?, lang?|language?}.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterable

import yaml

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
CANDIDATES = ("retrieval_queries.jsonl", "retrieval_queries.yaml", "queries.jsonl", "labeled_queries.jsonl",
              "data/retrieval_queries.jsonl", "data/queries.jsonl", "data/retrieval_queries.yaml", "eval/queries.jsonl")


def find_queries_file() -> Path | None:
    for name in CANDIDATES:
        p = KNOWLEDGE_DIR / name
        if p.exists():
            return p
    hits = sorted(p for p in KNOWLEDGE_DIR.rglob("*") if p.is_file() and "quer" in p.name.lower()
                  and p.suffix in (".jsonl", ".json", ".yaml", ".yml"))
    return hits[0] if hits else None


def load_queries(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        data = yaml.safe_load(text)
        rows = data.get("queries", data) if isinstance(data, dict) else data
    out = []
    for r in rows:
        q = r.get("query") or r.get("q") or r.get("question")
        gold = r.get("expected") or r.get("relevant") or r.get("clause_ids") or r.get("gold") or r.get("expected_clause_ids") \
            or r.get("clause_id") or r.get("expected_clause_id")
        if isinstance(gold, str):
            gold = [gold]
        if q and gold:
            out.append({"query": q, "gold": list(gold), "as_of": r.get("as_of"), "lang": r.get("lang") or r.get("language")})
    return out


def rank_metrics(ranked: Iterable[str], gold: Iterable[str], k: int) -> tuple[float, float, bool]:
    """(recall@k = share of gold ids in the top k, reciprocal rank of the first gold id, hit@k)."""
    ranked, gold = list(ranked), set(gold)
    top = ranked[:k]
    recall = len(gold & set(top)) / len(gold) if gold else 0.0
    rr = next((1.0 / (i + 1) for i, c in enumerate(ranked) if c in gold), 0.0)
    return recall, rr, bool(gold & set(top))


def run_retrieval(kb: Any, path: Path | None = None, k: int = 3) -> dict[str, Any]:
    if kb is None:
        from knowledge import default_kb
        kb = default_kb()
    path = path or find_queries_file()
    if path is None:
        return {"status": "no labelled query file found under knowledge/", "queries": 0}
    rows = load_queries(path)
    recalls, rrs, hits, misses = [], [], 0, []
    by_lang: dict[str, list[float]] = {}
    for r in rows:
        as_of = dt.date.fromisoformat(str(r["as_of"])) if r.get("as_of") else dt.date(2026, 11, 23)
        ranked = [h.clause_id for h in kb.search(r["query"], as_of=as_of, k=max(k, 10))]
        rec, rr, hit = rank_metrics(ranked, r["gold"], k)
        recalls.append(rec)
        rrs.append(rr)
        hits += hit
        by_lang.setdefault(r.get("lang") or "?", []).append(rec)
        if not hit:
            misses.append(f"{r['query']} -> expected {r['gold']}, got {ranked[:k]}")
    n = len(rows)
    return {"file": str(path.relative_to(KNOWLEDGE_DIR.parent)) if path.is_relative_to(KNOWLEDGE_DIR.parent) else str(path),
            "queries": n, "k": k,
            "recall_at_k": round(sum(recalls) / n, 4) if n else 0.0, "hit_at_k": round(hits / n, 4) if n else 0.0,
            "mrr": round(sum(rrs) / n, 4) if n else 0.0,
            "recall_at_k_by_lang": {lang: round(sum(v) / len(v), 4) for lang, v in by_lang.items()},
            "misses": misses}
