"""Asks and threads: one turn (`POST /v1/ask`), and conversation threads with their turns streamed as
Server-Sent Events."""
from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Iterator

from fastapi import APIRouter, Query, Request
from pydantic_core import to_jsonable_python
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException

from agents.contract import (DIRECT_CALL_THREADS, RESERVED_THREAD_PREFIX, ROLE_RANK, AskRequest, AskResult,
                             reserved_thread)
from console.api.errors import ERRORS, NOT_FOUND, bad, check_day, check_text, log
from console.api.models import ThreadMessage, ThreadMessageView, ThreadSummary, ThreadView, TurnRef
from console.api.state import (
    DeskDep, IdemKey, StateDep, ThreadId, Viewer, acting_role, check_thread, idem,
)
from console.turns import error_reply

router = APIRouter()


@router.post("/v1/ask", response_model=AskResult, tags=["turns"], responses={**ERRORS, **NOT_FOUND})
async def ask(req: AskRequest, who: Viewer, desk: DeskDep, state: StateDep, idempotency_key: IdemKey = None) -> AskResult:
    """One turn: the same JSON as `riskdesk ask --json`. `role` defaults to the key's role and may only
    be lower; `thread_id` continues (or starts) a conversation."""
    role = acting_role(who, req.role if "role" in req.model_fields_set else None)
    check_text("body", message=req.message, thread_id=req.thread_id)
    check_day(["body", "as_of"], req.as_of)
    if req.thread_id:
        check_thread(desk, req.thread_id, who, must_exist=False)
    return await state.run_turn(desk, req, who, role, idempotency_key)


@router.get("/v1/threads", response_model=list[ThreadSummary], tags=["threads"],
            responses={401: ERRORS[401], 403: ERRORS[403], 422: ERRORS[422]})
def list_threads(who: Viewer, desk: DeskDep,
                 owner: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.@-]{1,60}$",
                                                    description="Supervisors: one owner's threads (default all).")] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50,
                 before: Annotated[str | None, Query(max_length=40, pattern=r"^[0-9T:.+-]+$",
                                                     description="Page on: threads created before this "
                                                                 "created_at.")] = None) -> list[ThreadSummary]:
    """Threads newest first: your own; supervisors see everyone's (or one `owner`'s)."""
    if ROLE_RANK[who.role] < ROLE_RANK["supervisor"]:
        if owner not in (None, who.name):
            raise HTTPException(403, f"listing another key's threads needs the supervisor role; key {who.name!r} "
                                     f"is {who.role}")
        owner = who.name
    return [ThreadSummary(**row) for row in desk.audit.threads(owner=owner, limit=limit, before=before)]


@router.post("/v1/threads", response_model=ThreadView, status_code=201, tags=["threads"],
             responses={401: ERRORS[401], 403: ERRORS[403]})
def new_thread(who: Viewer, desk: DeskDep) -> ThreadView:
    """Open a new conversation thread owned by this key."""
    thread_id = f"t-{uuid.uuid4().hex[:12]}"
    desk.audit.claim_thread(thread_id, who.name)
    row = desk.audit.thread(thread_id)
    return ThreadView(thread_id=thread_id, owner=row.owner, created_at=row.created_at)


@router.get("/v1/threads/{thread_id}", response_model=ThreadView, tags=["threads"],
            responses={**ERRORS, **NOT_FOUND})
def get_thread(thread_id: ThreadId, who: Viewer, desk: DeskDep) -> ThreadView:
    """The thread's messages and the audit trace ids of its turns."""
    check_thread(desk, thread_id, who, must_exist=True)
    row = desk.audit.thread(thread_id)
    turns = [TurnRef(trace_id=r.trace_id, created_at=r.created_at, caller=r.caller, role=r.role)
             for r in desk.audit.for_thread(thread_id)]
    return ThreadView(thread_id=thread_id, owner=row.owner if row else None, created_at=row.created_at if row else None,
                      messages=[ThreadMessageView(role=m["role"], text=m["text"]) for m in desk.history(thread_id)],
                      turns=turns)


@router.post("/v1/threads/{thread_id}/messages", tags=["threads"], response_model=AskResult,
             responses={**ERRORS, **NOT_FOUND, 200: {
                 "description": "Server-Sent Events by default: one event per team member as it finishes "
                                "(supervisor = plan, risk_operator = tool calls, policy_researcher = citations, "
                                "composer = draft, compliance_reviewer = guard verdict, deliver / await_approval), "
                                "then `result` (an AskResult) or `error` (an ErrorBody). "
                                "With `Accept: application/json`: the AskResult only.",
                 "content": {"text/event-stream": {}}}})
async def post_message(thread_id: ThreadId, body: ThreadMessage, request: Request, who: Viewer, desk: DeskDep,
                       state: StateDep, idempotency_key: IdemKey = None) -> Any:
    """One turn in a thread, streamed as Server-Sent Events (progress, then the result)."""
    role = acting_role(who, body.role)
    check_text("body", message=body.message)
    check_day(["body", "as_of"], body.as_of)
    if reserved_thread(thread_id):
        raise bad(["path", "thread_id"], f"thread ids starting {RESERVED_THREAD_PREFIX!r} and the threads "
                                         f"{', '.join(sorted(DIRECT_CALL_THREADS.values()))} are reserved for the "
                                         "records of approval decisions and direct tool calls; no turn can be "
                                         "asked in one")
    check_thread(desk, thread_id, who, must_exist=True)
    req = AskRequest(message=body.message, role=role, thread_id=thread_id, as_of=body.as_of, dry_run=body.dry_run)
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/event-stream" not in accept:
        return await state.run_turn(desk, req, who, role, idempotency_key)
    events = desk.stream(req.message, role=role, thread_id=thread_id, as_of=req.as_of, caller=who.name,
                         idempotency_key=idem(who, idempotency_key), dry_run=req.dry_run)  # validates first
    return EventSourceResponse(_sse(events, state.locks("t:" + thread_id), state.pool()), ping=15,
                               headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _sse(events: Iterator[dict[str, Any]], lock: Any, pool: ThreadPoolExecutor):  # noqa: ANN202
    """Run the turn in a worker thread that always finishes (a client that goes away does not leave a
    half-done turn behind) and relay its events as they come."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item: tuple[str, Any]) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone (shutdown); the turn still completed
            pass

    def work() -> None:
        try:
            with lock:
                for ev in events:
                    put(("event", ev))
        except Exception as e:  # noqa: BLE001 - becomes an `error` event
            log.exception("turn failed mid-stream")
            put(("error", e))
        finally:
            put(("end", None))

    loop.run_in_executor(pool, work)
    while True:
        kind, item = await queue.get()
        if kind == "end":
            return
        if kind == "error":
            status, body = error_reply(item)
            yield {"event": "error", "data": json.dumps({"status": status, **body}, ensure_ascii=False)}
            continue
        name, data = item["event"], item["data"]
        if name == "result":
            payload = data.model_dump(mode="json")
        else:
            payload = to_jsonable_python({k: v for k, v in data.items() if k != "history"}, fallback=str)
        yield {"event": name, "data": json.dumps(payload, ensure_ascii=False)}
