"""`/mcp`: riskdesk's MCP server (console/mcp_tools.py) over the streamable HTTP transport, in the service.

The same API keys, roles and rate limits as the REST API: the service's HttpGuard checks the key (and its
budget) before the request reaches the MCP transport, and each tool call acts as that key's name and role.
A reply's text is in Chinese when the request's Accept-Language asks for it, else in English.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI


class _Endpoint:
    """The ASGI app behind the /mcp route, set once the router's lifespan has started the session manager."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.app is None:
            from starlette.responses import JSONResponse
            await JSONResponse({"detail": "the MCP endpoint is starting; retry shortly", "errors": []}, status_code=503,
                               headers={"Retry-After": "1"})(scope, receive, send)
            return
        await self.app(scope, receive, send)


def mcp_router() -> APIRouter:
    endpoint = _Endpoint()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
        from starlette.exceptions import HTTPException

        from console.mcp_tools import Caller, build_server, client_name
        from tools.errors import PermissionDenied
        state = app.state.riskdesk

        def desk() -> Any:
            if state.desk is None:
                raise PermissionDenied("the desk is still starting; retry shortly / 服务正在启动，请稍后重试")
            return state.desk

        def identify(ctx: Any) -> Caller:
            request = ctx.request
            if request is None:
                raise PermissionDenied("no HTTP request behind this call")
            token = request.headers.get("x-api-key")
            auth = request.headers.get("authorization", "")
            if not token and auth.lower().startswith("bearer "):
                token = auth[7:].strip()
            try:
                who = state.identify(token)
            except HTTPException as e:
                raise PermissionDenied(str(e.detail)) from None
            lang = "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"
            return Caller(who.name, who.role, client_name(ctx), lang)

        manager = StreamableHTTPSessionManager(app=build_server(desk, identify))
        async with manager.run():
            endpoint.app = StreamableHTTPASGIApp(manager)
            yield
            endpoint.app = None

    router = APIRouter(lifespan=lifespan)
    router.add_route("/mcp", endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    return router
