"""The answer contract: what one turn returns to the CLI (`ask --json`), the HTTP service and
in-process callers. These models are the single source of that JSON and of the OpenAPI spec."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.plan import Intent, Language
from tools.dates import parse_day

Role = Literal["viewer", "operator", "supervisor"]
Outcome = Literal["found", "not_found", "approved", "needs_approval", "denied", "eligible",
                  "partially_eligible", "ineligible", "no_records"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "supervisor": 2}
# Threads the desk opens itself, for decisions taken outside any conversation: `approval-<approval id>`.
# No client may name a thread in this namespace (a claimed one would expose, or own, a decision's record).
RESERVED_THREAD_PREFIX = "approval-"
# Threads that hold the records of direct tool calls (agents/tool_calls.py), one a channel: no turn is asked in one.
DIRECT_CALL_THREADS = {"http": "direct-http", "cli": "direct-cli", "mcp": "mcp"}
# A client's thread id: a safe character set, 1-64 long, never in the reserved namespace, in any case.
def _any_case(word: str) -> str:  # `mcp` -> `[Mm][Cc][Pp]`: also valid in JSON Schema (ECMAScript) patterns
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in word)


THREAD_ID_PATTERN = (f"^(?!{_any_case(RESERVED_THREAD_PREFIX)})"
                     f"(?!(?:{'|'.join(_any_case(t) for t in sorted(DIRECT_CALL_THREADS.values()))})$)"
                     "[A-Za-z0-9_.-]{1,64}$")


def reserved_thread(thread_id: str) -> bool:
    """True for a thread id no client may ask a turn in: an approval's record or a direct-call channel's."""
    t = thread_id.lower()
    return t.startswith(RESERVED_THREAD_PREFIX) or t in DIRECT_CALL_THREADS.values()


def _real_day(v: str | None) -> str | None:
    """A real day within the one date range of tools/dates.py (the HTTP layer and the rules agree)."""
    return v if v is None else parse_day(v).isoformat()


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

    model_config = ConfigDict(regex_engine="python-re")  # the thread id pattern's look-ahead

    message: str = Field(min_length=1, max_length=4000, description="The operator's message, Chinese or English.")
    role: Role = Field(default="operator", description="viewer asks only; operator may request quotas; supervisor approves.")
    thread_id: str | None = Field(default=None, max_length=64, pattern=THREAD_ID_PATTERN,
                                  description="Continue a conversation; new when omitted. Letters, digits, '_', '.' "
                                              "and '-', at most 64; ids starting 'approval-' and the direct-call threads "
                                              "'mcp', 'direct-http', 'direct-cli' are reserved.")
    as_of: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$",
                              description="Evaluate as of YYYY-MM-DD (default today). A turn that would write (a "
                                          "temporary-quota request) is dated today on a persistent store: another "
                                          "date there is refused (422) unless dry_run is set.")
    dry_run: bool = Field(default=False, description="What-if: the rules run as of any date and nothing is written.")

    @field_validator("as_of")
    @classmethod
    def _real_day(cls, v: str | None) -> str | None:
        return _real_day(v)


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
    what_if: bool = Field(default=False, description="True for a dry run: the rules answered, nothing was written.")


class ApprovalDecision(BaseModel):
    """A supervisor's decision on a pending temporary quota."""

    decision: Literal["approve", "reject"]
    supervisor: str = Field(min_length=1, max_length=64, description="Who decides; never the requester.")
    reason: str = Field(default="", max_length=500)
    as_of: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$",
                              description="Only on a sandbox ledger: a decision on a persistent store is dated today "
                                          "by the service's clock (another date is refused).")

    @field_validator("as_of")
    @classmethod
    def _real_day(cls, v: str | None) -> str | None:
        return _real_day(v)
