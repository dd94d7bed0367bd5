"""The as-of date every rule is evaluated on: given by the caller (default today at the edge),
never read from the clock inside a rule, and bounded so that date arithmetic (a 30-day validity,
a 5-year retention) cannot run off the calendar."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field

EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(2999, 12, 31)


def _bounded(d: dt.date) -> dt.date:
    if not EARLIEST <= d <= LATEST:
        raise ValueError(f"date must be between {EARLIEST} and {LATEST}")
    return d


AsOf = Annotated[dt.date, AfterValidator(_bounded), Field(description="The date the rules are evaluated on (YYYY-MM-DD).")]


def check_as_of(d: dt.date) -> dt.date:
    """The same bound for dates that arrive outside a pydantic model (approvals)."""
    from tools.errors import ToolInputError
    try:
        return _bounded(d)
    except ValueError as e:
        raise ToolInputError(f"invalid as_of: {e}") from None
