"""riskdesk's guarded tools as a Model Context Protocol server (the official `mcp` SDK's low-level Server).

Tools: `ask` (one guarded turn), `limit_lookup`, `temp_quota`, `repair_check`, `policy_search`, and for
supervisors `approvals_list` (operators too) and `approval_decide`, and every other tool registered in
`riskdesk.tools` (a lender's own, tools/registry.py) with the role it declares. Each tool's input schema is its pydantic
model's JSON schema, its output schema the result model's (the same models as the REST API and the CLI's
`--json`); a result is structured content, with a short text in the caller's language beside it.

Who calls: over HTTP (`/mcp` in `riskdesk serve`, console/mcp_http.py) the request's API key, with its role,
exactly as for the REST API; over stdio (`riskdesk mcp`) the local operator's configured identity. A call
the role may not make, bad arguments, an unknown customer or a date that does not exist give a tool error
(`is_error`) that says what is wrong, and change nothing. Every call is written to the audit log with the
caller's name and the MCP client's name, refused ones too (agents/tool_calls.py).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, Literal

import mcp_types as types
from anyio import to_thread
from mcp.server.lowlevel import Server
from pydantic import BaseModel, Field, ValidationError

from agents.clock import AsOfNotAllowed
from agents.contract import ROLE_RANK, ApprovalDecision, AskRequest, AskResult
from knowledge.models import ClauseHit
from tools import ApprovalError, PermissionDenied, ToolInputError
from tools.approvals import Approval
from tools.dates import AsOf
from tools.limit_lookup import LimitLookupInput, LimitLookupResult, limit_lookup
from tools.money import fmt_yuan
from tools.repair_check import RepairCheckInput, RepairCheckResult, repair_check
from tools.registry import Tool, registry
from tools.temp_quota import TempQuotaInput, TempQuotaResult, temp_quota


log = logging.getLogger("riskdesk.mcp")


def _field(model: type[BaseModel], name: str) -> Any:
    import copy
    return copy.deepcopy(model.model_fields[name])


class PolicySearchInput(BaseModel):
    """Search the credit-policy knowledge base: the clauses in force on a date, with their ids to cite."""

    query: str = Field(min_length=1, max_length=500, description="A question or keywords, Chinese or English.")
    as_of: AsOf
    k: int = Field(default=5, ge=1, le=10, description="How many clauses.")


class PolicySearchResult(BaseModel):
    as_of: dt.date
    clauses: list[ClauseHit]


class ApprovalsListInput(BaseModel):
    """Temporary-quota approvals (pending by default); lapsed pending ones are marked expired as they are listed."""

    status: Literal["pending", "approved", "rejected", "expired", "all"] = "pending"


class ApprovalList(BaseModel):
    approvals: list[Approval]


class ApprovalDecideInput(BaseModel):
    """Approve or reject a pending temporary quota as yourself (a supervisor who did not request it)."""

    approval_id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")
    decision: Literal["approve", "reject"] = _field(ApprovalDecision, "decision")
    reason: str = _field(ApprovalDecision, "reason")
    as_of: str | None = _field(ApprovalDecision, "as_of")


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    client: str = "unknown"
    language: str = "en"


@dataclass(frozen=True)
class McpTool:
    name: str
    role: str
    input: type[BaseModel]
    output: type[BaseModel]
    run: Callable[[Any, Any, Caller], tuple[BaseModel, str]]
    title: str
    declared: dict[str, Any] | None = None  # a registered tool's own declaration: writes, rules and their clauses

    def spec(self) -> types.Tool:
        """The listing: name, schemas, and in `_meta` the role a caller needs (and what a registered tool declares)."""
        return types.Tool(name=self.name, title=self.title, description=(self.input.__doc__ or self.name).strip(),
                          input_schema=self.input.model_json_schema(),
                          output_schema=self.output.model_json_schema(mode="serialization"),
                          meta={"riskdesk/role": self.role, **({"riskdesk/tool": self.declared} if self.declared else {})})


def _y(v: Any) -> str:
    return "—" if v is None else f"¥{fmt_yuan(v)}"


def _unknown(cid: str) -> ToolInputError:
    return ToolInputError(f"customer_id: unknown customer {cid!r}; nothing was done / 未找到客户 {cid}，未做任何操作")


def _say(who: Caller, zh: str, en: str) -> str:
    return zh if who.language == "zh" else en


def _limit(desk: Any, a: LimitLookupInput, who: Caller) -> tuple[BaseModel, str]:
    r = limit_lookup(desk.ledger, a.customer_id, a.as_of)
    if r.outcome == "not_found":
        raise _unknown(a.customer_id)
    return r, _say(who, f"{r.customer_id} 截至 {r.as_of}：可用总额度 {_y(r.total_available)}（基础额度 {_y(r.base_limit)}，已用 "
                        f"{_y(r.used)}，临时额度 {_y(r.temp_quota.amount if r.temp_quota else None)}）",
                   f"{r.customer_id} as of {r.as_of}: total available {_y(r.total_available)} (base limit "
                   f"{_y(r.base_limit)}, used {_y(r.used)}, temporary quota {_y(r.temp_quota.amount if r.temp_quota else None)})")


def _repair(desk: Any, a: RepairCheckInput, who: Caller) -> tuple[BaseModel, str]:
    r = repair_check(desk.ledger, a.customer_id, a.as_of)
    if r.outcome == "not_found":
        raise _unknown(a.customer_id)
    n = len(r.records)
    return r, _say(who, f"{r.customer_id} 截至 {r.as_of}：{r.outcome}（{n} 条逾期记录中 {r.eligible_count} 条符合）。"
                        "免申即享，无需申请、不收费、无需中介（R4）。",
                   f"{r.customer_id} as of {r.as_of}: {r.outcome} ({r.eligible_count} of {n} records qualify). "
                   "Nothing to apply for, no fee, no agent (R4).")


def _quota(desk: Any, a: TempQuotaInput, who: Caller) -> tuple[BaseModel, str]:
    today = desk.today()
    if not desk.sandbox and a.as_of != today:
        raise AsOfNotAllowed(f"as_of: {a.as_of} cannot date a grant on the persistent store: grants are dated today "
                             f"({today}) by the service's clock; nothing was written / 持久账本的额度只能以今天为日期")
    key = f"{who.name}:{a.idempotency_key}" if a.idempotency_key else None  # scoped per caller, like the REST API
    r = temp_quota(desk.ledger, a.customer_id, a.amount, a.purpose, a.as_of, key, requested_by=who.name)
    if r.outcome == "not_found":
        raise _unknown(a.customer_id)
    extra = f" {r.approval_id}" if r.approval_id else ""
    return r, _say(who, f"{r.customer_id} 临时额度 {_y(r.amount)}：{r.outcome}（{r.deciding_rule}）{extra}",
                   f"{r.customer_id} temporary quota {_y(r.amount)}: {r.outcome} ({r.deciding_rule}){extra}")


def _policy(desk: Any, a: PolicySearchInput, who: Caller) -> tuple[BaseModel, str]:
    hits = desk.kb.search(a.query, as_of=a.as_of, k=a.k)
    ids = ", ".join(h.clause_id for h in hits) or "—"
    return PolicySearchResult(as_of=a.as_of, clauses=hits), _say(
        who, f"截至 {a.as_of} 有效的 {len(hits)} 条条款：{ids}", f"{len(hits)} clauses in force on {a.as_of}: {ids}")


def _approvals(desk: Any, a: ApprovalsListInput, who: Caller) -> tuple[BaseModel, str]:
    items = desk.approvals(None if a.status == "all" else a.status)
    return ApprovalList(approvals=items), _say(who, f"{len(items)} 条审批（{a.status}）", f"{len(items)} approvals ({a.status})")


def _decide(desk: Any, a: ApprovalDecideInput, who: Caller) -> tuple[BaseModel, str]:
    r = desk.decide(a.approval_id, ApprovalDecision(decision=a.decision, supervisor=who.name, reason=a.reason,
                                                   as_of=a.as_of), role=who.role, caller=who.name)
    return r, r.answer


def _ask(desk: Any, a: AskRequest, who: Caller) -> tuple[BaseModel, str]:
    role = a.role if "role" in a.model_fields_set else who.role
    if ROLE_RANK[role] > ROLE_RANK[who.role]:
        raise PermissionDenied(f"{who.name} is {who.role}; it cannot act as {role} / 角色不能高于自身")
    if a.thread_id and (row := desk.audit.thread(a.thread_id)) is not None and row.owner != who.name \
            and ROLE_RANK[who.role] < ROLE_RANK["supervisor"]:
        raise ToolInputError(f"thread_id: no thread with id {a.thread_id!r}")
    r = desk.ask(a.message, role=role, thread_id=a.thread_id, as_of=a.as_of, caller=who.name, dry_run=a.dry_run)
    return r, r.answer


def _registered(tool: Tool) -> McpTool:
    """A registered tool riskdesk has no MCP wrapper of its own for (a lender's tool): its own input and result
    models, the role it declares, its reply template for the text when it has one."""
    def run(desk: Any, a: BaseModel, who: Caller) -> tuple[BaseModel, str]:
        args = a.model_dump()
        if tool.writes and isinstance(args.get("as_of"), dt.date) and not desk.sandbox and args["as_of"] != desk.today():
            raise AsOfNotAllowed(f"as_of: {args['as_of']} cannot date a write on the persistent store: it is dated "
                                 f"today ({desk.today()}); nothing was written / 持久账本只能以今天为日期")
        if "requested_by" in tool.fn.__code__.co_varnames:
            args["requested_by"] = who.name
        r = tool(desk.ledger, **args)
        data = r.model_dump(mode="json")
        if data.get("outcome") == "not_found" and isinstance(args.get("customer_id"), str):
            raise _unknown(args["customer_id"])
        if tool.reply is not None:
            try:
                return r, tool.reply(who.language, {"tool": tool.name, **data})
            except Exception:  # noqa: BLE001 - the template is the lender's: fall back to the plain summary
                log.exception("reply template of %s failed", tool.name)
        rule = f"（{data['deciding_rule']}）" if data.get("deciding_rule") else ""
        return r, _say(who, f"{tool.name}：{data.get('outcome', '—')}{rule}",
                       f"{tool.name}: {data.get('outcome', '—')}{rule.replace('（', ' (').replace('）', ')')}")

    title = tool.description.splitlines()[0][:80] if tool.description else tool.name
    return McpTool(tool.name, tool.role, tool.input, tool.output, run, title,
                   {"writes": tool.writes, "rules": dict(tool.rules), "source": tool.source})


def catalog() -> dict[str, McpTool]:
    """The MCP tools: riskdesk's own (TOOLS) and every other registered tool (tools/registry.py), read when asked,
    so an installed lender's tool is listed and an uninstalled one is not."""
    return {**TOOLS, **{n: _registered(t) for n, t in registry().items() if n not in TOOLS}}


TOOLS: dict[str, McpTool] = {t.name: t for t in (
    McpTool("ask", "viewer", AskRequest, AskResult, _ask, "Ask riskdesk (one guarded turn)"),
    McpTool("limit_lookup", "viewer", LimitLookupInput, LimitLookupResult, _limit, "Credit limit lookup"),
    McpTool("repair_check", "viewer", RepairCheckInput, RepairCheckResult, _repair, "One-time credit repair check"),
    McpTool("policy_search", "viewer", PolicySearchInput, PolicySearchResult, _policy, "Credit-policy clauses"),
    McpTool("temp_quota", "operator", TempQuotaInput, TempQuotaResult, _quota, "Request a temporary quota"),
    McpTool("approvals_list", "operator", ApprovalsListInput, ApprovalList, _approvals, "Temporary-quota approvals"),
    McpTool("approval_decide", "supervisor", ApprovalDecideInput, AskResult, _decide, "Approve or reject"),
)}


def _problem(e: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in err['loc']) or '(arguments)'}: {err['msg']}" for err in e.errors()]
    return "invalid arguments / 参数无效: " + "; ".join(parts) + "; nothing was done"


def client_name(ctx: Any) -> str:
    """The MCP client's self-declared name (initialize's clientInfo), or 'unknown'."""
    try:
        info = ctx.session.client_params.client_info
        return f"{info.name}/{info.version}" if info.version else info.name
    except AttributeError:
        return "unknown"


def _audit(desk: Any, who: Caller, tool: str, args: dict[str, Any], result: dict[str, Any] | None, text: str,
           thread: str | None) -> None:
    """One record per call, answered (`result`) or refused (`text` says why), as every direct tool call
    (agents/tool_calls.py): thread `mcp`, agents `mcp_client:<client>`."""
    from agents.tool_calls import Direct, audit_call
    direct = Direct("mcp", who.name, who.role, who.client)
    if result is None:
        audit_call(desk, direct, tool, args, error=text, reply=text, as_of=args.get("as_of") or desk.today())
    else:
        audit_call(desk, direct, tool, args, result=result, reply=text, thread=thread,
                   as_of=args.get("as_of") or desk.today())


def build_server(get_desk: Callable[[], Any], identify: Callable[[Any], Caller]) -> Server:
    """The MCP server over a desk: `get_desk()` the Desk to serve (or raise when not ready), `identify(ctx)`
    the caller of one request (or raise PermissionDenied)."""

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[t.spec() for t in catalog().values()])

    def error(text: str) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        tools = catalog()
        tool, args = tools.get(params.name), dict(params.arguments or {})
        if tool is None:
            return error(f"unknown tool {params.name!r}; tools: {', '.join(tools)} / 未知工具")
        try:
            who = identify(ctx)
        except PermissionDenied as e:
            return error(str(e))
        desk = get_desk()

        def run() -> types.CallToolResult:
            if ROLE_RANK[who.role] < ROLE_RANK[tool.role]:
                text = (f"{tool.name} needs the {tool.role} role; {who.name} is {who.role}; nothing was done / "
                        f"{tool.name} 需要 {tool.role} 角色")
                _audit(desk, who, tool.name, args, None, text, None)
                return error(text)
            try:
                model = tool.input.model_validate(args)
                result, text = tool.run(desk, model, who)
            except ValidationError as e:
                text = _problem(e)
            except (ToolInputError, ApprovalError, PermissionDenied, AsOfNotAllowed) as e:
                text = str(e)
            except Exception as e:  # noqa: BLE001 - a tool error that says so, never a protocol error
                log.exception("MCP tool %s failed", tool.name)
                text = f"internal error ({type(e).__name__}); nothing more was done; see the service log / 内部错误"
            else:
                data = result.model_dump(mode="json")
                _audit(desk, who, tool.name, args, data, text, data.get("thread_id"))
                return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=data)
            _audit(desk, who, tool.name, args, None, text, None)
            return error(text)

        return await to_thread.run_sync(run)

    return Server("riskdesk", version="0.1.0", title="riskdesk",
                  instructions="Risk decisions for consumer credit: rules decide, every figure comes from the ledger. "
                               "风控决策：规则决定，数字来自账本。",
                  on_list_tools=list_tools, on_call_tool=call_tool)
