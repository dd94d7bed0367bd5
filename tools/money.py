"""Money is exact: Decimal yuan at the edges, integer fen in storage. Never float arithmetic."""
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


# Yuan with at most two decimals. JSON output is a number (shortest repr of a 2-decimal value
# is exact); all arithmetic stays in Decimal or fen.
Yuan = Annotated[
    Decimal,
    AfterValidator(_exact),
    PlainSerializer(float, return_type=float, when_used="json"),
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
