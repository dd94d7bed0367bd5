"""`riskdesk ask`, `riskdesk chat` and `riskdesk audit`: the operator's conversation with the desk.

The agent (LangGraph and friends) is imported inside the commands that use it, so `riskdesk limit`
and `--help` start fast."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from console.cli_base import AsOfOpt, DbOpt, JsonOpt, KeyOpt, LedgerOpt, app, err, fail, identity, out, parse_as_of

if TYPE_CHECKING:
    from agents import AskResult, Desk

ROLES = ("viewer", "operator", "supervisor")
audit_app = typer.Typer(help="Audit records of past turns.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def open_desk(ledger: Path | None) -> "Desk":
    from agents import Desk
    from agents.clock import ClockError
    from tools import LedgerError
    try:
        return Desk.open(ledger_file=ledger)
    except (LedgerError, ClockError) as e:
        fail(str(e))


def render(r: "AskResult", lang: str | None = None) -> None:
    from console.chat_render import render as show
    show(r, out, lang)


@app.command()
def ask(message: str, json_out: bool = JsonOpt, ledger: Optional[Path] = LedgerOpt, as_of: Optional[str] = AsOfOpt,
        role: str = typer.Option("operator", "--role", help="viewer | operator | supervisor"),
        thread: Optional[str] = typer.Option(None, "--thread", help="Continue this conversation thread."),
        what_if: bool = typer.Option(False, "--what-if", help="Run the rules as of --as-of and write nothing."),
        key: Optional[str] = KeyOpt, db: Optional[str] = DbOpt) -> None:
    """One turn: plan, tools, citations, guard. `--json` prints exactly one JSON object. A quota request on
    the persistent store is dated today; `--what-if --as-of DATE` shows the decision on another date."""
    from pydantic import ValidationError

    from agents.clock import AsOfNotAllowed
    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    day = parse_as_of(as_of) if as_of is not None else None
    who = identity(key)
    from console.one_shot import fewer_collections
    with fewer_collections():  # one process, one turn: fewer garbage collections while it starts (console/one_shot.py)
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


COMMANDS = ("approve", "reject", "pending", "thread", "role", "lang", "help", "quit", "exit")


@app.command()
def chat(ledger: Optional[Path] = LedgerOpt, as_of: Optional[str] = AsOfOpt,
         role: str = typer.Option("operator", "--role"),
         name: str = typer.Option("supervisor", "--name", help="Your name in approvals, on a --ledger sandbox only."),
         key: Optional[str] = KeyOpt, db: Optional[str] = DbOpt,
         lang: Optional[str] = typer.Option(None, "--lang", help="zh | en: the language of the console's own "
                                                                 "messages (default from RISKDESK_LANG / LANG).")) -> None:
    """The terminal operator console (works offline on the embedded defaults). On the persistent store you
    act as your identity (--key / RISKDESK_API_KEY, or RISKDESK_OPERATOR=name:role): without one, as the
    operator "cli"; --role never goes above the identity's role."""
    from pydantic import ValidationError

    from agents import ApprovalDecision
    from agents.clock import AsOfNotAllowed
    from agents.contract import ROLE_RANK
    from tools import ApprovalError, PermissionDenied, ToolInputError
    from tools.money import fmt_yuan
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
    from console.chat_render import print_lines
    from agents.i18n import LANGS, default_lang, label, say
    lang = lang or default_lang()
    if lang not in LANGS:
        fail(f"--lang must be zh or en, got {lang!r}")

    def tell(msgid: str, **fields: object) -> None:
        print_lines(out, say(lang, msgid, **fields).splitlines())

    def warn(text: str) -> None:
        print_lines(err, [text])

    asked = as_of  # the desk dates writes on the persistent store itself (a sandbox keeps this date)
    thread = None
    tell("chat help")
    tell("as of {day} · {name} · role {role} · planner {planner}", day=day, name=name, role=label("role", role, lang),
         planner=desk.llm_model or "rules")
    tell("try: {example}", example="给C1002申请4000元临时额度，买电动车送外卖" if lang == "zh"
         else "C1002 temp quota 4000 for an e-bike to deliver food")
    while True:
        try:
            line = out.input(f"{role}> ", markup=False).strip()
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
                tell("chat help")
            elif cmd == "/lang":
                if rest.strip() in LANGS:
                    lang = rest.strip()
                else:
                    warn("/lang zh | /lang en")
            elif cmd == "/role":
                if rest.strip() not in ROLES:
                    warn(say(lang, "role must be one of {roles}", roles=", ".join(ROLES)))
                elif ROLE_RANK[rest.strip()] > ROLE_RANK[top]:
                    warn(say(lang, "{name} may act as {role} at most", name=name, role=label("role", top, lang)))
                else:
                    role = rest.strip()
            elif cmd == "/thread":
                thread = rest.strip() or thread
                tell("thread: {thread}", thread=thread or say(lang, "(new on next message)"))
            elif cmd == "/pending":
                items = desk.pending_approvals()
                if not items:
                    tell("no pending approvals")
                for a in items:
                    reasons = "; ".join(label("reason", k, lang) for k in a.reasons)
                    print_lines(out, [f"{a.approval_id}  {a.customer_id}  ¥{fmt_yuan(a.amount)}  {a.purpose}  "
                                      f"{a.requested_on}  {a.requested_by or '—'}  {reasons}"])
            elif cmd in ("/approve", "/reject"):
                approval_id, _, reason = rest.strip().partition(" ")
                if not approval_id:
                    warn(say(lang, "usage: {cmd} APPROVAL_ID", cmd=cmd))
                    continue
                decision = ApprovalDecision(decision=cmd[1:], supervisor=name, reason=reason.strip(),
                                            as_of=asked if desk.sandbox else None)
                render(desk.decide(approval_id, decision, role=role, caller=name), lang)
            elif cmd.startswith("/"):
                warn(say(lang, "unknown command {cmd}; /help lists them", cmd=cmd))
            elif cmd.lower() in COMMANDS and not rest.strip():  # "help", "quit": a command without its slash
                warn(say(lang, "did you mean /{cmd}?", cmd=cmd.lower()))
            else:
                r = desk.ask(line, role=role, thread_id=thread, as_of=asked, caller=name)
                thread = r.thread_id
                render(r, lang)
        except (PermissionDenied, ApprovalError, ToolInputError, AsOfNotAllowed) as e:
            warn(str(e))
        except ValidationError as e:
            warn(str(e.errors()[0]["msg"]))


@audit_app.command("show")
def audit_show(trace_id: str, json_out: bool = JsonOpt) -> None:
    """Print the audit record of one turn (personal data masked)."""
    from agents.audit import AuditLog
    log = AuditLog()
    record = log.get(trace_id)
    if record is None:  # any unique prefix of a trace id names its record (the console shows 12 characters)
        found = log.matching(trace_id) if len(trace_id) >= 6 else []
        if len(found) > 1:
            fail(f"trace id prefix {trace_id!r} matches several records ({', '.join(found)}, ...): give more characters")
        record = log.get(found[0]) if found else None
    if record is None:
        fail(f"no audit record with trace id {trace_id!r}" + (" (give at least 6 characters)" if len(trace_id) < 6 else ""))
    if json_out:
        sys.stdout.write(record.model_dump_json() + "\n")
        return
    out.print_json(record.model_dump_json())


@app.command()
def bench(turns: int = typer.Option(300, "--turns", min=10, help="Warm turns to time."),
          cold: bool = typer.Option(True, "--cold/--no-cold", help="Also time a fresh `riskdesk ask` process."),
          growth: bool = typer.Option(False, "--growth", help="Turn p50/p95 against thread length, ledger size (1k, "
                                      "100k, 1M customers), audit log size (0, 1M) and knowledge base size (+10k clauses)."),
          data: Optional[Path] = typer.Option(None, "--data", help="--growth: keep the big stores here and reuse them."),
          service: bool = typer.Option(False, "--service", help="What HTTP/JSON and the hand-off to a turn process add "
                                       "to a turn (one client, `riskdesk serve` on loopback)."),
          json_out: bool = JsonOpt) -> None:
    """Per-turn latency with the rules planner, split by team member and by overhead (a benchmark, not a test)."""
    if service:
        from agents.bench_service import render as render_service, run as run_service
        result = run_service(turns=min(turns, 120))
        out.print_json(data=result) if json_out else out.print(render_service(result))
        return
    if growth:
        from agents.bench_growth import render as render_growth, run as run_growth
        result = run_growth(turns=min(turns, 120), data=str(data) if data else None,
                            progress=lambda m: err.print(f"[dim]growth: {m}…[/]"))
        out.print_json(data=result) if json_out else out.print(render_growth(result))
        return
    from agents.bench import render, run
    result = run(turns, cold)
    out.print_json(data=result) if json_out else out.print(render(result))
