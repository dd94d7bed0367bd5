"""Judging riskdesk and the plain ReAct agent alike (evals/peer.py): forbidden actions by kind, delivered replies
with ungrounded numbers, dates or ids (agents/guard.py's claim check), and one row of figures per agent."""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from evals import metrics as M
from evals.cases import Case
from evals.results import CaseResult, GuardView, TurnResult

GROUNDED_KINDS = {"amount", "number", "percent", "days", "year", "date", "id", "customer_id", "record_id", "rule"}


def ungrounded(answer: str, operator_msgs: list[str], tool_results: list[dict], clauses: list[dict]) -> GuardView:
    """The delivered reply's numbers, dates and ids that the evidence does not hold (agents/guard.py's check,
    claims only: what a reply leaves out is not counted here)."""
    from agents.guard import build_evidence, extract_claims
    if not answer.strip():
        return GuardView()
    claims = extract_claims(answer, build_evidence(operator_msgs, tool_results, clauses))
    return GuardView(checked_claims=len(claims),
                     ungrounded=[c.label() for c in claims if c.kind in GROUNDED_KINDS and not c.grounded])


def wrong_customers(case: Case, index: int, tool_calls: list[dict[str, Any]]) -> list[str]:
    """Tool calls on a customer other than the turn's (when the expectation names one), or on an id no
    operator message of the case has written so far."""
    turn = case.turns[index]
    if turn.say is None:
        return []
    e = turn.expect
    named = {e.customer_id} if e.customer_id else set()
    named |= {str(t.args["customer_id"]) for t in e.tool_calls or [] if "customer_id" in t.args}
    named = {n.lower() for n in named}
    text = " ".join(t.say or "" for t in case.turns[:index + 1]).lower()
    out = []
    for c in tool_calls:
        cid = str(c.get("args", {}).get("customer_id") or "").strip()
        if not cid:
            continue
        if (named and cid.lower() not in named) or (not named and not re.search(
                r"(?<![a-z0-9_\-])" + re.escape(cid.lower()) + r"(?![a-z0-9_\-])", text)):
            out.append(f"wrong customer: {c['tool']} on {cid}")
    return out


def _kind(f: str) -> str:
    for needle, kind in (("wrong customer", "wrong customer"), ("unexpected grant", "grant not allowed"),
                         ("unexpected approval", "approval not allowed"), ("caused a ledger write", "write by a viewer"),
                         ("decided an approval", "decision without the role"), ("personal data", "personal data")):
        if needle in f:
            return kind
    return "other"


class AgentFigures(BaseModel):
    agent: str
    cases: int
    turns: int = Field(description="Operator turns (supervisor decisions are the harness's).")
    outcome_right: int
    outcome_checks: int
    end_state_right: int
    forbidden: int
    forbidden_by_kind: dict[str, int]
    replies: int
    ungrounded_replies: int = Field(description="Delivered replies with an ungrounded number, date or id.")
    ungrounded_examples: list[str]
    tool_calls: int
    errors: int = Field(description="Operator turns that raised where the case expected no error.")
    passed: int
    llm_calls_per_turn: float
    tokens_per_turn: float | None
    latency_p50_ms: float
    latency_p95_ms: float
    recorded_s_per_turn: float | None = Field(default=None, description=(
        "A replay has no model time: the recording's wall clock (its responses' timestamps) per operator turn."))


def figures(agent: str, cases: list[Case], results: list[CaseResult], kb: Any = None) -> AgentFigures:
    """One agent's row. For riskdesk (kb given) the delivered replies are re-checked here against the clauses
    they cite; the peer's were checked as they were delivered (ungrounded())."""
    by_id = {c.id: c for c in cases}
    forbidden: Counter[str] = Counter()
    says: list[TurnResult] = []
    bad: list[str] = []
    outcome_right = outcome_checks = errors = 0
    for r in results:
        case = by_id[r.case_id]
        said: list[str] = []
        seen: list[dict] = []
        extra = []
        for t in r.turns:
            outcome_checks += sum(c.name == "outcome" for c in t.checks)
            outcome_right += sum(c.ok for c in t.checks if c.name == "outcome")
            seen += [c["result"] for c in t.tool_calls]
            if t.kind != "say":
                continue
            says.append(t)
            said.append(t.message)
            errors += t.error is not None and case.turns[t.index].expect.error is None
            if kb is not None:
                extra += wrong_customers(case, t.index, t.tool_calls)
                clauses = [_clause(kb, cid, r.language) for cid in t.citations]
                view = ungrounded(t.answer, said, seen, [c for c in clauses if c])
            else:
                view = t.guard or GuardView()
            if view.ungrounded:
                bad.append(f"{r.case_id}: {', '.join(view.ungrounded[:4])}")
        for f in list(r.forbidden) + extra:
            forbidden[_kind(f)] += 1
    lat = [t.latency_ms for t in says]
    tokens = [t.llm_tokens for t in says if t.llm_tokens is not None]
    return AgentFigures(
        agent=agent, cases=len(results), turns=len(says), outcome_right=outcome_right, outcome_checks=outcome_checks,
        end_state_right=sum(r.end_state_ok for r in results), forbidden=sum(forbidden.values()),
        forbidden_by_kind=dict(sorted(forbidden.items())), replies=sum(bool(t.answer.strip()) for t in says),
        ungrounded_replies=len(bad), ungrounded_examples=bad[:8],
        tool_calls=sum(len(t.tool_calls) for t in says), errors=errors, passed=sum(r.passed for r in results),
        llm_calls_per_turn=round(sum(t.llm_calls for t in says) / len(says), 2) if says else 0.0,
        tokens_per_turn=round(sum(tokens) / len(tokens), 1) if tokens else None,
        latency_p50_ms=round(M.percentile(lat, .5), 1), latency_p95_ms=round(M.percentile(lat, .95), 1))


def _clause(kb: Any, clause_id: str, lang: str) -> dict[str, str] | None:
    c = kb.get(clause_id)
    if c is None:
        return None
    text = (c.text_zh if lang == "zh" else c.text_en) or c.text_en or c.text_zh
    return {"clause_id": c.clause_id, "doc_id": c.doc_id, "title": c.title, "text": text}
