"""What one service process holds (the Desk, the keys, the locks, the turn threads and processes), and the
dependencies every router shares: who is calling (API key, role), the ready Desk, thread ownership, and
how a turn runs (a turn process, the event loop, or a turn thread)."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from agents.contract import ROLE_RANK, AskRequest, AskResult
from agents.desk import Desk
from console.api.errors import masking
from console.api_keys import ApiKey, _digest, _stored_digest
from console.locks import _Stripes, locks_for
from console.turns import locked_turn

IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=64, pattern=r"^[\x21-\x7e]+$",
                                       description="Retries with one key (per API key) grant at most once.")]
ThreadId = Annotated[str, PathParam(max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
ApprovalId = Annotated[str, PathParam(max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


class _State:
    def __init__(self, desk: Desk | None, keys: dict[str, ApiKey], turn_workers: int | None = None):
        self.desk = desk
        self.keys = {_stored_digest(k): v for k, v in keys.items()}
        self.error: str | None = None
        self.locks = _Stripes()
        self.turns: Any = None  # TurnProcesses with --workers N
        self.turn_workers = turn_workers
        self._pools: list[ThreadPoolExecutor] = []  # made on first use, shut down (after its turns finish) at exit
        self._pool_lock = threading.Lock()
        if desk is not None:
            self.attach(desk)

    def attach(self, desk: Desk) -> None:
        masking.names = tuple(desk.ledger.names())
        self.locks = locks_for(desk)
        self.desk = desk

    def identify(self, token: str | None) -> ApiKey:
        """The key a request presents (X-API-Key or a bearer token), or HTTPException 401."""
        if not token:
            raise HTTPException(401, "an API key is required: send X-API-Key: KEY or Authorization: Bearer KEY",
                                headers={"WWW-Authenticate": "Bearer"})
        who = self.keys.get(_digest(token))
        if who is None:
            raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": "Bearer"})
        return who

    async def caller(self, conn: HTTPConnection) -> str:
        """The name of the key on a request's headers, before its body is read (HttpGuard); 401 else."""
        bearer = await _bearer(conn)
        return self.identify(await _api_key_header(conn) or (bearer.credentials if bearer else None)).name

    # ---------------------------------------------------------- where turns run
    def pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if not self._pools:
                n = self.turn_workers or (8 if self.desk is not None and self.desk.llm_model else 1)  # 0 = inline
                self._pools.append(ThreadPoolExecutor(max_workers=n, thread_name_prefix="riskdesk-turn"))
            return self._pools[0]

    async def in_pool(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool(), fn, *args)

    def shutdown_pools(self) -> None:
        with self._pool_lock:
            done = self._pools[:]
            self._pools.clear()
        for p in done:
            p.shutdown(wait=True, cancel_futures=False)  # turns under way finish before the process exits

    def inline(self) -> bool:
        if self.turn_workers is not None:
            return self.turn_workers == 0
        return self.desk is not None and not self.desk.llm_model

    def turn(self, desk: Desk, req: AskRequest, who: ApiKey, role: str, key: str | None, locked: bool = False) -> AskResult:
        return locked_turn(desk, self.locks, req.message, role, req.thread_id, req.as_of, who.name, idem(who, key),
                           locked=locked, dry_run=req.dry_run)

    async def run_turn(self, desk: Desk, req: AskRequest, who: ApiKey, role: str, key: str | None) -> Any:
        """A turn in the next idle turn process (--workers); else on the event loop when it is inline and
        its thread is free; else in a turn thread (which waits for the thread's lock, not the loop)."""
        if self.turns is not None:
            status, payload = await self.turns.ask({
                "message": req.message, "role": role, "thread_id": req.thread_id, "as_of": req.as_of,
                "caller": who.name, "idempotency_key": idem(who, key), "dry_run": req.dry_run})
            if status == 200:
                return Response(payload, media_type="application/json")  # the AskResult's own JSON
            return JSONResponse(payload, status_code=status)
        if self.inline():
            lock = self.locks("t:" + req.thread_id) if req.thread_id else None
            if lock is None or lock.acquire(blocking=False):
                try:
                    return self.turn(desk, req, who, role, key, locked=True)
                finally:
                    if lock is not None:
                        lock.release()
        return await self.in_pool(self.turn, desk, req, who, role, key)


# ------------------------------------------------------------------ dependencies

async def state_of(request: Request) -> _State:  # async: a sync dependency costs a thread hop per request
    return request.app.state.riskdesk


StateDep = Annotated[_State, Depends(state_of)]


async def ready_desk(state: StateDep) -> Desk:  # async: no thread hop for a lookup
    if state.desk is None:
        raise HTTPException(503, state.error or "the desk is still starting (loading the knowledge base); retry shortly",
                            headers={"Retry-After": "2"})
    return state.desk


async def authenticate(state: StateDep, api_key: Annotated[str | None, Depends(_api_key_header)],
                       bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiKey:
    return state.identify(api_key or (bearer.credentials if bearer else None))


def needs(role: str):  # noqa: ANN201
    async def check(who: Annotated[ApiKey, Depends(authenticate)]) -> ApiKey:
        if ROLE_RANK[who.role] < ROLE_RANK[role]:
            raise HTTPException(403, f"this needs the {role} role; key {who.name!r} is {who.role}")
        return who
    return check


Viewer = Annotated[ApiKey, Depends(needs("viewer"))]
Operator = Annotated[ApiKey, Depends(needs("operator"))]
Supervisor = Annotated[ApiKey, Depends(needs("supervisor"))]
DeskDep = Annotated[Desk, Depends(ready_desk)]


def acting_role(who: ApiKey, asked: str | None) -> str:
    if asked is None:
        return who.role
    if ROLE_RANK[asked] > ROLE_RANK[who.role]:
        raise HTTPException(403, f"key {who.name!r} is {who.role}; it cannot act as {asked}")
    return asked


def idem(who: ApiKey, key: str | None) -> str | None:
    return None if key is None else f"{who.name}:{key}"  # scoped per caller: two callers never share a key


def check_thread(desk: Desk, thread_id: str, who: ApiKey, must_exist: bool) -> None:
    """Operators and viewers see their own threads; supervisors see all. Others' threads are 404."""
    row = desk.audit.thread(thread_id)
    if row is None:
        if must_exist and not desk.history(thread_id):
            raise HTTPException(404, f"no thread with id {thread_id!r}")
        return
    if row.owner != who.name and ROLE_RANK[who.role] < ROLE_RANK["supervisor"]:
        raise HTTPException(404, f"no thread with id {thread_id!r}")
