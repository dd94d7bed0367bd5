"""The operator desk's own HTTP routes (an APIRouter the app includes): the customer card, reopened turns,
thread and decision search, CSV exports, the supervisors' approvals inbox and its live stream (SSE), the
operator-facing labels of internal codes (agents/i18n), and the API docs served offline.

Every route needs an API key, like the rest of /v1: operators and viewers see their own threads and
records, supervisors everyone's. Personal data is masked in everything returned (audit records are)."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException

from agents.contract import ROLE_RANK
from console.desk_views import (AuditRow, CustomerCard, DecisionRow, DeskTurn, InboxItem, ThreadRow, audit_row,
                                customer_card, decision_row, desk_turn, inbox_item, matches, thread_row, to_csv)
from agents.i18n import LANGS, labels
from tools.dates import parse_day

router = APIRouter()
ApiKey = Any  # console.service.ApiKey: a name and a role (not imported: the service includes this router)
# the same security schemes as the service's own routes (same names: one scheme each in the OpenAPI document)
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")
ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "No or unknown API key"},
                                           403: {"description": "The key's role may not do this"},
                                           422: {"description": "Bad input; `detail` says what is wrong"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown id"}}
Day = Annotated[str | None, Query(max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
Name = Annotated[str | None, Query(max_length=60, pattern=r"^[A-Za-z0-9_.@-]+$")]
CustomerQ = Annotated[str | None, Query(max_length=32)]
OutcomeQ = Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")]


async def caller(request: Request, api_key: Annotated[str | None, Depends(_api_key_header)],
                 bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiKey:
    return request.app.state.riskdesk.identify(api_key or (bearer.credentials if bearer else None))


def the_desk(request: Request) -> Any:
    state = request.app.state.riskdesk
    if state.desk is None:
        raise HTTPException(503, state.error or "the desk is still starting; retry shortly", headers={"Retry-After": "2"})
    return state.desk


Who = Annotated[ApiKey, Depends(caller)]
DeskDep = Annotated[Any, Depends(the_desk)]


def _supervisor(who: ApiKey) -> bool:
    return ROLE_RANK[who.role] >= ROLE_RANK["supervisor"]


def _day(value: str | None, desk: Any) -> dt.date:
    if value is None:
        return desk.today()
    try:
        return parse_day(value)
    except ValueError as e:
        raise HTTPException(422, f"as_of: {e}") from None


def _scope(who: ApiKey, operator: str | None) -> str | None:
    """Whose records a caller may read: a supervisor anyone's (or one operator's), others only their own."""
    if _supervisor(who):
        return operator
    if operator not in (None, who.name):
        raise HTTPException(403, f"reading another operator's records needs the supervisor role; key {who.name!r} "
                                 f"is {who.role}")
    return who.name


# ------------------------------------------------------------------ labels
@router.get("/v1/desk/labels", tags=["desk"], responses=ERRORS)
def desk_labels(who: Who, lang: Annotated[Literal["zh", "en"], Query()] = "zh") -> dict[str, dict[str, str]]:
    """Internal codes (purposes, reasons, roles, outcomes, statuses, tasks) in the operator's words, from
    the message catalogue (agents/i18n)."""
    return labels(lang if lang in LANGS else "en")


# ------------------------------------------------------------------ customer card
@router.get("/v1/desk/customers/{customer_id}", response_model=CustomerCard, tags=["desk"],
            responses={**ERRORS, **NOT_FOUND})
def card(customer_id: Annotated[str, PathParam(max_length=32, pattern=r"^[A-Za-z0-9_.:-]+$")], who: Who,
         desk: DeskDep, as_of: Day = None) -> CustomerCard:
    """The customer as of a day (default today), from the tools: limit, used, live temporary quota with its
    expiry, available and total available (TQ7), risk tier, account age, overdue records, repair outcome."""
    result = customer_card(desk.ledger, customer_id, _day(as_of, desk))
    if not result.found:
        raise HTTPException(404, f"no customer with id {customer_id!r}")
    return result


# ------------------------------------------------------------------ threads and turns
def _visible_thread(desk: Any, thread_id: str, who: ApiKey) -> Any:
    row = desk.audit.thread(thread_id)
    if row is None or (row.owner != who.name and not _supervisor(who)):
        raise HTTPException(404, f"no thread with id {thread_id!r}")
    return row


@router.get("/v1/desk/threads/{thread_id}/turns", response_model=list[DeskTurn], tags=["desk"],
            responses={**ERRORS, **NOT_FOUND})
def thread_turns(thread_id: Annotated[str, PathParam(max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")], who: Who,
                 desk: DeskDep) -> list[DeskTurn]:
    """Every turn of a thread as the console showed it live: answer, outcome, guard, tool calls, citations
    with their clause text, who asked and as of which day."""
    _visible_thread(desk, thread_id, who)
    return [desk_turn(r, desk.kb) for r in desk.audit.for_thread(thread_id)]


@router.get("/v1/desk/threads", response_model=list[ThreadRow], tags=["desk"], responses=ERRORS)
def search_threads(who: Who, desk: DeskDep, q: Annotated[str | None, Query(max_length=80)] = None,
                   customer: CustomerQ = None, outcome: OutcomeQ = None, operator: Name = None,
                   since: Day = None, until: Day = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[ThreadRow]:
    """Threads newest first, titled by their first message; filter by text, customer, outcome, operator and
    day range. Your own threads; supervisors everyone's."""
    owner = _scope(who, operator)
    rows = []
    for row in desk.audit.threads(owner=owner, limit=200):
        records = desk.audit.for_thread(row["thread_id"])
        first = next((m["text"] for m in desk.history(row["thread_id"]) if m["role"] == "operator"), None) \
            if not records else None
        r = thread_row(row, records, first)
        if matches(r, customer=customer, outcome=outcome, operator=None, since=since, until=until, text=q):
            rows.append(r)
        if len(rows) >= limit:
            break
    return rows


def _decisions(who: ApiKey, desk: Any, customer: str | None, outcome: str | None, operator: str | None,
               since: str | None, until: str | None) -> list[Any]:
    caller_name = _scope(who, operator)
    return [r for r in desk.audit.records(caller=caller_name, limit=2000)
            if r.tool_calls and matches(decision_row(r), customer=customer, outcome=outcome, operator=None,
                                        since=since, until=until)]


@router.get("/v1/desk/decisions", response_model=list[DecisionRow], tags=["desk"], responses=ERRORS)
def search_decisions(who: Who, desk: DeskDep, customer: CustomerQ = None, outcome: OutcomeQ = None,
                     operator: Name = None, since: Day = None, until: Day = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[DecisionRow]:
    """Decisions (turns that called a tool) newest first: your own; supervisors everyone's."""
    return [decision_row(r) for r in _decisions(who, desk, customer, outcome, operator, since, until)[:limit]]


def _csv(body: str, name: str) -> Response:
    return Response("\ufeff" + body, media_type="text/csv; charset=utf-8",  # the BOM: spreadsheets read it as UTF-8
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/v1/desk/export/decisions.csv", tags=["desk"], responses=ERRORS,
            response_class=Response)
def export_decisions(who: Who, desk: DeskDep, customer: CustomerQ = None, outcome: OutcomeQ = None,
                     operator: Name = None, since: Day = None, until: Day = None) -> Response:
    """The decisions the search finds, as CSV (masked; your own unless you are a supervisor)."""
    rows = [decision_row(r) for r in _decisions(who, desk, customer, outcome, operator, since, until)]
    return _csv(to_csv(rows, DecisionRow), "decisions.csv")


@router.get("/v1/desk/export/audit.csv", tags=["desk"], responses=ERRORS, response_class=Response)
def export_audit(who: Who, desk: DeskDep, customer: CustomerQ = None, outcome: OutcomeQ = None,
                 operator: Name = None, since: Day = None, until: Day = None) -> Response:
    """The audit records of those decisions, as CSV (personal data masked)."""
    rows = [audit_row(r) for r in _decisions(who, desk, customer, outcome, operator, since, until)]
    return _csv(to_csv(rows, AuditRow), "audit.csv")


# ------------------------------------------------------------------ approvals inbox
def _inbox(who: ApiKey, desk: Any) -> list[InboxItem]:
    if ROLE_RANK[who.role] < ROLE_RANK["operator"]:
        raise HTTPException(403, f"this needs the operator role; key {who.name!r} is {who.role}")
    pending = desk.approvals("pending")
    if not pending:
        return []
    wanted = {a.approval_id for a in pending}
    asked: dict[str, Any] = {}
    for r in desk.audit.records(limit=2000):  # the turn that raised each approval: its words and thread
        for c in r.tool_calls:
            aid = c.result.get("approval_id")
            if aid in wanted and c.result.get("outcome") == "needs_approval":
                asked.setdefault(aid, r)
    today = desk.today()
    return [inbox_item(a, today, who.name, asked.get(a.approval_id)) for a in pending]


@router.get("/v1/desk/approvals", response_model=list[InboxItem], tags=["desk"], responses=ERRORS)
def approvals_inbox(who: Who, desk: DeskDep) -> list[InboxItem]:
    """Pending approvals for the inbox: age, days left, the requester's words and thread, the deciding rule,
    and whether the caller requested it (then they cannot approve it)."""
    return _inbox(who, desk)


@router.get("/v1/desk/approvals/stream", tags=["desk"], responses={**ERRORS, 200: {
    "description": "Server-Sent Events: `approvals` (a list of InboxItem) now and whenever the pending list changes.",
    "content": {"text/event-stream": {}}}})
async def approvals_stream(request: Request, who: Who, desk: DeskDep) -> Any:
    """The pending list, pushed: once at once, then on every change (checked every second). A client that does
    not accept `text/event-stream` gets the list once as JSON, as from /v1/desk/approvals (never an endless body)."""
    items = _inbox(who, desk)  # the role check happens before the stream starts
    if "text/event-stream" not in request.headers.get("accept", ""):
        return JSONResponse([i.model_dump(mode="json") for i in items])

    def seen() -> tuple:  # cheap: the pending ids; the full inbox (which reads audit records) only on a change
        return (desk.today(), tuple(a.approval_id for a in desk.approvals("pending")))

    async def events():  # noqa: ANN202
        last = None
        while not await request.is_disconnected():
            now = await asyncio.to_thread(seen)
            if now != last:
                last = now
                items = await asyncio.to_thread(_inbox, who, desk)
                yield {"event": "approvals",
                       "data": json.dumps([i.model_dump(mode="json") for i in items], ensure_ascii=False)}
            await asyncio.sleep(1.0)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# ------------------------------------------------------------------ API docs, offline
def _swagger_dir() -> Path:
    import swagger_ui_bundle
    return Path(swagger_ui_bundle.swagger_ui_path)


@router.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    """Swagger UI from the installed swagger-ui-bundle package: no CDN, works offline."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="riskdesk · API",
                               swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                               swagger_css_url="/docs/assets/swagger-ui.css",
                               swagger_favicon_url="/docs/assets/favicon-32x32.png")


@router.get("/docs/assets/{name}", include_in_schema=False)
def docs_asset(name: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.-]+\.(js|css|png)$")]) -> FileResponse:
    path = _swagger_dir() / name
    if not path.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(path)
