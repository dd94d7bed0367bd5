"""`riskdesk ask`, `riskdesk chat` and `riskdesk audit`: the operator's conversation with the desk.

The agent (LangGraph and friends) is imported inside the commands that use it, so `riskdesk limit`
and `--help` start fast."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from pydantic import ValidationError
from rich.panel import Panel
from rich.table import Table

from console.cli_base import AsOfOpt, DbOpt, JsonOpt, KeyOpt, LedgerOpt, app, err, fail, identity, out, parse_as_of
from tools import ApprovalError, LedgerError, PermissionDenied, ToolInputError

if TYPE_CHECKING:
    from agents import AskResult, Desk

ROLES = ("viewer", "operator", "supervisor")
audit_app = typer.Typer(help="Audit records of past turns.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def open_desk(ledger: Path | None) -> "Desk":
    from agents import Desk
    from agents.clock import ClockError
    try:
        return Desk.open(ledger_file=ledger)
    except (LedgerError, ClockError) as e:
        fail(str(e))


def render(r: "AskResult") -> None:
    colour = "green" if r.guard.grounded else "red"
    out.print(Panel(r.answer, title=f"{r.intent.value} · {r.outcome or '—'}", subtitle=f"trace {r.trace_id[:12]} · {r.planner}",
                    border_style=colour))
    if r.tool_calls:
        t = Table("tool", "args", "outcome", title="tool calls", title_justify="left")
        for c in r.tool_calls:
            t.add_row(c.tool, ", ".join(f"{k}={v}" for k, v in c.args.items() if v is not None), str(c.result.get("outcome")))
        out.print(t)
    for c in r.citations:  # the answer may already quote the clause: one line each here
        quote = c.quote if len(c.quote) <= 60 else c.quote[:59] + "…"
        out.print(f"[bold cyan][{c.clause_id}][/] {c.title}: [dim]{quote}[/]")
    out.print(f"guard: {'grounded' if r.guard.grounded else 'UNGROUNDED'} · {r.guard.checked_claims} claims checked"
              + (f" · caught {r.guard.ungrounded}" if r.guard.ungrounded else ""))
    if r.approval_id:
        out.print(f"[yellow]pending approval {r.approval_id}[/]: another supervisor can /approve {r.approval_id}")
    if r.what_if:
        out.print("[cyan]what-if: nothing was written[/]")


@app.command()
def ask(message: str, json_out: bool = JsonOpt, ledger: Optional[Path] = LedgerOpt, as_of: Optional[str] = AsOfOpt,
        role: str = typer.Option("operator", "--role", help="viewer | operator | supervisor"),
        thread: Optional[str] = typer.Option(None, "--thread", help="Continue this conversation thread."),
        what_if: bool = typer.Option(False, "--what-if", help="Run the rules as of --as-of and write nothing."),
        key: Optional[str] = KeyOpt, db: Optional[str] = DbOpt) -> None:
    """One turn: plan, tools, citations, guard. `--json` prints exactly one JSON object. A quota request on
    the persistent store is dated today; `--what-if --as-of DATE` shows the decision on another date."""
    from agents.clock import AsOfNotAllowed
    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    day = parse_as_of(as_of) if as_of is not None else None
    who = identity(key)
    desk = open_desk(ledger)
    try:
        result = desk.ask(message, role=role, thread_id=thread, as_of=day, caller=who.name if who else "cli",
                          dry_run=what_if)
    except AsOfNotAllowed as e:
        fail(f"--as-of: {e}".replace('send "dry_run": true (riskdesk ask --what-if)', "add --what-if"))
    except ValidationError as e:
        fail("; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()))
    if json_out:
        sys.stdout.write(result.model_dump_json() + "\n")
    else:
        render(result)


HELP = """[bold]riskdesk chat[/] — ask in Chinese or English. Commands:
  /approve ID            approve a pending temporary quota (supervisor)
  /reject ID [reason]    reject it (supervisor)
  /pending               list pending approvals
  /thread [ID]           show the thread id, or switch to another thread
  /role ROLE             viewer | operator | supervisor
  /help, /quit"""


@app.command()
def chat(ledger: Optional[Path] = LedgerOpt, as_of: Optional[str] = AsOfOpt,
         role: str = typer.Option("operator", "--role"),
         name: str = typer.Option("supervisor", "--name", help="Your name in approvals, on a --ledger sandbox only."),
         key: Optional[str] = KeyOpt, db: Optional[str] = DbOpt) -> None:
    """The terminal operator console (works offline on the embedded defaults). On the persistent store you
    act as your identity (--key / RISKDESK_API_KEY, or RISKDESK_OPERATOR=name:role): without one, as the
    operator "cli"; --role never goes above the identity's role."""
    from agents import ApprovalDecision
    from agents.clock import AsOfNotAllowed
    from agents.contract import ROLE_RANK
    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    day = parse_as_of(as_of)
    who = identity(key)
    desk = open_desk(ledger)
    if who is not None:
        name, top = who.name, who.role
    elif desk.sandbox:
        top = "supervisor"  # a throwaway copy of a fixture: any role, any name
    else:
        name, top = "cli", "operator"
    if ROLE_RANK[role] > ROLE_RANK[top]:
        fail(f"--role {role} needs an identity with that role: --key KEY (or RISKDESK_API_KEY), or "
             f"RISKDESK_OPERATOR=name:{role}; acting as {name} ({top})")
    asked = as_of  # the desk dates writes on the persistent store itself (a sandbox keeps this date)
    thread = None
    out.print(HELP)
    out.print(f"[dim]as of {day} · {name} · role {role} · planner {desk.llm_model or 'rules'} · "
              "try: 给C1002申请4000元临时额度，买电动车送外卖[/]")
    while True:
        try:
            line = out.input(f"[bold]{role}>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        if not line:
            continue
        cmd, _, rest = line.partition(" ")
        try:
            if cmd in ("/quit", "/exit"):
                return
            elif cmd == "/help":
                out.print(HELP)
            elif cmd == "/role":
                if rest.strip() not in ROLES:
                    err.print(f"role must be one of {', '.join(ROLES)}")
                elif ROLE_RANK[rest.strip()] > ROLE_RANK[top]:
                    err.print(f"{name} may act as {top} at most")
                else:
                    role = rest.strip()
            elif cmd == "/thread":
                thread = rest.strip() or thread
                out.print(f"thread: {thread or '(new on next message)'}")
            elif cmd == "/pending":
                for a in desk.pending_approvals():
                    out.print(f"{a.approval_id}  {a.customer_id}  ¥{a.amount}  {a.purpose}  {', '.join(a.reasons)}")
            elif cmd in ("/approve", "/reject"):
                approval_id, _, reason = rest.strip().partition(" ")
                if not approval_id:
                    err.print(f"usage: {cmd} APPROVAL_ID")
                    continue
                decision = ApprovalDecision(decision=cmd[1:], supervisor=name, reason=reason,
                                            as_of=asked if desk.sandbox else None)
                render(desk.decide(approval_id, decision, role=role, caller=name))
            elif cmd.startswith("/"):
                err.print(f"unknown command {cmd}; /help lists them")
            else:
                r = desk.ask(line, role=role, thread_id=thread, as_of=asked, caller=name)
                thread = r.thread_id
                render(r)
        except (PermissionDenied, ApprovalError, ToolInputError, AsOfNotAllowed) as e:
            err.print(f"[red]{e}[/]")
        except ValidationError as e:
            err.print(f"[red]{e.errors()[0]['msg']}[/]")


@audit_app.command("show")
def audit_show(trace_id: str, json_out: bool = JsonOpt) -> None:
    """Print the audit record of one turn (personal data masked)."""
    from agents.audit import AuditLog
    record = AuditLog().get(trace_id)
    if record is None:
        fail(f"no audit record with trace id {trace_id!r}")
    if json_out:
        sys.stdout.write(record.model_dump_json() + "\n")
        return
    out.print_json(record.model_dump_json())


@app.command()
def bench(turns: int = typer.Option(300, "--turns", min=10, help="Warm turns to time."),
          cold: bool = typer.Option(True, "--cold/--no-cold", help="Also time a fresh `riskdesk ask` process.")) -> None:
    """Per-turn latency with the rules planner, split by team member (a benchmark, not a test)."""
    from agents.bench import render, run
    out.print(render(run(turns, cold)))
