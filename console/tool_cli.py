"""`riskdesk tool NAME key=value … [--json]`: call any registered tool (tools/registry.py), built-in or a lender's
own, with its pydantic input; `riskdesk tool list` shows what each declares."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from console.cli_base import JsonOpt, KeyOpt, LedgerOpt, app, fail, identity, open_ledger, out, parse_as_of, require_identity, today


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
    if unknown := set(kwargs) - set(tool.input.model_fields):
        fail(f"{name} has no input {sorted(unknown)[0]!r}; its inputs: {', '.join(tool.input.model_fields)}")
    led = open_ledger(ledger)
    who = require_identity(key, tool.role, f"run {name}") if tool.role != "viewer" else identity(key)
    if "as_of" in tool.input.model_fields:
        day = parse_as_of(kwargs.pop("as_of", None))
        if tool.writes and not led.sandbox and day != today():
            fail(f"{name} writes: on the persistent store it is dated today ({today()}); leave as_of out")
        kwargs["as_of"] = day  # type: ignore[assignment]
    if "requested_by" in tool.fn.__code__.co_varnames:
        kwargs["requested_by"] = who.name if who else "cli"
    try:
        result = tool(led, **kwargs)
    except (ToolInputError, PermissionDenied) as e:
        fail(str(e))
    if json_out:
        sys.stdout.write(result.model_dump_json() + "\n")
    else:
        out.print_json(result.model_dump_json())
