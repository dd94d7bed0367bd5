"""HTTP routes of the registered tools (tools/registry.py): GET /v1/tools lists them, POST /v1/tools/NAME calls one
with its own pydantic input as the body and its own result as the response (both in the OpenAPI document).

The role a tool declares is required; a tool that writes is dated today by the deployment's clock on a
persistent store. A lender's tool appears here once its package is installed, and is gone once it is not.
"""
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from tools.errors import ToolInputError
from tools.registry import Tool, registry


def _endpoint(tool: Tool, needs: Callable[[str], Any], ready_desk: Callable[..., Any]) -> Callable[..., Any]:
    def call(body, who, desk):  # noqa: ANN001,ANN202 - typed below, per tool
        args = body.model_dump()
        if tool.writes and "as_of" in args and not desk.ledger.sandbox:
            args["as_of"] = desk.today()  # a write on the persistent store is dated today
        if "requested_by" in tool.fn.__code__.co_varnames:
            args["requested_by"] = who.name
        try:
            return tool(desk.ledger, **args)
        except ToolInputError as e:
            raise HTTPException(422, str(e)) from None

    call.__annotations__ = {"body": tool.input, "who": Annotated[Any, Depends(needs(tool.role))],
                            "desk": Annotated[Any, Depends(ready_desk)], "return": tool.output}
    call.__name__ = f"tool_{tool.name}"
    call.__doc__ = f"{tool.description} (role: {tool.role}; {'writes' if tool.writes else 'reads only'}; " \
                   f"rules: {', '.join(tool.rules) or '—'})"
    return call


def _strict(tool: Tool) -> Callable[..., Any]:
    """The body read strictly as JSON, as the schema says (a date is a date string, not a number of days)."""
    async def check(request: Request) -> None:
        try:
            tool.input.model_validate_json(await request.body() or b"{}", strict=True)
        except ValidationError as e:
            raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from None
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
        router.add_api_route(f"/{tool.name}", _endpoint(tool, needs, ready_desk), methods=["POST"],
                             response_model=tool.output, summary=f"Call {tool.name}", responses=ERRORS,
                             dependencies=[Depends(_strict(tool))])
    return router
