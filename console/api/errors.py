"""Every error the service answers is an ErrorBody: a sentence saying what is wrong, and for bad input the
fields at fault. `error_reply` maps an exception a turn raised to its status and body (the service process
and the turn processes answer alike); `install` registers the app's exception handlers."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from agents.clock import AsOfNotAllowed
from agents.desk import PermissionDenied
from console.api.models import ErrorBody
from console.turns import TurnProcessError, _errors, _say, error_reply
from tools import ApprovalError, ToolInputError
from tools.dates import parse_day
from tools.privacy import MaskingFilter

log = logging.getLogger("riskdesk.service")
masking = MaskingFilter()
log.addFilter(masking)  # tracebacks can carry an operator's message: masked like audit records

ERRORS = {401: {"model": ErrorBody, "description": "No or unknown API key"},
          403: {"model": ErrorBody, "description": "The key's role may not do this"},
          422: {"model": ErrorBody, "description": "Bad input; `detail` says what is wrong"}}
NOT_FOUND = {404: {"model": ErrorBody, "description": "Unknown id"}}
CONFLICT = {409: {"model": ErrorBody, "description": "Conflicts with a decision already taken"}}


def _error_response(e: Exception) -> JSONResponse:
    status, body = error_reply(e)
    return JSONResponse(body, status_code=status)


def _err(status: int, detail: str, errors: list[dict[str, Any]] | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(detail=detail, errors=errors or []).model_dump(), status_code=status, headers=headers)


def bad(loc: list[str], msg: str) -> RequestValidationError:
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": "value_error"}])


async def one_value_per_query_parameter(request: Request) -> None:
    """A query parameter given twice (`?owner=a&owner=b`) is bad input, not "the last one wins": no endpoint
    takes a list in its query string, so a repeat is refused with a 422 that names it."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in seen:
            raise bad(["query", name], "given more than once; give it once")
        seen.add(name)


def check_text(loc: str, **fields: Any) -> None:
    """JSON may carry lone surrogates ("\\ud800"): no store can hold them, so they are bad input, not a 500."""
    for name, v in fields.items():
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise bad([loc, name], "must be valid Unicode text (lone surrogate code points are not allowed)") from None


def check_day(loc: list[str], value: str | None) -> None:
    """A real day within the one range the rules accept (tools/dates.py): the HTTP layer never lets through
    a date the rules would refuse, nor refuses one they accept."""
    if value is None:
        return
    try:
        parse_day(value)
    except ValueError as e:
        raise bad(loc, str(e)) from None


def install(app: FastAPI, routes: list[Any]) -> None:
    """The app's exception handlers: every error becomes an ErrorBody with the right status. `routes`: the
    routers' routes (a 405 names every method their paths allow)."""

    @app.exception_handler(RequestValidationError)
    async def _on_request_invalid(_r: Request, e: RequestValidationError) -> JSONResponse:
        errors = _errors(e)
        return _err(422, _say(errors), errors)

    async def _as_reply(_r: Request, e: Exception) -> JSONResponse:
        return _error_response(e)
    for kind in (ValidationError, PermissionDenied, AsOfNotAllowed, ToolInputError):
        app.add_exception_handler(kind, _as_reply)

    @app.exception_handler(ApprovalError)
    async def _on_approval(_r: Request, e: ApprovalError) -> JSONResponse:
        return _err(404 if str(e).startswith("no approval with id") else 409, str(e))

    @app.exception_handler(HTTPException)
    async def _on_http(r: Request, e: HTTPException) -> JSONResponse:
        if e.status_code == 400:  # FastAPI's "error parsing the body": bytes that are not UTF-8 JSON
            return _err(422, "the body could not be read as JSON (send UTF-8 encoded JSON)",
                        [{"loc": ["body"], "msg": str(e.detail), "type": "json_invalid"}])
        headers = getattr(e, "headers", None)
        if e.status_code == 405:  # one path, several routes (GET and POST /v1/threads): Allow names them all
            allowed = {m for route in routes if getattr(route, "methods", None)
                       and route.path_regex.match(r.url.path) for m in route.methods}
            headers = {**(headers or {}), "Allow": ", ".join(sorted(allowed))}
        return _err(e.status_code, str(e.detail), headers=headers)

    @app.exception_handler(TurnProcessError)
    async def _on_turn_process(_r: Request, e: TurnProcessError) -> JSONResponse:
        return _err(503, str(e), headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _on_crash(_r: Request, e: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _err(500, f"internal error ({type(e).__name__}); see the service log")
