"""HTTP routes of the registered tools (tools/registry.py): GET /v1/tools lists them, POST /v1/tools/NAME calls one
with its own pydantic input as the body and its own result as the response (both in the OpenAPI document).

The role a tool declares is required; a tool that writes is dated today by the deployment's clock on a
persistent store. A lender's tool appears here once its package is installed, and is gone once it is not.
Every call is audited like a turn (agents/tool_calls.py), refused ones too (a role that may not: 403; a body that
does not validate: 422); the response's X-Trace-Id header names its record.
"""
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from tools.errors import PermissionDenied, ToolInputError
from tools.registry import Tool, registry

TRACE_HEADER = "X-Trace-Id"  # the audit record of this call (agents/tool_calls.py): `riskdesk audit show ID`
TRACED = {"description": "The audit record of this call (`riskdesk audit show ID`, GET /v1/audit/ID); a refusal "
                         "for the role (403) carries it too", "schema": {"type": "string"}}


def _who(who: Any, request: Request) -> Any:
    from agents.tool_calls import Direct
    client = (request.headers.get("user-agent") or "unknown")[:80]
    return Direct("http", who.name, who.role, client)


def _args(raw: bytes) -> dict[str, Any]:
    import json
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {"body": raw[:500].decode("utf-8", "replace")}
    return data if isinstance(data, dict) else {"body": data}


def _problem(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in e.errors())


def _endpoint(tool: Tool, ready_desk: Callable[..., Any], guard: Callable[..., Any]) -> Callable[..., Any]:
    def call(body, response, request, who, desk):  # noqa: ANN001,ANN202 - typed below, per tool
        from agents.tool_calls import audit_call
        args = body.model_dump()
        if tool.writes and "as_of" in args and not desk.ledger.sandbox:
            args["as_of"] = desk.today()  # a write on the persistent store is dated today
        if "requested_by" in tool.fn.__code__.co_varnames:
            args["requested_by"] = who.name
        direct, given = _who(who, request), body.model_dump(mode="json")
        try:
            result = tool(desk.ledger, **args)
        except (ToolInputError, PermissionDenied) as e:
            status = 403 if isinstance(e, PermissionDenied) else 422
            trace = audit_call(desk, direct, tool.name, given, error=str(e), status=status, as_of=args.get("as_of"))
            raise HTTPException(status, str(e), headers={TRACE_HEADER: trace}) from None
        response.headers[TRACE_HEADER] = audit_call(desk, direct, tool.name, given,
                                                    result=result.model_dump(mode="json"))
        return result

    call.__annotations__ = {"body": tool.input, "response": Response, "request": Request,
                            "who": Annotated[Any, Depends(guard)], "desk": Annotated[Any, Depends(ready_desk)],
                            "return": tool.output}
    call.__name__ = f"tool_{tool.name}"
    call.__doc__ = f"{tool.description} (role: {tool.role}; {'writes' if tool.writes else 'reads only'}; " \
                   f"rules: {', '.join(tool.rules) or '—'})"
    return call


def _guard(tool: Tool, needs: Callable[[str], Any], ready_desk: Callable[..., Any]) -> Callable[..., Any]:
    """The role the tool declares, then the body read strictly as JSON, as the schema says (a date is a date
    string, not a number of days). A refusal is audited (agents/tool_calls.py) before it is answered."""
    async def check(request: Request, who: Annotated[Any, Depends(needs("viewer"))],
                    desk: Annotated[Any, Depends(ready_desk)]) -> Any:
        from agents.contract import ROLE_RANK
        from agents.tool_calls import audit_call
        raw = await request.body()
        if ROLE_RANK[who.role] < ROLE_RANK[tool.role]:
            text = f"this needs the {tool.role} role; key {who.name!r} is {who.role}"
            trace = audit_call(desk, _who(who, request), tool.name, _args(raw), error=text, status=403)
            raise HTTPException(403, text, headers={TRACE_HEADER: trace})
        try:
            tool.input.model_validate_json(raw or b"{}", strict=True)
        except ValidationError as e:
            audit_call(desk, _who(who, request), tool.name, _args(raw), error=_problem(e), status=422)
            raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from None
        return who
    return check


def tools_router(needs: Callable[[str], Any] | None = None, ready_desk: Callable[..., Any] | None = None) -> APIRouter:
    """A fresh router per app, over the tools registered when the app is made."""
    if needs is None or ready_desk is None:
        from console.api import state
        needs, ready_desk = state.needs, state.ready_desk
    router = APIRouter(prefix="/v1/tools", tags=["tools"])

    def list_tools(who: Annotated[Any, Depends(needs("viewer"))]) -> list[dict[str, Any]]:
        """Every registered tool: what it declares (name, description, role, writes, rules and their clauses)."""
        return [{"name": t.name, "description": t.description, "role": t.role, "writes": t.writes,
                 "rules": t.rules, "source": t.source, "builtin": t.builtin} for t in registry().values()]

    from console.api.errors import ERRORS
    router.add_api_route("", list_tools, methods=["GET"], responses=ERRORS)
    for tool in registry().values():
        router.add_api_route(f"/{tool.name}", _endpoint(tool, ready_desk, _guard(tool, needs, ready_desk)),
                             methods=["POST"], response_model=tool.output, summary=f"Call {tool.name}",
                             responses={200: {"headers": {TRACE_HEADER: TRACED}}, **ERRORS})
    return router
