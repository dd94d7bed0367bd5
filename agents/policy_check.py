"""`riskdesk policy check`: every version of a policy held against the knowledge base.

Each parameter's value must be stated in its clause's text, in Chinese and in English (each text the clause
has), by a clause in force over the whole period the version governs (its effective_from to the day before
the next version). Any other case is a Mismatch naming the parameter, the version, the clause and both values.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Literal

from pydantic import BaseModel, Field

from agents.policy_text import plain, said, states
from tools.policy import TABLES, Policy, PolicyVersion

Reason = Literal["not_stated", "no_clause_named", "clause_not_found", "clause_not_in_force"]


class Mismatch(BaseModel):
    """A parameter whose clause does not state it (政策参数与条款不一致)."""
    version: str
    parameter: str
    clause_id: str | None
    value: str = Field(description="The parameter's value in the policy.")
    clause_says: list[str] = Field(default_factory=list, description="The figures of that kind the clause states.")
    language: Literal["zh", "en"] | None = None
    reason: Reason

    def line(self) -> str:
        says = ", ".join(self.clause_says) or "—"
        what = {"not_stated": f"the clause ({self.language}) states {says}, not {self.value}",
                "no_clause_named": "no clause is named for it",
                "clause_not_found": "the clause is not in the knowledge base",
                "clause_not_in_force": "the clause is not in force over the whole period of the version"}[self.reason]
        return (f"version {self.version}: {self.parameter} = {self.value} / clause {self.clause_id or '—'}: {what}"
                f" / 版本{self.version}：参数{self.parameter}={self.value}，条款{self.clause_id or '—'}："
                + {"not_stated": f"条款（{self.language}）写的是{says}", "no_clause_named": "未指定条款",
                   "clause_not_found": "知识库中没有该条款",
                   "clause_not_in_force": "条款在该版本的整个有效期内并不都有效"}[self.reason])


def _covers(clause: Any, start: dt.date, end: dt.date | None) -> bool:
    if clause.effective_from > start:
        return False
    if clause.effective_to is None:
        return True
    return end is not None and clause.effective_to >= end


def check_version(policy: Policy, v: PolicyVersion, get_clause: Callable[[str], Any]) -> list[Mismatch]:
    start, end = policy.period(v)
    out: list[Mismatch] = []
    for table in TABLES:
        params = getattr(v, table)
        for name, value in params.values().items():
            base = dict(version=v.id, parameter=name, value=plain(value))
            cid = params.clauses.get(name)
            if cid is None:
                out.append(Mismatch(**base, clause_id=None, reason="no_clause_named"))
                continue
            clause = get_clause(cid)
            if clause is None:
                out.append(Mismatch(**base, clause_id=cid, reason="clause_not_found"))
                continue
            if not _covers(clause, start, end):
                out.append(Mismatch(**base, clause_id=cid, reason="clause_not_in_force"))
                continue
            for lang, text in (("zh", clause.text_zh), ("en", clause.text_en)):
                if text and not states(name, value, text):
                    out.append(Mismatch(**base, clause_id=cid, clause_says=said(name, text), language=lang,
                                        reason="not_stated"))
    return out


def check_policy(policy: Policy, get_clause: Callable[[str], Any]) -> list[Mismatch]:
    """Every mismatch of every version (empty: the policy and its clauses agree)."""
    return [m for v in policy.versions for m in check_version(policy, v, get_clause)]


def shipped_clauses() -> Callable[[str], Any]:
    """The desk's clause lookup: shipped clauses straight from their files, others from the knowledge base."""
    from knowledge.store import ShippedFirst
    return ShippedFirst().get
