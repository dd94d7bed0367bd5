"""Money is exact: Decimal yuan at the edges, integer fen in storage. Never float arithmetic, and
never a JSON float on the wire: every Yuan value crosses a boundary (API, CLI --json, audit
records, tool-call arguments) as a decimal string with two places, "4000.00"."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("10000000")


def _exact(v: Decimal) -> Decimal:
    if not v.is_finite():
        raise ValueError("amount must be a finite number")
    if v != v.quantize(CENT):
        raise ValueError("amount has more than 2 decimal places (fen)")
    return v.quantize(CENT)


def yuan_str(v: Decimal | int | str) -> str:
    """The wire form of an amount: a plain decimal string with two places ("4000.00", "-0.50")."""
    return format(Decimal(v).quantize(CENT, rounding=ROUND_HALF_UP), "f")


# Yuan with at most two decimals. JSON output is a decimal string ("4000.00"); input accepts a
# number or a string; all arithmetic stays in Decimal or fen.
Yuan = Annotated[
    Decimal,
    AfterValidator(_exact),
    PlainSerializer(yuan_str, return_type=str, when_used="json"),
]


def to_fen(yuan: Decimal) -> int:
    return int((yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)


def fmt_yuan(v: Decimal) -> str:
    """10000 -> '10,000', 10000.5 -> '10,000.50' (as the composer writes amounts)."""
    v = Decimal(v)
    if v == v.to_integral_value():
        return f"{int(v):,}"
    return f"{v.quantize(CENT):,}"
