"""`riskdesk kb bench --corpus statutes`: the size table and the recall table of knowledge.bench_size."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from rich.table import Table

from console.kb_common import _fail, err, out


def bench_statutes(path: Optional[Path], laws: Optional[list[str]], as_json: bool, split: str = "dev") -> None:
    from knowledge.bench_size import SIZES, run
    from knowledge.corpus import CorpusError
    from knowledge.statutes import StatutesUnavailable
    if path is not None and path.exists() and any(path.iterdir()):
        _fail(f"{path}: the statutes bench builds a fresh store; give an empty or new directory")
    store = path or Path(tempfile.mkdtemp(prefix="riskdesk-kb-bench-"))
    try:
        if split not in ("dev", "test"):
            _fail(f"--split must be dev or test, got {split!r}")
        result = run(store, laws, sizes=SIZES if not laws else (22, 0), statute_split=split,
                     log=lambda line: err.print(line))
    except (StatutesUnavailable, CorpusError) as e:
        _fail(str(e))
    finally:
        if path is None:
            shutil.rmtree(store, ignore_errors=True)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    table = Table(title="knowledge base at size (policy + statutes)")
    for col in ("clauses", "ingest clauses/s", "disk MB", "search p50 ms", "search p95 ms"):
        table.add_column(col, justify="right")
    for s in result["sizes"]:
        table.add_row(f"{s['clauses']:,}", str(s["clauses_per_s"]), str(s["disk_mb"]), f"{s['latency']['p50_ms']:.2f}",
                      f"{s['latency']['p95_ms']:.2f}")
    out.print(table)
    recall = Table(title=f"recall with every clause loaded ({len(result['sizes']) and result['sizes'][-1]['clauses']:,})")
    for col in ("queries", "n", "recall@3", "MRR"):
        recall.add_column(col, justify="right" if col != "queries" else "left")
    for name, r in result["recall"]["policy"].items():
        recall.add_row(f"policy ({name})", str(r["queries"]), f"{r['recall@3']:.3f}", f"{r['mrr']:.3f}")
    st = result["recall"]["statutes"]
    recall.add_row(f"statutes ({result['statute_split']})", str(st["queries"]), f"{st['recall@3']:.3f}", f"{st['mrr']:.3f}")
    out.print(recall)
