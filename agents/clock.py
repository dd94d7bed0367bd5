"""The deployment's clock: the one place that knows what day it is.

Rules never read the clock; the edge does, here. Grants, approvals and rejections on a persistent
store are dated by this clock and never by a request: today in China time (Asia/Shanghai), or the
day configured for a test or eval deployment (`RISKDESK_TODAY=YYYY-MM-DD`, or `Desk(clock=...)`).
It is read when a Desk (or a CLI command) starts, never per request.

A request may still carry an as-of date for what does not write: lookups, repair checks, policy
questions, and explicit what-ifs (`dry_run`). On a sandbox ledger (a fixture file) any as-of goes.
"""
from __future__ import annotations

import datetime as dt
import os
from typing import Callable, Mapping

TODAY_ENV = "RISKDESK_TODAY"

try:
    from zoneinfo import ZoneInfo
    CHINA: dt.tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # noqa: BLE001 - no tz database: China has kept UTC+8 without daylight saving since 1991
    CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


class AsOfNotAllowed(ValueError):
    """A request tried to date a write (a grant, an approval, a rejection) on a persistent store.
    `field` names the request field at fault (`as_of`), for a 422 that points at it."""

    def __init__(self, message: str, field: str = "as_of"):
        super().__init__(message)
        self.field = field


class ClockError(ValueError):
    """A malformed clock configuration (RISKDESK_TODAY)."""


class Clock:
    """`Clock()` is China's today; `Clock(fixed=date)` always answers that day."""

    def __init__(self, fixed: dt.date | None = None, now: Callable[[], dt.datetime] | None = None):
        self.fixed = fixed
        self._now = now or (lambda: dt.datetime.now(CHINA))

    def today(self) -> dt.date:
        return self.fixed if self.fixed is not None else self._now().astimezone(CHINA).date()

    def __repr__(self) -> str:
        return f"Clock(fixed={self.fixed})" if self.fixed else "Clock(Asia/Shanghai)"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Clock":
        """China's today, or RISKDESK_TODAY when set (a test or eval deployment)."""
        env = os.environ if environ is None else environ
        value = (env.get(TODAY_ENV) or "").strip()
        if not value:
            return cls()
        from tools.dates import parse_day
        try:
            return cls(fixed=parse_day(value))
        except ValueError as e:
            raise ClockError(f"{TODAY_ENV}: {e}") from None


def as_clock(clock: "Clock | dt.date | str | Callable[[], dt.date] | None") -> Clock:
    """What `Desk(clock=...)` accepts: a Clock, a fixed date (or YYYY-MM-DD), a zero-argument callable
    returning a date, or None for the configured clock (RISKDESK_TODAY, else China's today)."""
    if clock is None:
        return Clock.from_env()
    if isinstance(clock, Clock):
        return clock
    if isinstance(clock, dt.date):
        return Clock(fixed=clock)
    if isinstance(clock, str):
        from tools.dates import parse_day
        return Clock(fixed=parse_day(clock))
    if callable(clock):
        c = Clock()
        c.today = clock  # type: ignore[method-assign]
        return c
    raise TypeError(f"clock must be a Clock, a date or a callable, not {type(clock).__name__}")


def dated_write_refusal(asked: dt.date, today: dt.date) -> str:
    """The message for a request-level as_of on a write: what went wrong and what to do instead."""
    return (f"as_of {asked.isoformat()} cannot date a write: grants, approvals and rejections are dated today "
            f"({today.isoformat()}) by the service's clock. Leave as_of out, or send \"dry_run\": true "
            "(riskdesk ask --what-if) to see the decision as of that date without writing anything.")
