"""`GET /v1/events`: decision events as Server-Sent Events, and the service's webhook dispatcher.

    curl -N -H "Accept: text/event-stream" -H "X-API-Key: KEY" -H "Last-Event-ID: 41" http://127.0.0.1:8000/v1/events

With `Accept: text/event-stream`, each SSE message is one DecisionEvent (tools/events.py): `id:` its seq,
`event:` its type, `data:` its JSON; any other Accept gets the JSON list of the events after the cursor (a poll).
A client that reconnects with `Last-Event-ID` (or `?after=SEQ`) gets every event committed after it, in
commit order, then new ones as they commit. A key sees only the event types its role may see (grants:
viewer and up; approvals: operator and up).

The router's lifespan runs the webhook dispatcher (tools/webhooks.py) in a background thread of the service
process once the desk (and its ledger) is open. RISKDESK_WEBHOOKS=off turns it off (then `riskdesk webhooks
deliver` delivers); RISKDESK_WEBHOOK_INTERVAL, _BASE and _MAX_ATTEMPTS tune it.
"""
from __future__ import annotations

import asyncio
import json
import os
import threading
from contextlib import asynccontextmanager
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Header, Query, Request
from sse_starlette import EventSourceResponse

from tools.events import DecisionEvent, events_after, visible_types

POLL_SECONDS = 0.5


def dispatcher_settings(env: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The dispatcher's settings from the environment, or None when it is turned off."""
    env = os.environ if env is None else env
    if env.get("RISKDESK_WEBHOOKS", "on").lower() in ("off", "0", "false", "no"):
        return None
    return {"interval": float(env.get("RISKDESK_WEBHOOK_INTERVAL", "1")),
            "base": float(env.get("RISKDESK_WEBHOOK_BASE", "2")),
            "max_attempts": int(env.get("RISKDESK_WEBHOOK_MAX_ATTEMPTS", "8"))}


def _run_dispatcher(app: FastAPI, stop: threading.Event, settings: dict[str, Any]) -> None:
    from tools.webhooks import Dispatcher
    state = app.state.riskdesk
    while state.desk is None and not stop.wait(0.2):
        pass
    if stop.is_set():
        return
    d = Dispatcher(state.desk.ledger, **settings).start()
    stop.wait()
    d.stop()


@asynccontextmanager
async def _lifespan(app: FastAPI):  # noqa: ANN202
    settings = dispatcher_settings()
    stop = threading.Event()
    if settings is not None:
        threading.Thread(target=_run_dispatcher, args=(app, stop, settings), name="riskdesk-webhooks-start",
                         daemon=True).start()
    yield
    stop.set()


def events_router() -> APIRouter:
    router = APIRouter(lifespan=_lifespan)

    from console.api.errors import ERRORS
    from console.api.models import ErrorBody

    @router.get("/v1/events", tags=["events"], response_model=list[DecisionEvent],
                responses={**ERRORS, 503: {"model": ErrorBody, "description": "The desk is still starting"},
                           200: {"description": "With `Accept: text/event-stream`: Server-Sent Events, one DecisionEvent "
                                                "per message (`id` = seq, `event` = type), as they commit. Otherwise "
                                                "the JSON list of the events after the cursor (at most `limit`).",
                                 "content": {"text/event-stream": {}}}})
    async def stream(request: Request,
                     last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=18,
                                                                 pattern=r"^[0-9]+$")] = None,
                     after: Annotated[int | None, Query(ge=0, le=10**17, description="Resume after this seq "
                                                                                    "(as Last-Event-ID).")] = None,
                     types: Annotated[str | None, Query(max_length=200, description="Comma-separated event "
                                                                                    "types (default all the role may see).")] = None,
                     limit: Annotated[int, Query(ge=1, le=1000, description="JSON only: at most this many events.")] = 200
                     ) -> Any:
        """Decision events as they commit, resumable; filtered to what the key's role may see."""
        from console.api.state import _api_key_header, _bearer
        state = request.app.state.riskdesk
        bearer = await _bearer(request)
        who = state.identify(await _api_key_header(request) or (bearer.credentials if bearer else None))
        allowed = visible_types(who.role)
        wanted = allowed if not types else [t.strip() for t in types.split(",") if t.strip()]
        if bad := [t for t in wanted if t not in allowed]:
            from console.api.errors import bad as _bad
            raise _bad(["query", "types"], f"unknown event type, or one the {who.role} role may not see: {bad[0]!r}")
        if state.desk is None:
            from starlette.exceptions import HTTPException
            raise HTTPException(503, "the desk is still starting; retry shortly", headers={"Retry-After": "2"})
        ledger = state.desk.ledger
        cursor = int(last_event_id) if last_event_id is not None else (after or 0)
        if "text/event-stream" not in request.headers.get("accept", ""):
            return await to_thread.run_sync(lambda: events_after(ledger, cursor, limit, types=wanted))

        async def gen():  # noqa: ANN202
            nonlocal cursor
            while True:
                batch = await to_thread.run_sync(lambda: events_after(ledger, cursor, 200, types=wanted))
                for ev in batch:
                    cursor = ev.seq
                    yield {"id": str(ev.seq), "event": ev.type, "data": ev.model_dump_json()}
                if not batch:
                    if await request.is_disconnected():
                        return
                    await asyncio.sleep(POLL_SECONDS)

        return EventSourceResponse(gen(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return router


def parse_sse(lines: list[str]) -> list[dict[str, Any]]:
    """Client side helper for tests and scripts: SSE text lines -> [{"id", "event", "data"}]."""
    out, cur = [], {}
    for line in lines:
        if not line.strip():
            if "data" in cur:
                out.append({**cur, "data": json.loads(cur["data"])})
            cur = {}
            continue
        if line.startswith(":"):
            continue
        k, _, v = line.partition(":")
        cur[k] = v[1:] if v.startswith(" ") else v
    return out
