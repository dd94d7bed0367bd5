"""`riskdesk`: the operator's command line. Tables for people, `--json` for scripts.

Every JSON shape printed here is a pydantic model's `model_dump(mode="json")`. The shared app, options and
identity live in console/cli_base.py; the commands of other modules register on it when imported below.
The tools (SQLAlchemy, pydantic) and the agent are imported inside the commands that use them, so
`riskdesk --help` and the commands that need neither start fast.
"""
from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from console.cli_base import (  # noqa: F401 - re-exported: `from console.cli import app` is the entry point
    KEY_ENV, OPERATOR_ENV, AsOfOpt, JsonOpt, KeyOpt, LedgerOpt, _kv_table, _y, app, approvals_app, emit, err, fail,
    identity, open_ledger, out, parse_as_of, require_identity, today, write_day,
)
from agents.i18n import default_lang, say


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
        from agents.i18n import label
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
        from agents.i18n import label
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
        from agents.i18n import label
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
    from agents.i18n import label
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
from console import db_cli as _db_cli  # noqa: E402,F401
from console import operator as _operator  # noqa: E402,F401
from console import eval_cli as _eval_cli  # noqa: E402,F401
from console import serve_cli as _serve_cli  # noqa: E402,F401
from console.kb_cli import kb_app  # noqa: E402

app.add_typer(kb_app, name="kb", help="The knowledge base: policy, your own documents, statutes; search, bench.")
from console.batch_cli import batch_app  # noqa: E402

app.add_typer(batch_app, name="batch")
from console.webhooks_cli import webhooks_app  # noqa: E402

app.add_typer(webhooks_app, name="webhooks")

from console import policy_cli as _policy_cli  # noqa: E402
from console import tool_cli as _tool_cli  # noqa: E402,F401

app.add_typer(_policy_cli.policy_app, name="policy")
_policy_cli.install(app, _eval_cli.eval_app, batch_app)  # --policy FILE on every command that decides
from console import mcp_cli as _mcp_cli  # noqa: E402,F401
