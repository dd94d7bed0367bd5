"""`riskdesk`: the operator's command line. Tables for people, `--json` for scripts.

Every JSON shape printed here is a pydantic model's `model_dump(mode="json")`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

# The tools (SQLAlchemy, pydantic) and the agent are imported inside the commands that use them, so
# `riskdesk --help` and the commands that need neither start fast.
if TYPE_CHECKING:
    from pydantic import BaseModel

    from tools import Ledger

from console.i18n import default_lang, say  # noqa: E402  (light: the catalogue is read on first use)

app = typer.Typer(help="riskdesk: trusted risk decisions for consumer credit (风控助手).",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
approvals_app = typer.Typer(help="Pending temporary-quota approvals (supervisors).", no_args_is_help=True)
app.add_typer(approvals_app, name="approvals")

out = Console()
err = Console(stderr=True)

LedgerOpt = typer.Option(None, "--ledger", help="Fixture JSON loaded into a fresh temporary store for this call.")
AsOfOpt = typer.Option(None, "--as-of", help="Evaluate as of this date (YYYY-MM-DD; default today). A grant or decision "
                                               "on the persistent store is always dated today.")
JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON object.")
KeyOpt = typer.Option(None, "--key", help="Act as this API key's name and role (default $RISKDESK_API_KEY; checked "
                                          "against RISKDESK_API_KEYS / RISKDESK_API_KEYS_FILE).")
KEY_ENV, OPERATOR_ENV = "RISKDESK_API_KEY", "RISKDESK_OPERATOR"


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def today() -> dt.date:
    """The deployment's today (agents/clock.py: RISKDESK_TODAY, else China's today)."""
    from agents.clock import Clock, ClockError
    try:
        return Clock.from_env().today()
    except ClockError as e:
        fail(str(e))


def parse_as_of(value: str | None) -> dt.date:
    from tools.dates import parse_day
    if value is None:
        return today()
    try:
        return parse_day(value)
    except ValueError as e:
        fail(f"--as-of must be a date like 2026-01-15: {e}")


def write_day(value: str | None, ledger: Ledger) -> dt.date:
    """The date a grant or decision is written with: any --as-of on a sandbox (--ledger FILE), else today."""
    if ledger.sandbox:
        return parse_as_of(value)
    day = today()
    if value is not None and parse_as_of(value) != day:
        fail(f"--as-of {value} cannot date a write on the persistent store: grants and decisions are dated today "
             f"({day}) by the deployment's clock. Leave --as-of out; `riskdesk ask --what-if --as-of {value}` shows "
             "the decision as of that date without writing, and --ledger FILE works on a sandbox copy.")
    return day


def identity(key: str | None = None) -> Any:
    """Who this CLI acts as (an ApiKey: name and role), or None: an API key (--key, else $RISKDESK_API_KEY)
    resolved with the service's own key configuration, else the local operator configured in
    $RISKDESK_OPERATOR ("name:role")."""
    token = key or os.environ.get(KEY_ENV)
    if token:
        from console.service import KeyConfigError, key_holder, keys_from_env
        try:
            keys = keys_from_env()
        except KeyConfigError as e:
            fail(str(e))
        who = key_holder(token, keys)
        if who is None:
            fail("unknown API key: it is not among the keys of RISKDESK_API_KEYS / RISKDESK_API_KEYS_FILE")
        return who
    if local := os.environ.get(OPERATOR_ENV):
        from console.service import ApiKey  # the service (FastAPI) is imported only when a key or identity is given
        name, _, role = local.partition(":")
        try:
            return ApiKey(name=name.strip(), role=role.strip())
        except Exception:  # noqa: BLE001 - pydantic's message is less clear than this one
            fail(f"{OPERATOR_ENV} must be NAME:ROLE (role viewer, operator or supervisor), got {local!r}")
    return None


def require_identity(key: str | None, role: str, action: str) -> Any:
    """The identity for an action that needs `role`; exits 2 saying how to give one."""
    from agents.contract import ROLE_RANK
    who = identity(key)
    if who is None:
        fail(f"to {action}, the CLI must act as a known identity: pass --key KEY (or set {KEY_ENV}) with a key of "
             f"RISKDESK_API_KEYS / RISKDESK_API_KEYS_FILE, or set {OPERATOR_ENV}=name:{role}")
    if ROLE_RANK[who.role] < ROLE_RANK[role]:
        fail(f"only the {role} role may {action}; {who.name} is {who.role}")
    return who


def open_ledger(ledger_file: Path | None) -> Ledger:
    """--ledger FILE: a fresh in-memory store; otherwise the persistent default seeded with the sample."""
    from tools.ledger import SAMPLE_LEDGER, Ledger, LedgerError, parse_ledger
    try:
        if ledger_file is not None:
            return Ledger.from_file(ledger_file)
        ledger = Ledger.open()
        if ledger.is_empty():
            ledger.load(parse_ledger(SAMPLE_LEDGER.read_bytes(), str(SAMPLE_LEDGER)))
        return ledger
    except LedgerError as e:
        fail(str(e))


def emit(model: BaseModel | list[BaseModel], as_json: bool, render) -> None:  # noqa: ANN001
    if as_json:
        data: Any = [m.model_dump(mode="json") for m in model] if isinstance(model, list) else model.model_dump(mode="json")
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        render(model)


def _kv_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    for k, v in rows:
        t.add_row(k, "—" if v is None else str(v))
    return t


def _y(v: Decimal | None) -> str | None:
    from tools.money import fmt_yuan
    return None if v is None else f"¥{fmt_yuan(v)}"


@app.command()
def limit(customer_id: str, as_of: Optional[str] = AsOfOpt, ledger: Optional[Path] = LedgerOpt,
          json_out: bool = JsonOpt) -> None:
    """Credit limit, used, available, temporary quota and total available (TQ7)."""
    from tools import ToolInputError, limit_lookup
    try:
        result = limit_lookup(open_ledger(ledger), customer_id, parse_as_of(as_of))
    except ToolInputError as e:
        fail(str(e))

    def render(r):  # noqa: ANN001
        if r.outcome == "not_found":
            err.print(say(default_lang(), "Customer {id} not found", id=r.customer_id), markup=False)
            raise typer.Exit(1)
        from console.chat_render import records
        from console.i18n import label
        lang, q = default_lang(), r.temp_quota
        rows = [("status", label("status", r.status.value, lang)), ("base limit", _y(r.base_limit)), ("used", _y(r.used)),
                ("available", _y(r.available)),
                ("temporary quota", say(lang, "{amount} until {day}", amount=_y(q.amount), day=q.expires_on) if q else "—"),
                ("total available", _y(r.total_available)), ("rules", ", ".join(r.rules_applied))]
        records(out, say(lang, "{id} as of {day}", id=r.customer_id, day=r.as_of), [say(lang, k) for k, _ in rows],
                [[v for _, v in rows]])
    emit(result, json_out, render)


@app.command()
def quota(customer_id: str, amount: str, purpose: Optional[str] = typer.Option(None, "--purpose", "-p", help="Category or free text (required)."),
          as_of: Optional[str] = AsOfOpt, ledger: Optional[Path] = LedgerOpt,
          idempotency_key: Optional[str] = typer.Option(None, "--idempotency-key", help="Retries with one key grant once."),
          key: Optional[str] = KeyOpt, json_out: bool = JsonOpt) -> None:
    """Request a temporary quota (TQ1–TQ6): approved, needs_approval or denied (dated today on the persistent store)."""
    from tools import ToolInputError, temp_quota
    try:
        value = Decimal(amount.replace(",", ""))
    except InvalidOperation:
        fail(say(default_lang(), "the amount must be a number of yuan, got {amount}", amount=repr(amount)))
    if purpose is None:  # checked after the amount: the first thing wrong on the line is named first
        fail("--purpose is required: a category (work_tools, education, medical, household) or free text")
    led = open_ledger(ledger)
    who = identity(key)
    try:
        result = temp_quota(led, customer_id, value, purpose, write_day(as_of, led), idempotency_key,
                            requested_by=who.name if who else "cli")
    except ToolInputError as e:
        fail(str(e))

    def render(r):  # noqa: ANN001
        from console.i18n import label
        lang = default_lang()
        rows = [("outcome", label("outcome", r.outcome, lang)), ("deciding rule", r.deciding_rule),
                ("reasons", "; ".join(label("reason", k, lang) for k in r.reasons)), ("amount", _y(r.amount)),
                ("purpose", f"{r.purpose} → {label('purpose', r.purpose_category.value if r.purpose_category else 'unclassified', lang)}"),
                ("cap (TQ3)", _y(r.cap))]
        if r.grant:
            rows.append(("granted", f"{_y(r.grant.amount)} {r.grant.granted_on} → {r.grant.expires_on}"))
        if r.approval_id:
            rows.append(("approval id", r.approval_id))
        if r.active_quota_expires_on:
            rows.append(("active quota until", r.active_quota_expires_on))
        from console.chat_render import records
        records(out, f"{label('task', 'temp_quota', lang)} · {say(lang, '{id} as of {day}', id=r.customer_id, day=r.as_of)}",
                [say(lang, k) for k, _ in rows], [["—" if v is None else str(v) for _, v in rows]])
    emit(result, json_out, render)


@app.command()
def repair(customer_id: str, as_of: Optional[str] = AsOfOpt, ledger: Optional[Path] = LedgerOpt,
           json_out: bool = JsonOpt) -> None:
    """One-time credit repair check (R1–R4), record by record."""
    from tools import ToolInputError, repair_check
    try:
        result = repair_check(open_ledger(ledger), customer_id, parse_as_of(as_of))
    except ToolInputError as e:
        fail(str(e))

    def render(r):  # noqa: ANN001
        from console.chat_render import print_lines, records
        from console.i18n import label
        lang = default_lang()
        print_lines(out, [f"{r.customer_id} · {r.as_of} · {label('outcome', r.outcome, lang)}"])
        if r.records:
            records(out, "", [say(lang, h) for h in ("record", "institution", "amount", "overdue since", "repaid on",
                                                     "status", "rule", "hidden from / repay by")],
                    [[v.record_id, v.institution, _y(v.amount), str(v.overdue_since), str(v.repaid_on or "—"),
                      label("outcome", v.status, lang), v.deciding_rule or "—", str(v.hidden_from or v.repay_by or "—")]
                     for v in r.records])
        print_lines(out, [say(lang, "R4 note")])
    emit(result, json_out, render)


@approvals_app.command("list")
def approvals_list(ledger: Optional[Path] = LedgerOpt, all_: bool = typer.Option(False, "--all", help="Include decided ones."),
                   json_out: bool = JsonOpt) -> None:
    """List pending approvals (or all with --all); on the persistent store, lapsed ones are marked expired."""
    from tools import list_approvals
    led = open_ledger(ledger)
    items = list_approvals(led, None if all_ else "pending", today=None if led.sandbox else today())
    if json_out:
        sys.stdout.write(json.dumps([a.model_dump(mode="json") for a in items], ensure_ascii=False) + "\n")
        return
    from console.chat_render import records
    from console.i18n import label
    lang = default_lang()
    records(out, "", [say(lang, h) for h in ("approval", "customer", "amount", "purpose", "requested", "by", "decide by",
                                             "reasons", "status")],
            [[a.approval_id, a.customer_id, _y(a.amount), a.purpose, str(a.requested_on), a.requested_by or "—",
              str(a.decide_by), "; ".join(label("reason", k, lang) for k in a.reasons), label("outcome", a.status, lang)]
             for a in items])


ByOpt = typer.Option(None, "--by", hidden=True, help="No longer accepted: the CLI acts as a known identity (--key).")


def _decider(key: str | None, by: str | None, action: str) -> Any:
    if by is not None:
        fail(f"--by no longer names who decides: to {action}, act as a known identity with --key KEY (or "
             f"{KEY_ENV}), or {OPERATOR_ENV}=name:supervisor; the decision is recorded under that name")
    return require_identity(key, "supervisor", action)


@approvals_app.command("approve")
def approvals_approve(approval_id: str, key: Optional[str] = KeyOpt, as_of: Optional[str] = AsOfOpt,
                      ledger: Optional[Path] = LedgerOpt, json_out: bool = JsonOpt, by: Optional[str] = ByOpt) -> None:
    """Approve a pending temporary quota as your identity (a supervisor who did not request it): grants the
    requested amount for 30 days from today (TQ5, TQ6)."""
    from tools import ApprovalError, PermissionDenied, ToolInputError, approve as approve_tool
    who = _decider(key, by, "approve")
    led = open_ledger(ledger)
    try:
        result = approve_tool(led, approval_id, who.name, write_day(as_of, led))
    except (ApprovalError, ToolInputError, PermissionDenied) as e:
        fail(str(e))
    emit(result, json_out, lambda r: out.print(
        f"{r.approval.approval_id}: {r.approval.status} by {r.approval.decided_by}" + ("" if r.changed else " (already)") +
        (f", {_y(r.grant.amount)} valid {r.grant.granted_on} → {r.grant.expires_on}" if r.grant else "")))


@approvals_app.command("reject")
def approvals_reject(approval_id: str, key: Optional[str] = KeyOpt, reason: str = typer.Option("", "--reason"),
                     as_of: Optional[str] = AsOfOpt, ledger: Optional[Path] = LedgerOpt, json_out: bool = JsonOpt,
                     by: Optional[str] = ByOpt) -> None:
    """Reject a pending temporary quota as your identity (a supervisor)."""
    from tools import ApprovalError, PermissionDenied, ToolInputError, reject as reject_tool
    who = _decider(key, by, "reject")
    led = open_ledger(ledger)
    try:
        result = reject_tool(led, approval_id, who.name, reason, write_day(as_of, led))
    except (ApprovalError, ToolInputError, PermissionDenied) as e:
        fail(str(e))
    emit(result, json_out, lambda r: out.print(f"{r.approval.approval_id}: {r.approval.status}" + ("" if r.changed else " (already)")))


# Commands that live in their own modules register themselves on `app` when imported.
from console import operator as _operator  # noqa: E402,F401
from console import eval_cli as _eval_cli  # noqa: E402,F401
from console import serve_cli as _serve_cli  # noqa: E402,F401
from console.kb_cli import kb_app  # noqa: E402

app.add_typer(kb_app, name="kb", help="The credit-policy knowledge base: ingest, search, bench.")
from console.batch_cli import batch_app  # noqa: E402

app.add_typer(batch_app, name="batch")
from console.webhooks_cli import webhooks_app  # noqa: E402

app.add_typer(webhooks_app, name="webhooks")
