"""`riskdesk batch`: decide many rows (repair, limit, quota) with the same tools as a single turn, no LLM.

    riskdesk batch repair customers.csv --out repair.jsonl --as-of 2026-01-15
    riskdesk batch repair --all --as-of 2026-01-15 --out eligible.jsonl
    riskdesk batch limit customers.jsonl --out limits.csv
    riskdesk batch quota requests.csv --out quota.jsonl            # a what-if: nothing written
    riskdesk batch quota requests.csv --out quota.jsonl --commit   # grants and approvals written
    riskdesk batch bench --url sqlite:////tmp/big.sqlite3 --as-of 2026-01-15
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from console.cli_base import AsOfOpt, JsonOpt, KeyOpt, LedgerOpt, err, fail, identity, open_ledger, out, parse_as_of, today

batch_app = typer.Typer(help="Batch decisions over CSV / JSON Lines files or the whole ledger, no LLM (批量决策).",
                        no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
OutOpt = typer.Option(..., "--out", "-o", help="Output file (.csv or .jsonl); an existing one is resumed after its last row.")


def _count_rows(path: Path) -> int | None:
    from tools.batch_io import file_format  # the tools package (SQLAlchemy) only when a batch runs, not for --help
    try:
        with path.open("rb") as f:
            n = sum(1 for line in f if line.strip())
    except OSError:
        return None
    return n - 1 if file_format(path) == "csv" else n


def _bar(total: int | None, what: str) -> Progress:
    return Progress(TextColumn(f"[bold]{what}[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True)


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("")
    t.add_column("count / 数量", justify="right")
    for k, v in counts.items():
        t.add_row(k, f"{v:,}")
    return t


def _run(kind: str, source: Path, dest: Path, as_of: Optional[str], ledger: Optional[Path], commit: bool,
         key: Optional[str], json_out: bool) -> None:
    from tools.batch import run_batch
    from tools.batch_io import RowFileError, file_format
    from tools.errors import ToolInputError
    if not source.is_file():
        fail(f"{source}: no such input file / 输入文件不存在")
    try:
        file_format(source), file_format(dest)
    except RowFileError as e:
        fail(str(e))
    led = open_ledger(ledger)
    write_day = None if (led.sandbox or not commit) else today()
    if write_day is not None and as_of is not None and parse_as_of(as_of) != write_day:
        fail(f"--as-of {as_of} cannot date a write on the persistent store: a committed batch is dated today "
             f"({write_day}); leave --commit out for a what-if on that date / 提交的批量只能以今天为日期")
    day = write_day or parse_as_of(as_of)
    who = identity(key)
    total = _count_rows(source)
    try:
        with _bar(total, f"batch {kind}") as bar:
            task = bar.add_task(kind, total=total)
            report = run_batch(kind, led, source, dest, as_of=day, commit=commit, write_day=write_day,
                               requested_by=who.name if who else "cli", progress=lambda k: bar.advance(task, k))
    except (RowFileError, ToolInputError) as e:
        fail(str(e))
    if json_out:
        sys.stdout.write(report.model_dump_json() + "\n")
        return
    note = "" if kind != "quota" else (" — committed / 已写入" if commit else " — what-if, nothing written / 模拟，未写入")
    out.print(f"{report.decided:,} decided, {report.errors:,} errors, {report.resumed_after:,} resumed "
              f"(已决策 {report.decided:,}，错误 {report.errors:,}，续跑跳过 {report.resumed_after:,}) → {dest}{note}")
    out.print(_counts_table("by outcome / 按结果", report.by_outcome))


@batch_app.command()
def repair(source: Optional[Path] = typer.Argument(None, help="CSV / JSON Lines with customer_id (and as_of)."),
           dest: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (.csv or .jsonl)."),
           all_: bool = typer.Option(False, "--all", help="Scan every customer of the ledger."),
           workers: int = typer.Option(1, "--workers", min=1, max=16, help="With --all: processes deciding pages "
                                                                              "(one per core; not for --ledger FILE)."),
           as_of: Optional[str] = AsOfOpt, ledger: Optional[Path] = LedgerOpt, json_out: bool = JsonOpt) -> None:
    """One-time credit repair (R1–R4) for each row, or with --all for the whole ledger (eligible ones written)."""
    if all_ == (source is not None):
        fail("give an INPUT file or --all, not both / 请给出输入文件或 --all（二选一）")
    if not all_:
        if dest is None:
            fail("--out is required / 需要 --out")
        return _run("repair", source, dest, as_of, ledger, False, None, json_out)
    from tools.batch import scan_ledger
    from tools.batch_io import RowFileError, file_format
    if dest is not None:
        try:
            file_format(dest)
        except RowFileError as e:
            fail(str(e))
    led, day = open_ledger(ledger), parse_as_of(as_of)
    from sqlalchemy import func, select
    from tools.ledger import customers_t
    with led.read() as conn:
        total = conn.execute(select(func.count()).select_from(customers_t)).scalar_one()
    with _bar(total, "repair scan") as bar:
        task = bar.add_task("scan", total=total)
        try:
            tally = scan_ledger(led, day, dest, progress=lambda k: bar.advance(task, k), workers=workers)
        except ValueError as e:
            fail(str(e))
    summary = tally.summary()
    if json_out:
        sys.stdout.write(summary.model_dump_json() + "\n")
        return
    out.print(f"{summary.customers:,} customers as of {day} / 截至 {day} 共 {summary.customers:,} 位客户")
    out.print(_counts_table("customers by outcome / 客户按结果", summary.by_outcome))
    out.print(_counts_table("customers by deciding rule / 客户按决定规则", summary.by_deciding_rule))
    out.print(_counts_table("records by status / 逾期记录按状态", summary.records_by_status))
    out.print("clauses / 条款: " + ", ".join(f"{r} {c}" for r, c in summary.clauses.items()))
    if dest is not None:
        out.print(f"{summary.written:,} eligible or partially eligible customers with their records → {dest}")


@batch_app.command()
def limit(source: Path = typer.Argument(..., help="CSV / JSON Lines with customer_id (and as_of)."), dest: Path = OutOpt,
          as_of: Optional[str] = AsOfOpt, ledger: Optional[Path] = LedgerOpt, json_out: bool = JsonOpt) -> None:
    """Credit-limit lookup (LIMIT, TQ7) for each row."""
    _run("limit", source, dest, as_of, ledger, False, None, json_out)


@batch_app.command()
def quota(source: Path = typer.Argument(..., help="CSV / JSON Lines with customer_id, amount, purpose (and as_of)."),
          dest: Path = OutOpt, commit: bool = typer.Option(False, "--commit", help="Write grants and approvals "
                                                                                  "(default: a what-if, nothing written)."),
          as_of: Optional[str] = AsOfOpt, ledger: Optional[Path] = LedgerOpt, key: Optional[str] = KeyOpt,
          json_out: bool = JsonOpt) -> None:
    """Temporary quota (TQ1–TQ6) for each row: a what-if unless --commit."""
    _run("quota", source, dest, as_of, ledger, commit, key, json_out)


@batch_app.command()
def bench(url: str = typer.Option(..., "--url", help="A filled ledger (python -m tools.synthetic_ledger)."),
          as_of: str = typer.Option("2026-01-15", "--as-of"), sample: int = typer.Option(10_000, "--sample", min=0),
          workers: int = typer.Option(1, "--workers", min=1, max=16), json_out: bool = JsonOpt) -> None:
    """Whole-ledger repair scan: rows/s, peak memory, and a random sample re-decided through the tool."""
    from tools.batch_bench import bench as run
    from tools.ledger import Ledger
    led = Ledger.open(url)
    if led.is_empty():
        fail(f"{url}: empty ledger; fill it first: python -m tools.synthetic_ledger --customers 1000000 --url {url}")
    result = run(led, parse_as_of(as_of), sample, say=lambda s: err.print(s), workers=workers)
    if json_out:
        sys.stdout.write(result.model_dump_json() + "\n")
    else:
        out.print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=1))
