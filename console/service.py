"""The HTTP service: the Desk over HTTP (FastAPI), plus the operator web console at `/`.

    from console.service import create_app
    app = create_app(desk, keys={"k-op": {"name": "alice", "role": "operator"}})

The app is put together here from routers, one module per thing it serves (console/api/): probes,
auth, asks and threads, approvals, audit. A new group of endpoints is an APIRouter module added to
`ROUTERS` below. One process owns the Desk (the Chroma client, the ledger, the threads and the audit
log); `riskdesk serve --workers N` adds turn processes (console/turn_processes.py). Request and
response bodies are the pydantic models of `agents.contract` (and a few small models composed from
them, console/api/models.py), so `/openapi.json` is generated from the same source as `riskdesk ask --json`.

Auth: every /v1 route needs an API key (`X-API-Key: KEY` or `Authorization: Bearer KEY`). A key maps to
a name (the audit record's caller) and a role (viewer < operator < supervisor). A request acts with
its key's role; it may ask for a lower role, never a higher one. Keys come from `RISKDESK_API_KEYS`
("key:name:role,key2:name2:role2") and/or the JSON or TOML file named by `RISKDESK_API_KEYS_FILE`
(`{"keys": [{"key": "...", "name": "alice", "role": "operator"}]}`, or `[[keys]]` tables in TOML).
"""

import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Mapping

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from agents.desk import Desk
from console.api import approvals, audit, auth, errors, probes, threads
from console.api.errors import _err, log
from console.api.state import _State
from console.desk_routes import router as desk_router
from console.events_http import events_router
from console.mcp_http import mcp_router
from console.limits_http import HttpGuard, HttpLimits
from console.turn_processes import TurnProcesses
from console.turns import error_reply, locked_turn, settle
from console.locks import _Stripes
from console.api_keys import (
    HASHED, KEYS_ENV, KEYS_FILE_ENV, ApiKey, KeyConfigError, _key_entry, _normalise_keys, hashed, key_holder,
    keys_from_env, load_keys_file, parse_keys_env,
)

__all__ = ["create_app", "ROUTERS", "ApiKey", "KeyConfigError", "keys_from_env", "load_keys_file", "parse_keys_env",
           "hashed", "key_holder", "HASHED", "KEYS_ENV", "KEYS_FILE_ENV", "_key_entry", "_err", "_State", "_Stripes",
           "error_reply", "locked_turn", "settle"]
WEB_DIR = Path(__file__).parent / "web"

# Every group of endpoints, in the order of the OpenAPI document. A new group: one APIRouter module, one line here.
from console.tools_http import tools_router  # noqa: E402 - /v1/tools: every registered tool (tools/registry.py)

ROUTERS = [
    probes.router,      # /healthz, /readyz
    auth.router,        # /v1/me
    threads.router,     # /v1/ask, /v1/threads...
    approvals.router,   # /v1/approvals...
    audit.router,       # /v1/audit/{trace_id}
    desk_router,        # the operator desk: customer card, search, exports, inbox, offline /docs (console/desk_routes.py)
]


def create_app(desk: Desk | None = None, keys: Mapping[str, Any] | None = None, *,
               open_desk: Any = None, web: bool = True, turn_workers: int | None = None,
               turn_processes: int = 0, kb_replica: str | Path | None = None,
               limits: HttpLimits | None = None) -> FastAPI:
    """The ASGI app. `desk`: the one Desk this process serves (opened in the background at startup
    with `open_desk()` or `Desk.open()` when omitted; /readyz says 503 until then). `keys`: API key ->
    ApiKey | {"name", "role"} | (name, role); `None` reads RISKDESK_API_KEYS / RISKDESK_API_KEYS_FILE.
    With no keys at all every /v1 call is 401 (`riskdesk serve` makes dev keys on loopback instead).
    `turn_workers`: threads that run turns; 0 runs a turn on the event loop itself. With the rules planner a
    turn is a few ms of CPU-bound Python under one GIL, and handing it to a thread costs more than it
    saves (GIL handoffs between the loop and the thread): the default is then 0, and `--workers` adds
    cores. With an LLM a turn mostly waits on the model, so the default is then 8 threads. Streamed turns
    (SSE) and approval decisions always run in a thread. `turn_processes` > 0: one-shot turns run in that
    many processes instead (see console/turn_processes.py), each searching the replica at `kb_replica`.
    `limits`: the body cap and rate limits (console/limits_http.py); default: the 64 KiB cap and no rate
    limits unless RISKDESK_RATE_PER_KEY / _PER_ADDRESS say so. A /v1 request's key is checked before its
    body is read."""
    state = _State(desk, _normalise_keys(keys_from_env() if keys is None else keys), turn_workers=turn_workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        if turn_processes:
            turns = TurnProcesses(turn_processes, kb_replica, audit=state.desk.audit if state.desk else None)
            await turns.start()  # the service answers once every turn process is ready
            state.turns = turns
        if state.desk is None:
            def load() -> None:
                try:
                    state.attach((open_desk or Desk.open)())
                except Exception as e:  # noqa: BLE001 - reported by /readyz
                    log.exception("opening the desk failed")
                    state.error = f"{type(e).__name__}: {e}"
            threading.Thread(target=load, name="riskdesk-open", daemon=True).start()
        yield
        if state.turns is not None:
            await state.turns.close()
        state.shutdown_pools()

    app = FastAPI(title="riskdesk", version="0.1.0", lifespan=lifespan, docs_url=None,  # /docs: console/desk_routes.py
                  dependencies=[Depends(errors.one_value_per_query_parameter)],
                  description="Trusted risk decisions for consumer credit: ask, threads with SSE progress, "
                              "supervisor approvals, audit. Auth: `X-API-Key` or `Authorization: Bearer`.")
    app.state.riskdesk = state
    # an embedded app rate-limits when told to (`limits`, or RISKDESK_RATE_PER_*); `riskdesk serve` does by default
    limits = limits or HttpLimits.from_env(rate_per_key="off", rate_per_address="off")
    app.add_middleware(HttpGuard, limits=limits, authenticate=state.caller, reply=_err, key_prefix=("/v1/", "/mcp"))
    # fresh routers per app: events_router() holds its dispatcher, mcp_router() its MCP session manager,
    # tools_router() the tools registered now
    routers = [*ROUTERS, events_router(), tools_router(), mcp_router()]
    errors.install(app, [route for router in routers for route in router.routes])
    for router in routers:  # every route but the probes documents the ErrorBody of 401/403/422 (its own win)
        app.include_router(router, responses=None if router is probes.router else errors.ERRORS)
    if web and WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="console")
    return app
