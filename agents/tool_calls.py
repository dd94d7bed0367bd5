"""Direct calls of a registered tool (tools/registry.py), audited like a turn: `POST /v1/tools/NAME`
(console/tools_http.py), `riskdesk tool NAME …` (console/tool_cli.py) and MCP's tools/call (console/mcp_tools.py).

One audit record per call, answered or refused (a role that may not call the tool, input that does not
validate, an unknown customer): who called (caller, role, the client), which tool, the input, the outcome, the
deciding rule and the clauses of the rules applied, under a trace id of its own. ID and phone numbers (and the
ledger's customer names) are masked in every string of it (agents/audit.masked, tools/privacy.py). A refused call
writes this record and nothing else.

The record reads as a turn's in `riskdesk audit show` and the desk's audit views: intent the tool's (`tool` for
a lender's own), the single tool call with its arguments and result, planner the channel (`http`, `cli`,
`mcp`), agents `<channel>_client:<client>`, thread `mcp` for MCP (as before) and `direct-http` / `direct-cli`.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from agents.audit import AuditRecord, masked, now_utc
from agents.contract import DIRECT_CALL_THREADS, GuardVerdict, ToolCall
from tools.registry import registry

Channel = Literal["http", "cli", "mcp"]
THREADS = DIRECT_CALL_THREADS
BUILTIN_INTENTS = ("limit_lookup", "temp_quota", "repair_check")


@dataclass(frozen=True)
class Direct:
    """Who makes a direct call, and through what."""
    channel: Channel
    caller: str
    role: str
    client: str = "unknown"


def clauses(tool: str, result: dict[str, Any]) -> list[str]:
    """The clause ids of the rules the result says were applied (and the deciding rule), as the tool declares
    them; a result carries its own clause ids when the tool reports them (`clauses`, `citations`)."""
    t = registry().get(tool)
    rules = t.rules if t is not None else {}
    named = [*(result.get("rules_applied") or []), result.get("deciding_rule")]
    ids = [rules[r] for r in named if isinstance(r, str) and r in rules]
    ids += [c for c in result.get("clauses") or [] if isinstance(c, str)]
    return list(dict.fromkeys(ids))


def record(who: Direct, tool: str, args: dict[str, Any], *, result: dict[str, Any] | None = None,
           error: str | None = None, status: int | None = None, reply: str | None = None, as_of: Any = None,
           thread: str | None = None) -> AuditRecord:
    """The audit record of one direct call: `result` when it was answered, else `error` (and the status a
    caller saw: 403 a role that may not, 422 bad input)."""
    args = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in args.items()}
    res = result if result is not None else {"outcome": "refused", "error": error or "refused",
                                             **({"status": status} if status else {})}
    outcome = res.get("outcome")
    cid = args.get("customer_id") if isinstance(args.get("customer_id"), str) else res.get("customer_id")
    plan = {"intent": tool if tool in BUILTIN_INTENTS else "tool", "customer_id": cid, "tool": tool,
            "channel": who.channel, "outcome": outcome, "deciding_rule": res.get("deciding_rule")}
    if reply is None:
        rule = f" ({res['deciding_rule']})" if res.get("deciding_rule") else ""
        reply = f"{tool}: {outcome}{rule}" if result is not None else f"{tool}: refused / 已拒绝: {error}"
    day = as_of or args.get("as_of") or res.get("as_of")
    return AuditRecord(
        trace_id=uuid.uuid4().hex, thread_id=thread or THREADS[who.channel], created_at=now_utc(),
        caller=who.caller, role=who.role, as_of=str(day or ""),
        message=f"{who.channel} {who.client}: {tool} " + json.dumps(args, ensure_ascii=False, default=str)[:2000],
        plan=plan, planner=who.channel, agents=[f"{who.channel}_client:{who.client}"],
        cited=clauses(tool, res) if result is not None else [],
        tool_calls=[ToolCall(tool=tool, args=args, result=res)], reply=reply,
        guard=GuardVerdict(grounded=True, checked_claims=0))


def write(audit: Any, ledger: Any, rec: AuditRecord, names: tuple[str, ...] | None = None) -> str:
    """Store the record masked (the ledger's customer names too, `names` when the caller holds them already;
    its customer ids are spared); its trace id."""
    keep = getattr(ledger, "has_customer", None)
    if names is None:
        try:
            names = tuple(ledger.names()) if ledger is not None else ()
        except Exception:  # noqa: BLE001 - a ledger that cannot list names still gets ID and phone numbers masked
            names = ()
    audit.write(masked(rec, names, keep))
    return rec.trace_id


def audit_call(desk: Any, who: Direct, tool: str, args: dict[str, Any], **kw: Any) -> str:
    """record() then write() into a desk's audit log (its ledger's names masked): the stored record's trace id."""
    return write(desk.audit, desk.ledger, record(who, tool, args, **kw), getattr(desk, "_names", None))
