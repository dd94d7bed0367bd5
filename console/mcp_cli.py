"""`riskdesk mcp`: riskdesk's tools for an MCP client over stdio (console/mcp_tools.py).

It acts as the local operator's configured identity (RISKDESK_OPERATOR=name:role, or an API key with --key /
RISKDESK_API_KEY), like the rest of the CLI. Replies are in Chinese when RISKDESK_LANG (else LANG) starts
with zh. Nothing but the protocol is written to stdout.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from console.cli_base import KEY_ENV, OPERATOR_ENV, KeyOpt, LedgerOpt, app, fail, identity


@app.command("mcp")
def mcp_stdio(ledger: Optional[Path] = LedgerOpt, key: Optional[str] = KeyOpt) -> None:
    """Serve riskdesk's tools over MCP on stdio (add this command to an MCP client's configuration)."""
    who = identity(key)
    if who is None:
        fail(f"riskdesk mcp acts as a known identity: set {OPERATOR_ENV}=name:role, or pass --key KEY (or {KEY_ENV}) "
             "with a key of RISKDESK_API_KEYS / RISKDESK_API_KEYS_FILE")
    import anyio
    from mcp.server.stdio import stdio_server

    from agents.desk import Desk
    from console.mcp_tools import Caller, build_server, client_name
    desk = Desk.open(ledger_file=ledger)
    lang = "zh" if (os.environ.get("RISKDESK_LANG") or os.environ.get("LANG", "")).lower().startswith("zh") else "en"
    server = build_server(lambda: desk, lambda ctx: Caller(who.name, who.role, client_name(ctx), lang))

    async def serve() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(serve)
