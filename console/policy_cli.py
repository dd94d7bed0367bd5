"""`riskdesk policy …`: the rules' parameters as the lender's versioned file, and `--policy FILE` on every
command that decides.

    riskdesk policy show [--as-of D] [--json]     the parameters in force, with their clause ids
    riskdesk policy export [--out FILE]           every version, in the file format, to start from
    riskdesk policy check [--policy FILE]         every version against the clauses that state it
    riskdesk policy impact --from V --to V …      what a change would do, over a ledger (console/policy_impact.py)
"""
from __future__ import annotations

import functools
import inspect
import json
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import typer
from rich.table import Table

from console.cli_base import AsOfOpt, JsonOpt, err, fail, out, parse_as_of
if TYPE_CHECKING:
    from tools.policy import Policy

POLICY_ENV = "RISKDESK_POLICY"  # tools.policy.POLICY_ENV (the tools are imported when a command runs)

policy_app = typer.Typer(help="The rules' parameters as a versioned file (规则参数): show, export, check, impact.",
                         no_args_is_help=True)

# commands that decide, by name: each gets --policy FILE (else $RISKDESK_POLICY, else the shipped file)
DECIDING = {"ask", "limit", "quota", "repair", "chat", "serve", "run", "batch", "tool"}
WARN_AT_START = {"chat", "serve"}
_POLICY_HELP = f"Decide with this policy file (TOML; default ${POLICY_ENV}, else the shipped policy)."


def PolicyOpt() -> Any:  # noqa: N802 - a typer option factory
    return typer.Option(None, "--policy", envvar=POLICY_ENV, help=_POLICY_HELP, show_envvar=False)


def activate(path: Path | None) -> Policy:
    """Load and put in force `path` (None: $RISKDESK_POLICY or the shipped file); a bad file exits 2."""
    from tools.policy import PolicyError, active, use
    try:
        return use(path) if path is not None else active()
    except PolicyError as e:
        fail(f"policy: {e}")


def mismatches(policy: Policy, corpus: list[Path] | None = None) -> list:
    """Every version against the knowledge base (and the clause files of `corpus` directories, if given)."""
    from agents.policy_check import check_policy, shipped_clauses
    lookup = shipped_clauses()
    if corpus:
        from knowledge.corpus import CorpusError, load_corpus
        try:
            extra = {c.clause_id: c for d in corpus for doc in load_corpus(d) for c in doc.clauses}
        except CorpusError as e:
            fail(str(e))
        return check_policy(policy, lambda cid: extra.get(cid) or lookup(cid))
    return check_policy(policy, lookup)


def warn_if_drift(policy: Policy) -> None:
    """serve and chat: a policy that its clauses contradict still decides, but says so at start."""
    found = mismatches(policy)
    if found:
        err.print(f"[bold yellow]warning:[/] the policy {policy.source} and its clauses disagree in {len(found)} "
                  f"place(s); replies will say so where it matters / 政策参数与条款有{len(found)}处不一致"
                  f" (riskdesk policy check):")
        for m in found[:10]:
            err.print("  " + m.line())


def with_policy(fn: Callable[..., Any], warn: bool = False) -> Callable[..., Any]:
    """`fn` with a --policy option: the file is loaded in full before the command runs."""
    if "policy" in inspect.signature(fn).parameters:
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, policy: Optional[Path] = None, **kwargs: Any) -> Any:
        chosen = activate(policy)
        if warn:
            warn_if_drift(chosen)
        return fn(*args, **kwargs)

    hints = typing.get_type_hints(fn)
    sig = inspect.signature(fn)
    params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()]
    params.append(inspect.Parameter("policy", inspect.Parameter.KEYWORD_ONLY, default=PolicyOpt(),
                                    annotation=Optional[Path]))
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**hints, "policy": Optional[Path]}
    del wrapper.__wrapped__  # typer reads the signature above, not the original's
    return wrapper


def install(*apps: typer.Typer) -> None:
    """Give every deciding command of these apps a --policy option (serve and chat also warn at start)."""
    for a in apps:
        for cmd in a.registered_commands:
            name = cmd.name or (cmd.callback.__name__ if cmd.callback else "")
            if cmd.callback is not None and name in DECIDING:
                cmd.callback = with_policy(cmd.callback, warn=name in WARN_AT_START)


@policy_app.command("show")
def show(as_of: Optional[str] = AsOfOpt, json_out: bool = JsonOpt, policy: Optional[Path] = PolicyOpt()) -> None:
    """The parameters in force on a date (default today), with their values and clause ids."""
    pol = activate(policy)
    v = pol.in_force(parse_as_of(as_of))
    start, end = pol.period(v)
    rows = [{"table": t, "parameter": k, "value": _jsonable(val), "clause_id": getattr(v, t).clauses.get(k)}
            for t in ("temp_quota", "repair") for k, val in getattr(v, t).values().items()]
    if json_out:
        sys.stdout.write(json.dumps({"source": pol.source, "version": v.id, "effective_from": str(start),
                                     "effective_to": str(end) if end else None, "parameters": rows},
                                    ensure_ascii=False) + "\n")
        return
    t = Table("table", "parameter", "value", "clause", title=f"Policy version {v.id} (in force {start} → "
              f"{end or 'open'}; {pol.source}) / 生效中的政策版本", title_justify="left")
    for r in rows:
        t.add_row(r["table"], r["parameter"], str(r["value"]), r["clause_id"] or "—")
    out.print(t)


def _jsonable(x: Any) -> Any:
    from agents.policy_text import plain
    return plain(x) if not isinstance(x, int) else x


@policy_app.command("export")
def export(out_file: Optional[Path] = typer.Option(None, "--out", help="Write here (default: standard output)."),
           policy: Optional[Path] = PolicyOpt()) -> None:
    """The policy in force, all versions, in the file format (a lender starts its own file from it)."""
    from tools.policy import dump_toml
    text = dump_toml(activate(policy))
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        err.print(f"wrote {out_file}")


@policy_app.command("check")
def check(policy: Optional[Path] = PolicyOpt(), json_out: bool = JsonOpt,
          corpus: Optional[list[Path]] = typer.Option(None, "--corpus", help="Also these clause directories "
                                                      "(Markdown, as `kb ingest` reads them) before they are ingested.")) -> None:
    """Every version against the knowledge base: each parameter's value must be stated by its clause, in force
    over the version's period, in Chinese and in English. Exits 1 on any mismatch."""
    pol = activate(policy)
    found = mismatches(pol, corpus)
    if json_out:
        sys.stdout.write(json.dumps({"source": pol.source, "versions": [v.id for v in pol.versions],
                                     "mismatches": [m.model_dump() for m in found]}, ensure_ascii=False) + "\n")
    else:
        for m in found:
            out.print(m.line(), highlight=False)
        n = sum(len(getattr(v, t).values()) for v in pol.versions for t in ("temp_quota", "repair"))
        out.print(f"{'FAILED' if found else 'ok'}: {len(found)} mismatch(es) in {len(pol.versions)} version(s), "
                  f"{n} parameter values checked / 不一致{len(found)}处", highlight=False)
    if found:
        raise typer.Exit(1)


def _impact_ledger(path: Optional[Path]) -> tuple[Any, Optional[str]]:
    """--ledger: a JSON fixture (loaded into memory) or a SQLite file (read in place, in parallel); default the
    persistent store."""
    from console.cli_base import open_ledger
    from tools.ledger import Ledger, default_url
    if path is not None and path.is_file() and path.open("rb").read(16) == b"SQLite format 3\x00":
        url = f"sqlite:///{path.resolve()}"
        return Ledger.open(url), url
    if path is not None:
        return open_ledger(path), None
    url = default_url()
    return open_ledger(None), url


@policy_app.command("impact")
def impact_cmd(from_version: str = typer.Option(..., "--from", help="The version in force now."),
               to_version: str = typer.Option(..., "--to", help="The version to compare it with."),
               policy: Optional[Path] = PolicyOpt(),
               ledger: Optional[Path] = typer.Option(None, "--ledger", help="A JSON fixture or a SQLite ledger file "
                                                     "(default: the persistent store)."),
               as_of: Optional[str] = AsOfOpt,
               requests: Optional[Path] = typer.Option(None, "--requests", help="Requests too: CSV (customer_id, "
                                                       "amount, purpose[, as_of]) or JSON Lines."),
               out_file: Optional[Path] = typer.Option(None, "--out", help="Every changed decision, JSON Lines."),
               workers: Optional[int] = typer.Option(None, "--workers", min=1, max=64, help="Processes (default: cores)."),
               json_out: bool = JsonOpt) -> None:
    """Decide every customer (and request) under both versions, write nothing, and show what changes: transitions
    by deciding rule, the change in credit that could be granted, and the decisions that change."""
    from tools.policy import PolicyError
    from tools.policy_impact import impact, read_requests
    pol = activate(policy)
    for vid in (from_version, to_version):
        try:
            pol.version(vid)
        except PolicyError as e:
            fail(str(e))
    led, url = _impact_ledger(ledger)
    try:
        reqs = list(read_requests(requests)) if requests else []
    except (OSError, ValueError) as e:
        fail(f"--requests: {e}")
    rep = impact(led, from_version, to_version, parse_as_of(as_of), reqs, out_file, workers, url)
    if json_out:
        sys.stdout.write(rep.model_dump_json() + "\n")
        return
    from tools.money import fmt_yuan
    out.print(f"Policy {rep.from_version} → {rep.to_version} as of {rep.as_of}: {rep.customers} customers, "
              f"{rep.requests} requests, {rep.seconds} s on {rep.workers} process(es); nothing written / 未写入任何数据",
              highlight=False)
    t = Table("kind", "before", "after", "deciding rule", "count", title="Transitions / 决定变化", title_justify="left")
    for tr in rep.transitions:
        t.add_row(tr.kind, tr.before, tr.after, tr.rule or "—", str(tr.count))
    out.print(t)
    out.print(f"credit that could be granted (caps of customers who may ask) / 可授予额度合计: ¥{fmt_yuan(rep.credit_before)}"
              f" → ¥{fmt_yuan(rep.credit_after)} ({'+' if rep.credit_change >= 0 else '-'}¥{fmt_yuan(abs(rep.credit_change))})",
              highlight=False)
    out.print(f"approved without a supervisor, at most / 无需主管审批可批合计: ¥{fmt_yuan(rep.auto_before)} → "
              f"¥{fmt_yuan(rep.auto_after)}", highlight=False)
    out.print(f"changed: {rep.changed_customers} customers, {rep.changed_requests} requests"
              + (f" (all in {out_file})" if out_file else f" (first {len(rep.examples)} below; --out FILE for all)"),
              highlight=False)
    for ch in rep.examples:
        req = f" {ch.request['amount']} {ch.request['purpose']}" if ch.request else ""
        def said(d: dict) -> str:
            extra = f", at once ≤ {d['auto_max']}" if "auto_max" in d else ""
            return f"{d['outcome']} ({d.get('deciding_rule')}, cap {d['cap']}{extra})"
        out.print(f"  {ch.customer_id}{req}: {said(ch.before)} → {said(ch.after)}"
                  + (f"; repair {ch.before.get('repair')} → {ch.after.get('repair')}" if 'repair' in ch.after else ""),
                  highlight=False)
