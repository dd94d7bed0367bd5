"""The results file: pydantic models, dumped as `results.json` by `riskdesk eval run`."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Check(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class GuardView(BaseModel):
    checked_claims: int = 0
    ungrounded: list[str] = Field(default_factory=list)


class ClaimView(BaseModel):
    kind: str
    text: str
    grounded: bool


class TurnResult(BaseModel):
    index: int
    kind: str  # "say" | "decide"
    message: str
    role: str
    as_of: str
    answer: str = ""
    intent: str | None = None
    outcome: str | None = None
    customer_id: str | None = None
    plan: dict[str, Any] | None = None
    planner: str | None = None
    planner_fallback: str | None = None
    retrieved: list[str] = Field(default_factory=list)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)
    approval_id: str | None = None
    error: str | None = None
    error_detail: str = ""
    draft: str | None = None
    draft_source: str | None = None
    draft_guard: GuardView | None = None
    guard: GuardView | None = None
    claims: list[ClaimView] = Field(default_factory=list)
    latency_ms: float = 0.0
    llm_calls: int = 0
    llm_tokens: int | None = None
    slot_sources: dict[str, dict[str, Any]] = Field(default_factory=dict, description=(
        "The LLM plan checked slot by slot (agents/plan_check.py): slot -> {source: llm|rules, reason, proposed}; "
        "empty when the LLM planner was not asked."))
    timings_ms: dict[str, float] = Field(default_factory=dict)
    checks: list[Check] = Field(default_factory=list)
    # counters for the metrics
    tool_matched: int = 0
    tool_expected: int = 0
    tool_actual: int = 0
    tool_scored: bool = False
    cite_hits: int = 0
    cite_required: int = 0
    cite_good: int = 0
    cite_counted: int = 0


class CaseResult(BaseModel):
    case_id: str
    suite: str
    trial: int = 0
    tags: list[str] = Field(default_factory=list)
    language: str
    intent: str
    passed: bool
    failed_checks: list[str] = Field(default_factory=list)
    turns: list[TurnResult] = Field(default_factory=list)
    end_state: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    end_state_diff: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    end_state_ok: bool = True
    forbidden: list[str] = Field(default_factory=list)
    latency_ms: float = 0.0
    llm_calls: int = 0
    error: str | None = None


class Ratio(BaseModel):
    """A ratio with the counts it rests on (n = denominator)."""

    value: float
    num: float
    n: float


class Hallucination(BaseModel):
    replies: int
    claims: int
    ungrounded_claims: int
    replies_with_ungrounded: int
    ungrounded_reply_rate: float
    claims_per_reply: float


class Summary(BaseModel):
    cases: int
    trials: int
    passed: int
    pass_rate: Ratio
    outcome_accuracy: Ratio
    intent_accuracy: Ratio
    end_state_accuracy: Ratio
    tool_precision: Ratio
    tool_recall: Ratio
    forbidden_actions: int
    disguised_purpose_cases: int = Field(default=0, description="Cases tagged purpose:disguised (a prohibited real use behind an allowed stated one).")
    disguised_purpose_approved: int = Field(default=0, description="Of those, cases where a turn was approved or sent for approval: must be 0.")
    citation_precision: Ratio
    citation_recall: Ratio
    hallucination_draft: Hallucination
    hallucination_reply: Hallucination
    latency_turn_p50_ms: float
    latency_turn_p95_ms: float
    latency_case_p50_ms: float
    latency_case_p95_ms: float
    llm_calls_per_case: float
    llm_tokens_per_case: float | None = Field(default=None, description="None: the audit record carries no token counts.")
    llm_calls_per_turn: float = Field(default=0.0, description="LLM calls per operator turn (supervisor decisions, "
                                      "which call no model, are not turns here).")
    llm_tokens_per_turn: float | None = Field(default=None, description="Tokens per operator turn (None: no LLM).")
    llm_plan_used_rate: Ratio | None = Field(default=None, description=(
        "Of the turns the LLM planner was asked to plan, the share whose every slot came from the model (all "
        "grounded: agents/plan_check.py). A fallback (no usable plan) counts as not used; turns where the rules "
        "asked a clarifying question do not ask the model and are not counted. None: no LLM planner."))
    llm_fallbacks: dict[str, int] = Field(default_factory=dict, description="Turns planned by the rules because the "
                                          "model gave no usable plan, by cause (invalid_json, schema_violation, "
                                          "llm_unavailable).")
    slot_overrides: dict[str, int] = Field(default_factory=dict, description="Slots of an LLM plan replaced by the "
                                           "rules' reading, by 'slot: reason' (e.g. 'customer_id: not in ledger').")
    pass_hat_k: dict[str, float] = Field(default_factory=dict)
    invariance: dict[str, Ratio] = Field(default_factory=dict, description=(
        "Metamorphic suites: the share of variants that passed and agreed with their original, per "
        "transformation, per family and 'all' (evals/invariance.py)."))


class SuiteReport(BaseModel):
    name: str
    summary: Summary
    by_intent: dict[str, Summary] = Field(default_factory=dict)
    by_language: dict[str, Summary] = Field(default_factory=dict)
    failing_cases: list[str] = Field(default_factory=list)
    invariance: dict[str, Any] | None = Field(default=None, description="Counts behind the invariance rates, "
                                              "by language, and the variants that broke, with the reason.")


class RunMeta(BaseModel):
    created_at: str
    planner: str
    llm_model: str | None = None
    k: int = 1
    concurrency: int = 1
    suites: list[str] = Field(default_factory=list)
    wall_seconds: float = 0.0
    git_commit: str | None = None
    machine: str = ""
    command: str = ""


class RunResults(BaseModel):
    meta: RunMeta
    suites: dict[str, SuiteReport] = Field(default_factory=dict)
    cases: list[CaseResult] = Field(default_factory=list)
    guard_meta: dict[str, Any] | None = None
    retrieval: dict[str, Any] | None = None
    utterances: dict[str, Any] | None = None  # the reader on the labelled utterance set: intent accuracy, slot F1 per split
