"""The answer contract: what one turn returns to the CLI (`ask --json`), the HTTP service and
in-process callers. These models are the single source of that JSON and of the OpenAPI spec."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.plan import Intent, Language

Role = Literal["viewer", "operator", "supervisor"]
Outcome = Literal["found", "not_found", "approved", "needs_approval", "denied", "eligible",
                  "partially_eligible", "ineligible", "no_records"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "supervisor": 2}


class ToolCall(BaseModel):
    tool: str
    args: dict[str, Any]
    result: dict[str, Any]


class Citation(BaseModel):
    clause_id: str
    doc_id: str
    title: str
    quote: str


class GuardVerdict(BaseModel):
    grounded: bool
    checked_claims: int
    ungrounded: list[str] = Field(default_factory=list)


class AskRequest(BaseModel):
    """One operator turn."""

    message: str = Field(min_length=1, max_length=4000, description="The operator's message, Chinese or English.")
    role: Role = Field(default="operator", description="viewer asks only; operator may request quotas; supervisor approves.")
    thread_id: str | None = Field(default=None, max_length=128, description="Continue a conversation; new when omitted.")
    as_of: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="Evaluate as of YYYY-MM-DD (default today).")


class AskResult(BaseModel):
    answer: str
    language: Language
    intent: Intent
    customer_id: str | None = None
    outcome: Outcome | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    guard: GuardVerdict
    approval_id: str | None = None
    trace_id: str
    planner: str
    thread_id: str


class ApprovalDecision(BaseModel):
    """A supervisor's decision on a pending temporary quota."""

    decision: Literal["approve", "reject"]
    supervisor: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=500)
    as_of: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
