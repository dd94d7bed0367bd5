"""`riskdesk kb`: ingest policy documents, search clauses as of a date, measure retrieval quality and speed."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Optional

import typer
from rich.progress import Progress
from rich.table import Table

from console import kb_docs_cli
from console.kb_common import PathOpt, UrlOpt, _fail, _open, err, out

kb_app = typer.Typer(help="Knowledge base (知识库): policy clauses, your own documents, the statutes; search, bench.",
                     no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
kb_docs_cli.register(kb_app)


@kb_app.command()
def ingest(directory: Optional[Path] = typer.Argument(None, help="Directory of .md policy documents "
                                                                   "(default: the shipped corpus)."),
           path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt) -> None:
    """Validate every document, then add, update and delete clauses. A bad document writes nothing."""
    from knowledge import CorpusError
    if directory is not None and not directory.is_dir():
        _fail(f"{directory}: not a directory")
    kb = _open(path, url, ensure_shipped=False)
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("embedding clauses", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)
            report = kb.ingest(directory, progress=progress)
    except CorpusError as e:
        _fail(str(e))
    out.print(f"{report.documents} documents, {report.clauses} clauses: added {report.added}, updated "
              f"{report.updated}, unchanged {report.unchanged}, deleted {report.deleted}")


@kb_app.command()
def search(query: str = typer.Argument(..., help="Question or keywords, Chinese or English."),
           as_of: Optional[str] = typer.Option(None, "--as-of", help="Only clauses in force on this date "
                                                                      "(YYYY-MM-DD; default today)."),
           k: int = typer.Option(5, "--k", min=1, max=100, help="Number of clauses."),
           as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON array."),
           path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt) -> None:
    """Hybrid (BM25 + dense) search over the clauses in force on a date."""
    if not query.strip():
        _fail("the query is empty")
    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        _fail(f"--as-of must be YYYY-MM-DD, got {as_of!r}")
    hits = _open(path, url).search(query, as_of=day, k=k)
    if as_json:
        print(json.dumps([h.model_dump(mode="json") for h in hits], ensure_ascii=False))
        return
    table = Table(title=f"{query}  (as of {day})")
    for col in ("#", "clause", "title", "in force", "score", "text"):
        table.add_column(col, overflow="fold")
    for n, h in enumerate(hits, 1):
        table.add_row(str(n), h.clause_id, h.title, f"{h.effective_from} → {h.effective_to or 'open'}",
                      f"{h.score:.4f}", h.text)
    out.print(table if hits else "no clause in force matches")


@kb_app.command()
def bench(queries: Optional[Path] = typer.Option(None, "--queries", help="Labelled JSONL (default: "
                                                                          "knowledge/queries.jsonl)."),
          as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
          corpus: str = typer.Option("policy", "--corpus", help="policy: the labelled queries on the store; "
                                     "statutes: a fresh store filled with the policy and the statutes, measured "
                                     "at 22, 1,000, 10,000 and all clauses."),
          law: Optional[list[str]] = typer.Option(None, "--law", help="With --corpus statutes: only these laws."),
          split: str = typer.Option("dev", "--split", help="With --corpus statutes: the statute queries scored, "
                                    "dev or test (evals/retrieval_statutes/; test is held out: report, never tune)."),
          path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt) -> None:
    """recall@1, recall@3 and MRR for BM25, dense and hybrid; warm hybrid latency p50/p95."""
    from knowledge.bench import QUERIES, run
    if corpus == "statutes":
        from console.kb_bench_cli import bench_statutes
        bench_statutes(path, law or None, as_json, split)
        return
    if corpus != "policy":
        _fail(f"--corpus must be policy or statutes, got {corpus!r}")
    qpath = queries or QUERIES
    if not qpath.is_file():
        _fail(f"{qpath}: no such file")
    try:
        result = run(_open(path, url), qpath)
    except (ValueError, KeyError) as e:
        _fail(f"{qpath}: {e}")
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    n = result["results"][0]["queries"]
    table = Table(title=f"retrieval on {n} labelled queries ({qpath.name})")
    for col in ("mode", "recall@1", "recall@3", "MRR"):
        table.add_column(col, justify="right" if col != "mode" else "left")
    names = {"lexical": "BM25", "dense": "dense (USE-m3)", "hybrid": "hybrid (z-score fusion)"}
    for r in result["results"]:
        table.add_row(names[r["mode"]], f"{r['recall@1']:.3f}", f"{r['recall@3']:.3f}", f"{r['mrr']:.3f}")
    out.print(table)
    lat = result["latency"]
    out.print(f"warm hybrid query latency: p50 {lat['p50_ms']:.2f} ms, p95 {lat['p95_ms']:.2f} ms "
              f"({lat['samples']} queries)")


if __name__ == "__main__":
    kb_app()
