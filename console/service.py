"""The HTTP service: the Desk over HTTP (FastAPI), plus the operator web console at `/`.

    from console.service import create_app
    app = create_app(desk, keys={"k-op": {"name": "alice", "role": "operator"}})

One process owns the Desk (the Chroma client, the ledger, the threads and the audit log); run one
worker. Request and response bodies are the pydantic models of `agents.contract` (and a few small
models below composed from them), so `/openapi.json` is generated from the same source as
`riskdesk ask --json`.

Auth: every /v1 route needs an API key (`X-API-Key: KEY` or `Authorization: Bearer KEY`). A key maps to
a name (the audit record's caller) and a role (viewer < operator < supervisor). A request acts with
its key's role; it may ask for a lower role, never a higher one. Keys come from `RISKDESK_API_KEYS`
("key:name:role,key2:name2:role2") and/or the JSON or TOML file named by `RISKDESK_API_KEYS_FILE`
(`{"keys": [{"key": "...", "name": "alice", "role": "operator"}]}`, or `[[keys]]` tables in TOML).
"""

import asyncio
import copy
import fcntl
import gc
import hashlib
import json
import logging
import os
import threading
import tomllib
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, Mapping

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import to_jsonable_python
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from agents.audit import AuditRecord
from agents.clock import AsOfNotAllowed
from agents.contract import RESERVED_THREAD_PREFIX, ROLE_RANK, ApprovalDecision, AskRequest, AskResult, Role
from agents.desk import Desk, PermissionDenied
from console.events_http import events_router
from console.desk_routes import router as desk_router
from console.limits_http import HttpGuard, HttpLimits
from console.turn_processes import TurnProcesses, TurnProcessError
from tools import ApprovalError, ToolInputError
from tools.home import riskdesk_home
from tools.privacy import MaskingFilter
from tools.approvals import Approval, get_approval
from tools.dates import parse_day

log = logging.getLogger("riskdesk.service")
_masking = MaskingFilter()
log.addFilter(_masking)  # tracebacks can carry an operator's message: masked like audit records
WEB_DIR = Path(__file__).parent / "web"
KEYS_ENV, KEYS_FILE_ENV = "RISKDESK_API_KEYS", "RISKDESK_API_KEYS_FILE"


# ------------------------------------------------------------------ API keys

class ApiKey(BaseModel):
    """What one API key stands for."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,60}$", description="The caller named in audit records.")
    role: Role


class KeyConfigError(ValueError):
    """A malformed key list; the message says where."""


HASHED = "sha256:"  # a key given by its SHA-256 digest (hex) instead of the key itself


def _key_entry(key: Any, name: Any, role: Any, where: str) -> tuple[str, ApiKey]:
    if not isinstance(key, str) or not key or any(ch.isspace() for ch in key) or len(key) > 256:
        raise KeyConfigError(f"{where}: the key must be a non-empty string without spaces (at most 256 characters)")
    if key.startswith(HASHED) and not (len(key) == len(HASHED) + 64 and all(c in "0123456789abcdef" for c in key[len(HASHED):])):
        raise KeyConfigError(f"{where}: a hashed key is 'sha256:' and 64 lower-case hex digits")
    try:
        return key, ApiKey(name=name, role=role)
    except ValidationError as e:
        msg = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise KeyConfigError(f"{where}: {msg}") from None


def hashed(key: str) -> str:
    """How a key file stores a key without holding it: 'sha256:' + the hex digest."""
    return HASHED + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def parse_keys_env(value: str) -> dict[str, ApiKey]:
    """`key1:alice:operator,key2:bob:supervisor` (whitespace around entries is ignored)."""
    keys: dict[str, ApiKey] = {}
    for i, entry in enumerate(e.strip() for e in value.split(",")):
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3:
            raise KeyConfigError(f"{KEYS_ENV} entry {i + 1}: expected KEY:NAME:ROLE, got {len(parts)} field(s)")
        k, v = _key_entry(*parts, where=f"{KEYS_ENV} entry {i + 1} ({parts[1]})")
        keys[k] = v
    return keys


def load_keys_file(path: str | Path) -> dict[str, ApiKey]:
    """JSON (`{"keys": [{"key", "name", "role"}]}`) or TOML (`[[keys]]` tables), chosen by the suffix.
    An entry gives the key itself (`key`) or only its digest (`sha256`, hex; see `riskdesk keys new`)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise KeyConfigError(f"{p}: cannot read the key file ({e.strerror})") from None
    try:
        data = tomllib.loads(raw.decode()) if p.suffix.lower() == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise KeyConfigError(f"{p}: not valid {'TOML' if p.suffix.lower() == '.toml' else 'JSON'} ({e})") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise KeyConfigError(f"{p}: expected a top-level 'keys' list of {{key, name, role}} entries")
    keys: dict[str, ApiKey] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise KeyConfigError(f"{p}: keys[{i}] must be a table/object with key, name and role")
        if ("key" in e) == ("sha256" in e):
            raise KeyConfigError(f"{p}: keys[{i}] needs exactly one of 'key' or 'sha256'")
        key = e["key"] if "key" in e else (HASHED + e["sha256"] if isinstance(e["sha256"], str) else None)
        k, v = _key_entry(key, e.get("name"), e.get("role"), where=f"{p}: keys[{i}]")
        keys[k] = v
    return keys


def keys_from_env(environ: Mapping[str, str] | None = None) -> dict[str, ApiKey]:
    """The keys configured in the environment: the file first, then RISKDESK_API_KEYS (wins on a clash)."""
    env = os.environ if environ is None else environ
    keys: dict[str, ApiKey] = {}
    if path := env.get(KEYS_FILE_ENV):
        keys.update(load_keys_file(path))
    if value := env.get(KEYS_ENV):
        keys.update(parse_keys_env(value))
    return keys


def _normalise_keys(keys: Mapping[str, Any]) -> dict[str, ApiKey]:
    out: dict[str, ApiKey] = {}
    for k, v in keys.items():
        if isinstance(v, ApiKey):
            out[k] = v
        elif isinstance(v, Mapping):
            out.update([_key_entry(k, v.get("name"), v.get("role"), where=f"key {v.get('name')!r}")])
        else:
            name, role = v
            out.update([_key_entry(k, name, role, where=f"key {name!r}")])
    return out


def _digest(token: str) -> bytes:
    """The digest of a presented token (always hashed: a digest sent as a token matches nothing)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _stored_digest(configured: str) -> bytes:
    """The digest of a configured key: given (`sha256:...`) or computed."""
    return bytes.fromhex(configured[len(HASHED):]) if configured.startswith(HASHED) else _digest(configured)


def key_holder(token: str, keys: Mapping[str, ApiKey]) -> ApiKey | None:
    """Who a presented key is, against configured keys (key or digest -> ApiKey), as the service checks it:
    the CLI acts as this identity too (`riskdesk approvals approve --key KEY`)."""
    wanted = _digest(token)
    return next((who for k, who in keys.items() if _stored_digest(k) == wanted), None)


# ------------------------------------------------------------------ request / response models

class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: e.g. ['body', 'message'] or ['header', 'Idempotency-Key'].")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error: a sentence saying what is wrong, and for bad input the fields at fault."""

    detail: str
    errors: list[ErrorItem] = Field(default_factory=list)


def _field(model: type[BaseModel], name: str) -> Any:
    return copy.deepcopy(model.model_fields[name])


class ThreadMessage(BaseModel):
    """One operator turn in an existing thread (the fields of AskRequest, less thread_id)."""

    message: str = _field(AskRequest, "message")
    role: Role | None = Field(default=None, description="Act with a lower role than the key's; default: the key's role.")
    as_of: str | None = _field(AskRequest, "as_of")
    dry_run: bool = _field(AskRequest, "dry_run")


class DecisionRequest(BaseModel):
    """A supervisor's approve/reject (the fields of ApprovalDecision; the decision is in the path and the
    supervisor is the API key's name)."""

    reason: str = _field(ApprovalDecision, "reason")
    as_of: str | None = _field(ApprovalDecision, "as_of")


class ThreadMessageView(BaseModel):
    role: str = Field(description="operator or assistant")
    text: str


class TurnRef(BaseModel):
    trace_id: str
    created_at: str
    caller: str
    role: str


class ThreadSummary(BaseModel):
    thread_id: str
    owner: str = Field(description="The key name that opened the thread.")
    created_at: str
    turns: int = Field(ge=0, description="Turns recorded in the audit log.")
    last_turn_at: str | None = None


class ThreadView(BaseModel):
    thread_id: str
    owner: str | None = Field(default=None, description="The key name that opened the thread.")
    created_at: str | None = None
    messages: list[ThreadMessageView] = Field(default_factory=list)
    turns: list[TurnRef] = Field(default_factory=list, description="Audit trace ids of the thread's turns.")


class Health(BaseModel):
    status: Literal["ok", "starting", "unavailable"]
    detail: str = ""


class WhoAmI(BaseModel):
    name: str
    role: Role


# ------------------------------------------------------------------ the service's own state

class _Stripes:
    """A bounded set of locks, one turn at a time per thread (and one decision per approval), held across
    every worker process of the service: each lock is an advisory file lock (flock) on one of `n` files
    under $RISKDESK_HOME/locks. A lock taken twice from one process also waits (each take opens its own
    descriptor), so threads and processes are treated alike."""

    def __init__(self, n: int = 64, directory: Path | None = None):
        self._n = n
        self._dir = directory or riskdesk_home(create=True) / "locks"
        self._dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, key: str) -> "_FileLock":
        n = int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=4).digest()) % self._n
        return _FileLock(self._dir / f"{n:02d}.lock")


class _FileLock:
    def __init__(self, path: Path):
        self.path, self._fd = path, None

    def acquire(self, blocking: bool = True) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock

    def __enter__(self) -> "_FileLock":
        self.acquire()
        return self

    def __exit__(self, *_: Any) -> None:
        self.release()


class _State:
    def __init__(self, desk: Desk | None, keys: dict[str, ApiKey]):
        self.desk = desk
        self.keys = {_stored_digest(k): v for k, v in keys.items()}
        self.error: str | None = None
        self.locks = _Stripes()
        self.turns: TurnProcesses | None = None
        if desk is not None:
            self.attach(desk)

    def attach(self, desk: Desk) -> None:
        _masking.names = tuple(desk.ledger.names())
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


def locked_turn(desk: Desk, locks: _Stripes, message: str, role: str, thread_id: str | None, as_of: str | None,
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


def _error_response(e: Exception) -> JSONResponse:
    status, body = error_reply(e)
    return JSONResponse(body, status_code=status)


def settle(desk: Desk) -> None:
    """Before a serving process takes requests: warm the desk, then freeze what is loaded (about 200,000
    long-lived objects: dictionaries, models, the graph) out of the garbage collector's reach. A full
    collection otherwise scans them all, about 85 ms on this 2-core machine, which is a turn's tail latency."""
    desk.warm()
    gc.collect()
    gc.freeze()


def _err(status: int, detail: str, errors: list[dict[str, Any]] | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(detail=detail, errors=errors or []).model_dump(), status_code=status, headers=headers)


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


def _bad(loc: list[str], msg: str) -> RequestValidationError:
    return RequestValidationError([{"loc": tuple(loc), "msg": msg, "type": "value_error"}])


def _check_text(loc: str, **fields: Any) -> None:
    """JSON may carry lone surrogates ("\\ud800"): no store can hold them, so they are bad input, not a 500."""
    for name, v in fields.items():
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise _bad([loc, name], "must be valid Unicode text (lone surrogate code points are not allowed)") from None


def _check_day(loc: list[str], value: str | None) -> None:
    """A real day within the one range the rules accept (tools/dates.py): the HTTP layer never lets through
    a date the rules would refuse, nor refuses one they accept."""
    if value is None:
        return
    try:
        parse_day(value)
    except ValueError as e:
        raise _bad(loc, str(e)) from None


ERRORS = {401: {"model": ErrorBody, "description": "No or unknown API key"},
          403: {"model": ErrorBody, "description": "The key's role may not do this"},
          422: {"model": ErrorBody, "description": "Bad input; `detail` says what is wrong"}}
NOT_FOUND = {404: {"model": ErrorBody, "description": "Unknown id"}}
CONFLICT = {409: {"model": ErrorBody, "description": "Conflicts with a decision already taken"}}
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=64, pattern=r"^[\x21-\x7e]+$",
                                       description="Retries with one key (per API key) grant at most once.")]
ThreadId = Annotated[str, PathParam(max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
ApprovalId = Annotated[str, PathParam(max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


# ------------------------------------------------------------------ the app

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
    state = _State(desk, _normalise_keys(keys_from_env() if keys is None else keys))
    pools: list[ThreadPoolExecutor] = []  # made on first use, shut down (after its turns finish) with the lifespan
    pool_lock = threading.Lock()

    def pool() -> ThreadPoolExecutor:
        with pool_lock:
            if not pools:
                n = turn_workers or (8 if state.desk is not None and state.desk.llm_model else 1)  # 0 = inline
                pools.append(ThreadPoolExecutor(max_workers=n, thread_name_prefix="riskdesk-turn"))
            return pools[0]

    async def in_pool(fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool(), fn, *args)

    def inline() -> bool:
        if turn_workers is not None:
            return turn_workers == 0
        return state.desk is not None and not state.desk.llm_model

    async def run_turn(desk: Desk, req: AskRequest, who: ApiKey, role: str, key: str | None) -> AskResult:
        """A turn in the next idle turn process (--workers); else on the event loop when it is inline and
        its thread is free; else in a turn thread (which waits for the thread's lock, not the loop)."""
        if state.turns is not None:
            status, payload = await state.turns.ask({
                "message": req.message, "role": role, "thread_id": req.thread_id, "as_of": req.as_of,
                "caller": who.name, "idempotency_key": idem(who, key), "dry_run": req.dry_run})
            if status == 200:
                return Response(payload, media_type="application/json")  # the AskResult's own JSON
            return JSONResponse(payload, status_code=status)
        if inline():
            lock = state.locks("t:" + req.thread_id) if req.thread_id else None
            if lock is None or lock.acquire(blocking=False):
                try:
                    return turn(desk, req, who, role, key, locked=True)
                finally:
                    if lock is not None:
                        lock.release()
        return await in_pool(turn, desk, req, who, role, key)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        if turn_processes:
            turns = TurnProcesses(turn_processes, kb_replica)
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
        with pool_lock:
            done = pools[:]
            pools.clear()
        for p in done:
            p.shutdown(wait=True, cancel_futures=False)  # turns under way finish before the process exits

    app = FastAPI(title="riskdesk", version="0.1.0", lifespan=lifespan, docs_url=None,  # /docs: console/desk_routes.py
                  description="Trusted risk decisions for consumer credit: ask, threads with SSE progress, "
                              "supervisor approvals, audit. Auth: `X-API-Key` or `Authorization: Bearer`.")
    app.state.riskdesk = state
    # an embedded app rate-limits when told to (`limits`, or RISKDESK_RATE_PER_*); `riskdesk serve` does by default
    limits = limits or HttpLimits.from_env(rate_per_key="off", rate_per_address="off")
    app.add_middleware(HttpGuard, limits=limits, authenticate=state.caller, reply=_err)

    # ---------------------------------------------------------- errors
    @app.exception_handler(RequestValidationError)
    async def _on_request_invalid(_r: Request, e: RequestValidationError) -> JSONResponse:
        errors = _errors(e)
        return _err(422, _say(errors), errors)

    @app.exception_handler(ValidationError)
    async def _on_invalid(_r: Request, e: ValidationError) -> JSONResponse:
        return _error_response(e)

    @app.exception_handler(PermissionDenied)
    async def _on_denied(_r: Request, e: PermissionDenied) -> JSONResponse:
        return _error_response(e)

    @app.exception_handler(AsOfNotAllowed)
    async def _on_dated_write(_r: Request, e: AsOfNotAllowed) -> JSONResponse:
        return _error_response(e)

    @app.exception_handler(ApprovalError)
    async def _on_approval(_r: Request, e: ApprovalError) -> JSONResponse:
        return _err(404 if str(e).startswith("no approval with id") else 409, str(e))

    @app.exception_handler(ToolInputError)
    async def _on_tool_input(_r: Request, e: ToolInputError) -> JSONResponse:
        return _error_response(e)

    @app.exception_handler(HTTPException)
    async def _on_http(r: Request, e: HTTPException) -> JSONResponse:
        if e.status_code == 400:  # FastAPI's "error parsing the body": bytes that are not UTF-8 JSON
            return _err(422, "the body could not be read as JSON (send UTF-8 encoded JSON)",
                        [{"loc": ["body"], "msg": str(e.detail), "type": "json_invalid"}])
        headers = getattr(e, "headers", None)
        if e.status_code == 405:  # one path, several routes (GET and POST /v1/threads): Allow names them all
            allowed = {m for route in app.routes if getattr(route, "methods", None)
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

    # ---------------------------------------------------------- auth
    async def ready_desk() -> Desk:  # async: no thread hop for a lookup
        if state.desk is None:
            raise HTTPException(503, state.error or "the desk is still starting (loading the knowledge base); retry shortly",
                                headers={"Retry-After": "2"})
        return state.desk

    async def authenticate(api_key: Annotated[str | None, Depends(_api_key_header)],
                     bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiKey:
        return state.identify(api_key or (bearer.credentials if bearer else None))

    def needs(role: str):  # noqa: ANN202
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

    # ---------------------------------------------------------- threads: ownership
    def check_thread(desk: Desk, thread_id: str, who: ApiKey, must_exist: bool) -> None:
        """Operators and viewers see their own threads; supervisors see all. Others' threads are 404."""
        row = desk.audit.thread(thread_id)
        if row is None:
            if must_exist and not desk.history(thread_id):
                raise HTTPException(404, f"no thread with id {thread_id!r}")
            return
        if row.owner != who.name and ROLE_RANK[who.role] < ROLE_RANK["supervisor"]:
            raise HTTPException(404, f"no thread with id {thread_id!r}")

    def turn(desk: Desk, req: AskRequest, who: ApiKey, role: str, key: str | None, locked: bool = False) -> AskResult:
        return locked_turn(desk, state.locks, req.message, role, req.thread_id, req.as_of, who.name, idem(who, key),
                           locked=locked, dry_run=req.dry_run)

    # ---------------------------------------------------------- probes
    @app.get("/healthz", response_model=Health, tags=["probes"])
    def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["probes"],
             responses={503: {"model": Health, "description": "Still loading, or the ledger is unreachable"}})
    def readyz() -> Any:
        """Readiness: the desk is open and the ledger answers."""
        if state.desk is None:
            return JSONResponse(Health(status="unavailable" if state.error else "starting",
                                       detail=state.error or "loading the knowledge base").model_dump(), status_code=503)
        if state.turns is not None and not state.turns.alive():
            return JSONResponse(Health(status="unavailable", detail="no turn process is running").model_dump(),
                                status_code=503)
        try:
            state.desk.ledger.customer_ids()
        except Exception as e:  # noqa: BLE001
            return JSONResponse(Health(status="unavailable", detail=f"ledger: {type(e).__name__}").model_dump(),
                                status_code=503)
        return Health(status="ok")

    @app.get("/v1/me", response_model=WhoAmI, tags=["auth"], responses={401: ERRORS[401]})
    def me(who: Viewer) -> WhoAmI:
        """Who this API key is: its name and role (the console's sign-in check)."""
        return WhoAmI(name=who.name, role=who.role)

    # ---------------------------------------------------------- one turn
    @app.post("/v1/ask", response_model=AskResult, tags=["turns"], responses={**ERRORS, **NOT_FOUND})
    async def ask(req: AskRequest, who: Viewer, desk: DeskDep, idempotency_key: IdemKey = None) -> AskResult:
        """One turn: the same JSON as `riskdesk ask --json`. `role` defaults to the key's role and may only
        be lower; `thread_id` continues (or starts) a conversation."""
        role = acting_role(who, req.role if "role" in req.model_fields_set else None)
        _check_text("body", message=req.message, thread_id=req.thread_id)
        _check_day(["body", "as_of"], req.as_of)
        if req.thread_id:
            check_thread(desk, req.thread_id, who, must_exist=False)
        return await run_turn(desk, req, who, role, idempotency_key)

    # ---------------------------------------------------------- threads
    @app.get("/v1/threads", response_model=list[ThreadSummary], tags=["threads"],
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

    @app.post("/v1/threads", response_model=ThreadView, status_code=201, tags=["threads"],
              responses={401: ERRORS[401], 403: ERRORS[403]})
    def new_thread(who: Viewer, desk: DeskDep) -> ThreadView:
        """Open a new conversation thread owned by this key."""
        import uuid
        thread_id = f"t-{uuid.uuid4().hex[:12]}"
        desk.audit.claim_thread(thread_id, who.name)
        row = desk.audit.thread(thread_id)
        return ThreadView(thread_id=thread_id, owner=row.owner, created_at=row.created_at)

    @app.get("/v1/threads/{thread_id}", response_model=ThreadView, tags=["threads"],
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

    @app.post("/v1/threads/{thread_id}/messages", tags=["threads"], response_model=AskResult,
              responses={**ERRORS, **NOT_FOUND, 200: {
                  "description": "Server-Sent Events by default: one event per team member as it finishes "
                                 "(supervisor = plan, risk_operator = tool calls, policy_researcher = citations, "
                                 "composer = draft, compliance_reviewer = guard verdict, deliver / await_approval), "
                                 "then `result` (an AskResult) or `error` (an ErrorBody). "
                                 "With `Accept: application/json`: the AskResult only.",
                  "content": {"text/event-stream": {}}}})
    async def post_message(thread_id: ThreadId, body: ThreadMessage, request: Request, who: Viewer, desk: DeskDep,
                           idempotency_key: IdemKey = None) -> Any:
        """One turn in a thread, streamed as Server-Sent Events (progress, then the result)."""
        role = acting_role(who, body.role)
        _check_text("body", message=body.message)
        _check_day(["body", "as_of"], body.as_of)
        if thread_id.lower().startswith(RESERVED_THREAD_PREFIX):
            raise _bad(["path", "thread_id"], f"thread ids starting {RESERVED_THREAD_PREFIX!r} are reserved for the "
                                              "records of approval decisions; no turn can be asked in one")
        check_thread(desk, thread_id, who, must_exist=True)
        req = AskRequest(message=body.message, role=role, thread_id=thread_id, as_of=body.as_of, dry_run=body.dry_run)
        accept = request.headers.get("accept", "")
        if "application/json" in accept and "text/event-stream" not in accept:
            return await run_turn(desk, req, who, role, idempotency_key)
        events = desk.stream(req.message, role=role, thread_id=thread_id, as_of=req.as_of, caller=who.name,
                             idempotency_key=idem(who, idempotency_key), dry_run=req.dry_run)  # validates first
        return EventSourceResponse(_sse(events, state.locks("t:" + thread_id), pool()), ping=15,
                                   headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # ---------------------------------------------------------- approvals
    @app.get("/v1/approvals", response_model=list[Approval], tags=["approvals"], responses=ERRORS)
    def approvals(who: Operator, desk: DeskDep,
                  status: Annotated[Literal["pending", "approved", "rejected", "expired", "all"], Query()] = "pending"
                  ) -> list[Approval]:
        """Temporary-quota approvals (pending by default). Operators and supervisors. Pending approvals past
        their decide-by day are marked expired as they are listed."""
        return desk.approvals(None if status == "all" else status)

    def decide(decision: str, approval_id: str, body: DecisionRequest | None, who: ApiKey, desk: Desk) -> AskResult:
        body = body or DecisionRequest()
        _check_text("body", reason=body.reason)
        _check_day(["body", "as_of"], body.as_of)
        if get_approval(desk.ledger, approval_id) is None:
            raise HTTPException(404, f"no approval with id {approval_id!r}")
        with state.locks("a:" + approval_id):
            return desk.decide(approval_id, ApprovalDecision(decision=decision, supervisor=who.name, reason=body.reason,
                                                             as_of=body.as_of), role=who.role, caller=who.name)

    @app.post("/v1/approvals/{approval_id}/approve", response_model=AskResult, tags=["approvals"],
              responses={**ERRORS, **NOT_FOUND, **CONFLICT})
    async def approve(approval_id: ApprovalId, who: Supervisor, desk: DeskDep, body: DecisionRequest | None = None) -> AskResult:
        """Approve a pending temporary quota (supervisor; the key's name is the approver, dated today). Twice is
        a no-op; approving a rejected or expired one, or while another quota's validity overlaps (TQ4), is 409;
        the requester approving their own request is 403; an `as_of` other than today on a persistent store
        is 422. A failed approve changes nothing: the next approve or reject is decided afresh."""
        return await in_pool(decide, "approve", approval_id, body, who, desk)

    @app.post("/v1/approvals/{approval_id}/reject", response_model=AskResult, tags=["approvals"],
              responses={**ERRORS, **NOT_FOUND, **CONFLICT})
    async def reject(approval_id: ApprovalId, who: Supervisor, desk: DeskDep, body: DecisionRequest | None = None) -> AskResult:
        """Reject a pending temporary quota (supervisor), always possible while it is pending. Twice, or on an
        expired one, is a no-op; rejecting an approved one is 409."""
        return await in_pool(decide, "reject", approval_id, body, who, desk)

    # ---------------------------------------------------------- audit
    @app.get("/v1/audit/{trace_id}", response_model=AuditRecord, tags=["audit"], responses={**ERRORS, **NOT_FOUND})
    def audit(trace_id: Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")], who: Viewer,
              desk: DeskDep) -> AuditRecord:
        """One turn's audit record (personal data masked). Supervisors read any; others their own turns."""
        record = desk.audit.get(trace_id)
        if record is None or (record.caller != who.name and ROLE_RANK[who.role] < ROLE_RANK["supervisor"]):
            raise HTTPException(404, f"no audit record with trace id {trace_id!r}")
        return record

    app.include_router(events_router())  # /v1/events (SSE) and the webhook dispatcher (console/events_http.py)
    app.include_router(desk_router)  # the operator desk: card, search, exports, inbox, offline /docs
    if web and WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="console")
    return app


async def _sse(events: Iterator[dict[str, Any]], lock: "_FileLock", pool: ThreadPoolExecutor):  # noqa: ANN202
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
