"""Errors the tools raise for bad input: one type, a message that names the field and the problem."""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ToolInputError(ValueError):
    """Bad arguments to a tool; the message says which field and why. Nothing is written."""


def validate_input(model: type[M], what: str, **kwargs: Any) -> M:
    try:
        return model(**kwargs)
    except ValidationError as e:
        parts = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise ToolInputError(f"invalid {what}: " + "; ".join(parts)) from None


class PermissionDenied(PermissionError):
    """The caller may not do this (a role too low, or a requester approving their own request); the
    message says what is needed. Nothing is written."""
