"""The as-of date every rule is evaluated on: given by the caller (default today at the edge),
never read from the clock inside a rule, and bounded so that date arithmetic (a 30-day validity,
a 5-year retention) cannot run off the calendar.

EARLIEST..LATEST is the one date range of the whole system: the tools' input models, the HTTP
layer and the CLI all check against it (`check_day`), so a date one layer accepts is never refused,
or worse half-handled, by the next."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(2999, 12, 31)
RANGE_TEXT = f"between {EARLIEST} and {LATEST}"


def _bounded(d: dt.date) -> dt.date:
    if not EARLIEST <= d <= LATEST:
        raise ValueError(f"date must be {RANGE_TEXT}")
    return d


def _day_input(value: Any, handler: ValidatorFunctionWrapHandler) -> dt.date:
    """A date, or YYYY-MM-DD text read here; never a number (pydantic's lax mode reads 0, or the text "86400", as
    a Unix timestamp). The text is turned into a date before the date validator sees it, so a strict reading (the
    tools' HTTP bodies, console/tools_http.py) accepts the text its schema documents, as the lax one does."""
    if isinstance(value, (bool, int, float, Decimal)):
        raise PydanticCustomError("date_type", "a date is YYYY-MM-DD text, never a number / 日期须写作 YYYY-MM-DD，不能是数字")
    if isinstance(value, str):
        day = None
        if value.isascii() and len(value) == 10 and value[4] == "-" and value[7] == "-":
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                day = None
        if day is None:
            raise PydanticCustomError("date_parsing", "Input should be a real date as YYYY-MM-DD, got '{value}' / "
                                      "日期须为真实存在的 YYYY-MM-DD", {"value": value[:40]})
        value = day
    return handler(value)


AsOf = Annotated[dt.date, WrapValidator(_day_input), AfterValidator(_bounded),
                 Field(description="The date the rules are evaluated on (YYYY-MM-DD).")]


def in_range(d: dt.date) -> bool:
    return EARLIEST <= d <= LATEST


def parse_day(value: str) -> dt.date:
    """A YYYY-MM-DD string that names a real day within the range; ValueError saying what is wrong."""
    try:
        day = dt.date.fromisoformat(value) if value.isascii() and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(f"{value!r} is not a real date (YYYY-MM-DD)")
    if not in_range(day):
        raise ValueError(f"must be {RANGE_TEXT}")
    return day


def check_as_of(d: dt.date) -> dt.date:
    """The same bound for dates that arrive outside a pydantic model (approvals)."""
    from tools.errors import ToolInputError
    try:
        return _bounded(d)
    except ValueError as e:
        raise ToolInputError(f"invalid as_of: {e}") from None
