"""`riskdesk tool NAME key=value … [--json]`: call any registered tool (tools/registry.py), built-in or a lender's
own, with its pydantic input; `riskdesk tool list` shows what each declares. Every call is audited like a turn
(agents/tool_calls.py), refused ones too; its trace id is printed on stderr (`riskdesk audit show ID`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from console.cli_base import JsonOpt, KeyOpt, LedgerOpt, app, err, fail, identity, open_ledger, out, today


@app.command("tool")
def tool_cmd(name: str = typer.Argument(..., help="A registered tool's name, or `list`."),
             args: Optional[List[str]] = typer.Argument(None, help="The tool's input as key=value (as_of defaults to today)."),
             ledger: Optional[Path] = LedgerOpt, key: Optional[str] = KeyOpt, json_out: bool = JsonOpt) -> None:
    """Call a registered tool with key=value arguments (its input model validates them), or list the tools."""
    from tools.errors import PermissionDenied, ToolInputError
    from tools.registry import RegistryError, registry
    try:
        tools = registry()
    except RegistryError as e:
        fail(str(e))
    if name == "list":
        rows = [{"name": t.name, "role": t.role, "writes": t.writes, "rules": t.rules, "source": t.source,
                 "description": t.description} for t in tools.values()]
        if json_out:
            sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
            return
        table = Table("tool", "role", "writes", "rules (clauses)", "from", title="Registered tools / 已注册工具",
                      title_justify="left")
        for r in rows:
            table.add_row(r["name"], r["role"], "yes" if r["writes"] else "no",
                          ", ".join(f"{k} ({v})" for k, v in r["rules"].items()), r["source"])
        out.print(table)
        return
    tool = tools.get(name)
    if tool is None:
        fail(f"no tool {name!r}; registered: {', '.join(tools)}")
    kwargs: dict[str, str] = {}
    for a in args or []:
        k, sep, v = a.partition("=")
        if not sep or not k:
            fail(f"arguments are key=value, got {a!r}")
        kwargs[k.strip()] = v
    led = open_ledger(ledger)
    who = identity(key)
    caller, role = (who.name, who.role) if who else ("cli", "viewer")

    def refuse(text: str, status: int) -> None:  # audited (agents/tool_calls.py), then the usual error
        trace = _audit(led, Direct("cli", caller, role, "riskdesk-cli"), tool.name, kwargs, error=text, status=status)
        fail(f"{text} (trace {trace})")

    from agents.contract import ROLE_RANK
    from agents.tool_calls import Direct
    if who is None and tool.role != "viewer":
        refuse(f"to run {name}, the CLI must act as a known identity: pass --key KEY (or set RISKDESK_API_KEY) with a "
               f"key of RISKDESK_API_KEYS / RISKDESK_API_KEYS_FILE, or set RISKDESK_OPERATOR=name:{tool.role}", 403)
    if ROLE_RANK[role] < ROLE_RANK[tool.role]:
        refuse(f"only the {tool.role} role may run {name}; {caller} is {role}", 403)
    if unknown := set(kwargs) - set(tool.input.model_fields):
        refuse(f"{name} has no input {sorted(unknown)[0]!r}; its inputs: {', '.join(tool.input.model_fields)}", 422)
    call: dict[str, object] = dict(kwargs)
    if "as_of" in tool.input.model_fields:
        from tools.dates import parse_day
        given = kwargs.get("as_of")
        try:
            day = parse_day(given) if given is not None else today()
        except ValueError as e:
            refuse(f"--as-of must be a date like 2026-01-15: {e}", 422)
        if tool.writes and not led.sandbox and day != today():
            refuse(f"{name} writes: on the persistent store it is dated today ({today()}); leave as_of out", 422)
        call["as_of"] = day
    if "requested_by" in tool.fn.__code__.co_varnames:
        call["requested_by"] = caller
    try:
        result = tool(led, **call)
    except (ToolInputError, PermissionDenied) as e:
        refuse(str(e), 403 if isinstance(e, PermissionDenied) else 422)
    trace = _audit(led, Direct("cli", caller, role, "riskdesk-cli"), tool.name, kwargs,
                   result=result.model_dump(mode="json"))
    err.print(f"[dim]trace {trace}[/]", highlight=False)
    if json_out:
        sys.stdout.write(result.model_dump_json() + "\n")
    else:
        out.print_json(result.model_dump_json())


def _audit(ledger: object, who: object, tool: str, args: dict, **kw: object) -> str:
    """The call's audit record in the audit store `riskdesk audit` reads (agents/tool_calls.py)."""
    from agents.audit import AuditLog
    from agents.tool_calls import record, write
    return write(AuditLog(), ledger, record(who, tool, args, **kw))  # type: ignore[arg-type]
