"""One turn as the service runs it, in the service process or a turn process alike: under its
conversation's lock (console/locks.py), and an exception it raises mapped to the HTTP status and
ErrorBody the service answers."""
from __future__ import annotations

import gc
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from agents.clock import AsOfNotAllowed
from agents.contract import AskResult
from agents.desk import Desk, PermissionDenied
from console.api.models import ErrorBody, ErrorItem
from tools import ToolInputError


class TurnProcessError(RuntimeError):
    """A turn process died while running a turn, or could not start."""


def locked_turn(desk: Desk, locks: Any, message: str, role: str, thread_id: str | None, as_of: str | None,
                caller: str, idempotency_key: str | None, locked: bool = False, dry_run: bool = False) -> AskResult:
    """One turn, holding its conversation's lock (unless the caller holds it already). The Desk claims a
    new thread for the caller with the turn's audit record."""
    lock = locks("t:" + thread_id) if thread_id and not locked else None
    if lock:
        lock.acquire()
    try:
        return desk.ask(message, role=role, thread_id=thread_id, as_of=as_of, caller=caller,
                        idempotency_key=idempotency_key, dry_run=dry_run)
    finally:
        if lock:
            lock.release()


def settle(desk: Desk) -> None:
    """Before a serving process takes requests: warm the desk, then freeze what is loaded (about 200,000
    long-lived objects: dictionaries, models, the graph) out of the garbage collector's reach. A full
    collection otherwise scans them all, about 85 ms on this 2-core machine, which is a turn's tail latency."""
    desk.warm()
    gc.collect()
    gc.freeze()


def error_reply(e: Exception) -> tuple[int, dict[str, Any]]:
    """The status and ErrorBody the service answers for an exception a turn raised."""
    if isinstance(e, ValidationError):
        errors = _errors(e)
        return 422, ErrorBody(detail=_say(errors), errors=errors).model_dump()
    if isinstance(e, AsOfNotAllowed):  # a request tried to date a write: the field is named, dry_run offered
        return 422, ErrorBody(detail=f"body.{e.field}: {e}", errors=[
            ErrorItem(loc=["body", e.field], msg=str(e), type="as_of_not_allowed")]).model_dump()
    if isinstance(e, ToolInputError):
        return 422, ErrorBody(detail=str(e)).model_dump()
    if isinstance(e, PermissionDenied):
        return 403, ErrorBody(detail=str(e)).model_dump()
    return 500, ErrorBody(detail=f"internal error ({type(e).__name__}); see the service log").model_dump()


def _errors(e: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in e.errors():
        loc = [x if isinstance(x, int) else str(x) for x in err.get("loc", ())]
        msg, kind = str(err.get("msg", "invalid")), str(err.get("type", "value_error"))
        if kind == "json_invalid":  # loc is ['body', <character offset>]
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            loc, msg = loc[:1], f"the body is not valid JSON ({(err.get('ctx') or {}).get('error', 'decode error')}{where})"
        out.append({"loc": loc, "msg": msg, "type": kind})
    return out


def _say(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"] for e in errors) or "invalid request"
