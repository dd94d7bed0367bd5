"""The service's own request and response bodies, composed from the pydantic models of `agents.contract`
(one source for the CLI JSON, the OpenAPI document and the tool schemas)."""
from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.contract import ApprovalDecision, AskRequest, Role


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
