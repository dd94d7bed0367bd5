"""The HTTP service's resource limits: what one client may cost the service before it is refused.

- `HttpGuard`, a pure ASGI middleware in front of the app: a /v1 request's API key is checked from
  its headers before one byte of its body is read (401 at once); a declared Content-Length over the cap
  is 413 before reading; a streamed (chunked) body is counted and answered 413 as soon as it passes the
  cap; requests are rate limited per client address and per API key (429 with Retry-After). The probes
  (/healthz, /readyz) pass straight through, unlimited.
- `guarded_protocol()`, uvicorn's HTTP/1.1 protocol with a header-read timeout (a connection that has
  not finished its request headers in time is closed; uvicorn has none of its own), a bound on the
  unread body it drains after an early answer, and a connection cap that sheds the oldest connection
  still waiting for its headers, so idle or half-open connections cannot use up the file descriptors.

The key check is the service's own (passed in as `authenticate`), and so are its error bodies (`reply`).

Rate-limit counters live in this process's memory (the `limits` library's MemoryStorage). That is right
for `riskdesk serve`, where one HTTP process serves every request (turn processes take no connections).
Several service hosts behind one balancer would each count separately: they need shared storage (the
`limits` library takes a storage URI, e.g. a database or Redis), which is a later change.
"""
from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
import os
import resource
import time
from typing import Any, Awaitable, Callable, Mapping

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import Response

OFF = ("off", "none", "0")
ENV = {  # setting -> environment variable (`riskdesk serve` flags read the same variables)
    "max_body_bytes": "RISKDESK_MAX_BODY_BYTES",
    "rate_per_key": "RISKDESK_RATE_PER_KEY",
    "rate_per_address": "RISKDESK_RATE_PER_ADDRESS",
    "header_timeout": "RISKDESK_HEADER_TIMEOUT",
    "keep_alive": "RISKDESK_KEEP_ALIVE",
    "max_connections": "RISKDESK_MAX_CONNECTIONS",
}
PROBES = frozenset({"/healthz", "/readyz"})
FD_RESERVE = 256  # descriptors kept for the service's own files (stores, locks, pipes, logs)


def _rates(value: str) -> str:
    value = value.strip()
    if value.lower() in OFF:
        return "off"
    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if not items:
        raise ValueError(f"{value!r} is not a rate limit: write e.g. '20/second;600/minute', or 'off'")
    if any(i.amount < 1 for i in items):
        raise ValueError(f"{value!r}: each limit allows at least 1 request")
    return value


class HttpLimits(BaseModel):
    """The limits one HTTP service process enforces. A rate is one or more `N/period` joined by `;`
    (`20/second;600/minute`: both must hold), or `off`."""

    model_config = ConfigDict(frozen=True)

    max_body_bytes: int = Field(65536, ge=1024, le=64 * 1024 * 1024,
                                description="Largest request body accepted (an operator message is at most "
                                            "4,000 characters: about 48 KiB as escaped JSON at worst).")
    rate_per_key: str = Field("100/second;3000/minute", description="Requests per API key (by the key's name).")
    rate_per_address: str = Field("200/second;6000/minute",
                                  description="Requests per client address (an IPv6 address by its /64), any "
                                              "key or none.")
    header_timeout: float = Field(10.0, gt=0, le=300, description="Seconds a connection has to finish its "
                                                                   "request headers.")
    keep_alive: float = Field(5.0, gt=0, le=300, description="Seconds an idle keep-alive connection stays open.")
    max_connections: int = Field(1000, ge=8, le=1_000_000,
                                 description="Open connections at most; beyond it the oldest connection still "
                                             "waiting for its headers is closed.")

    @field_validator("rate_per_key", "rate_per_address")
    @classmethod
    def _check_rates(cls, value: str) -> str:
        return _rates(value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **defaults: Any) -> "HttpLimits":
        """`defaults` (else the class's), overridden by RISKDESK_MAX_BODY_BYTES, RISKDESK_RATE_PER_KEY, ...
        when set."""
        env = os.environ if environ is None else environ
        return cls(**(defaults | {field: env[var] for field, var in ENV.items() if env.get(var, "").strip()}))

    def fit_descriptors(self) -> tuple["HttpLimits", str | None]:
        """These limits with `max_connections` fitted to the process's open-file limit: the soft limit is
        raised towards the hard one if it is short, else the cap is lowered (and a warning returned)."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = self.max_connections + FD_RESERVE
        if soft != resource.RLIM_INFINITY and soft < need:
            target = need if hard == resource.RLIM_INFINITY else min(need, hard)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
            except (ValueError, OSError):
                pass
        if soft != resource.RLIM_INFINITY and soft < need:
            cap = max(8, soft - FD_RESERVE)
            return (self.model_copy(update={"max_connections": cap}),
                    f"the open-file limit is {soft}: at most {cap} connections (not {self.max_connections})")
        return self, None


# ------------------------------------------------------------------ rate limits

class RateLimits:
    """Per-identity request budgets (a sliding-window counter: constant memory per identity). In-memory,
    for this process only; see the module docstring on several hosts."""

    def __init__(self, per_key: str, per_address: str, storage: Any = None):
        self._limiter = SlidingWindowCounterRateLimiter(storage or MemoryStorage())
        self._items = {"key": [] if per_key == "off" else parse_many(per_key),
                       "address": [] if per_address == "off" else parse_many(per_address)}

    def hit(self, kind: str, who: str) -> tuple[RateLimitItem, int] | None:
        """Count one request of `who` against each of its limits in turn: None if every one holds, else the
        first it would pass (counted against none from there on) and the seconds until it may retry."""
        for item in self._items[kind]:
            if not self._limiter.hit(item, kind, who):
                reset, _ = self._limiter.get_window_stats(item, kind, who)
                return item, max(1, math.ceil(reset - time.time()))
        return None


def address_of(scope: Mapping[str, Any]) -> str:
    """The client address a per-address budget is kept for: IPv4 as is, IPv6 by its /64 (one host
    usually holds a whole /64)."""
    client = scope.get("client")
    return _bucket(client[0] if client else "unknown")


@functools.lru_cache(maxsize=4096)
def _bucket(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# ------------------------------------------------------------------ the middleware

Reply = Callable[..., Response]  # (status, detail, headers=...) -> an ErrorBody response


class HttpGuard:
    """Pure ASGI middleware: rate limits, auth before the body, the body cap (see the module docstring).

    `authenticate(conn)`: the service's key check on the request's headers; returns the caller's name
    (the per-key budget) or raises HTTPException (401). `reply(status, detail, headers=...)`: the
    service's error response. Paths under `key_prefix` (one prefix or several) need a key."""

    def __init__(self, app: Any, *, limits: HttpLimits, authenticate: Callable[[HTTPConnection], Awaitable[str]],
                 reply: Reply, key_prefix: str | tuple[str, ...] = "/v1/", rates: RateLimits | None = None):
        self.app, self.limits, self.authenticate, self.reply = app, limits, authenticate, reply
        self.key_prefixes = (key_prefix,) if isinstance(key_prefix, str) else tuple(key_prefix)
        self.rates = rates or RateLimits(limits.rate_per_key, limits.rate_per_address)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        # The key's budget first: a request its key's own budget refuses does not count against its
        # address, so one key flooding does not use up the budget of other keys behind the same address.
        # Every other request counts against its address: with a key, without one, or with a wrong one.
        address = address_of(scope)
        if any(scope["path"].startswith(p) or scope["path"] == p.rstrip("/") for p in self.key_prefixes):
            try:
                name = await self.authenticate(HTTPConnection(scope))
            except HTTPException as e:
                if refused := self.rates.hit("address", address):
                    await self._too_many(scope, receive, send, refused, f"client address {address}")
                else:
                    await self._early(scope, receive, send, e.status_code, str(e.detail), e.headers)
                return
            if refused := self.rates.hit("key", name):
                await self._too_many(scope, receive, send, refused, f"API key {name!r}")
                return
        if refused := self.rates.hit("address", address):
            await self._too_many(scope, receive, send, refused, f"client address {address}")
            return
        cap = self.limits.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await self._early(scope, receive, send, 413, _too_large(cap, f"declares {declared} bytes"))
            return
        if declared == 0 or (declared is None and not _chunked(scope)):
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, cap)

    async def _counted(self, scope: dict, receive: Callable, send: Callable, cap: int) -> None:
        """Run the app with its body counted: past the cap, answer 413 at once and end the app's reading
        (its receive says the client left; whatever it sends then is dropped)."""
        received, over, started = 0, False, False

        async def counted_receive() -> dict:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    over = True
                    if not started:
                        await self.reply(413, _too_large(cap, f"sent more than {cap} bytes"))(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if over:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over:
                raise  # the app's own failure; past the cap the 413 has been answered already

    async def _too_many(self, scope: dict, receive: Callable, send: Callable,
                        refused: tuple[RateLimitItem, int], who: str) -> None:
        item, retry = refused
        await self._early(scope, receive, send, 429,
                          f"too many requests for {who}: at most {item}; retry in {retry} s",
                          {"Retry-After": str(retry)})

    async def _early(self, scope: dict, receive: Callable, send: Callable, status: int, detail: str,
                     headers: Mapping[str, str] | None = None) -> None:
        """Answer without reading the body. The server drains a bounded amount of what the client still
        sends (so it can read this answer), then closes; see guarded_protocol()."""
        await self.reply(status, detail, headers=dict(headers or {}))(scope, receive, send)


def _content_length(scope: Mapping[str, Any]) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses such a request before it gets here
    return None


def _chunked(scope: Mapping[str, Any]) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope["headers"])


def _too_large(cap: int, what: str) -> str:
    return (f"the request body is too large: it {what}, and the service accepts at most {cap} bytes "
            f"(an operator message is at most 4,000 characters)")


# ------------------------------------------------------------------ the connection level (uvicorn)

_BUSY_TEXT = b"too many connections; retry later"
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\nconnection: close\r\n"
         b"content-length: %d\r\n\r\n%s" % (len(_BUSY_TEXT), _BUSY_TEXT))


def guarded_protocol(header_timeout: float, max_connections: int, drain_bytes: int = 1 << 20,
                     base: type | None = None) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol class (httptools when installed, else h11) with:

    - a header-read timeout: from the moment a connection opens, or from the first byte of a request
      after an idle keep-alive pause, its request headers must be complete within `header_timeout`
      seconds or the connection is closed (uvicorn itself only times out idle keep-alive connections);
    - a drain bound: after an answer given before the body was read (401, 413, 429), at most
      `drain_bytes` more of that body are read and discarded, then the connection is closed;
    - a connection cap: past `max_connections` open connections, the one that has waited longest for its
      request headers (idle, half-open or slow) is closed; if every connection is busy with a request,
      the new one is answered 503 and closed.

    Pass the class as `uvicorn.Config(http=...)`. Each call makes a new class (one per server: the
    waiting list is kept on the class)."""
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol as base  # noqa: N813

    class GuardedHTTPProtocol(base):  # type: ignore[misc, valid-type]
        _waiting: dict = {}  # connections waiting for request headers, oldest first

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._header_timer: asyncio.TimerHandle | None = None
            self._seen, self._drained = None, 0
            super().connection_made(transport)
            self._arm()
            self._sync()
            if len(self.connections) > max_connections:
                self._shed()

        def connection_lost(self, exc: Exception | None) -> None:
            self._waiting.pop(self, None)
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._idle():
                if self.cycle is not None and self.cycle.more_body:  # the body of a request already answered
                    self._drained += len(data)
                    if self._drained > drain_bytes:
                        self.transport.close()
                        return
                self._arm()
            super().data_received(data)
            self._sync()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._sync()

        # -- state
        def _idle(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _sync(self) -> None:
            if self.cycle is not self._seen:  # a request's headers are complete
                self._seen, self._drained = self.cycle, 0
            if self._idle():
                self._waiting.setdefault(self, None)
            else:
                self._waiting.pop(self, None)
                self._disarm()

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout, self._header_timeout)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if self._idle() and not self.transport.is_closing():
                self.transport.close()

        def _shed(self) -> None:
            for victim in self._waiting:
                if victim is not self:
                    self._waiting.pop(victim)
                    victim.transport.close()
                    return
            self.transport.write(_BUSY)
            self.transport.close()

    GuardedHTTPProtocol._waiting = {}
    return GuardedHTTPProtocol
