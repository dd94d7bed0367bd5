"""What every `riskdesk` command module shares: the Typer app, the consoles, the common options, and who
the CLI acts as. Command modules (console/cli.py, operator.py, eval_cli.py, serve_cli.py, ...) import
from here; console/cli.py imports them to register their commands, so no module imports its importer."""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

# The tools (SQLAlchemy, pydantic) and the agent are imported inside the commands that use them, so
# `riskdesk --help` and the commands that need neither start fast.
if TYPE_CHECKING:
    from pydantic import BaseModel

    from tools import Ledger


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


def _use_db(url: str | None) -> str | None:
    """--db URL: the shared database for this process and the processes it starts (storage/__init__.py)."""
    if url:
        os.environ["RISKDESK_DATABASE_URL"] = url
    return url


DbOpt = typer.Option(None, "--db", callback=_use_db, metavar="URL",
                     help="The shared database (e.g. postgresql+psycopg://user@host/riskdesk): ledger, approvals, "
                          "audit log, thread checkpoints [default: $RISKDESK_DATABASE_URL, else SQLite files under "
                          "$RISKDESK_HOME].")


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
        from console.api_keys import KeyConfigError, key_holder, keys_from_env
        try:
            keys = keys_from_env()
        except KeyConfigError as e:
            fail(str(e))
        who = key_holder(token, keys)
        if who is None:
            fail("unknown API key: it is not among the keys of RISKDESK_API_KEYS / RISKDESK_API_KEYS_FILE")
        return who
    if local := os.environ.get(OPERATOR_ENV):
        from console.api_keys import ApiKey
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
    from tools.ledger import Ledger, LedgerError
    try:
        if ledger_file is not None:
            return Ledger.from_file(ledger_file)
        ledger = Ledger.open()
        if ledger.is_empty():
            ledger.seed_sample()  # once, even when several processes start together
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
