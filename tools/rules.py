"""Rule ids the tools apply, and the knowledge-base clause each one cites.

R1–R4: the central bank's one-time personal credit repair (tools/repair_check.py).
TQ1–TQ7: the lender's temporary-quota policy (tools/temp_quota.py); a policy version may name other clauses
(tools/policy.py), and `clause_for(rule, as_of)` follows it.
LIMIT: credit-limit lookup semantics (tools/limit_lookup.py).
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

RuleId = Literal["R1", "R2", "R3", "R4", "TQ1", "TQ2", "TQ3", "TQ4", "TQ5", "TQ6", "TQ7", "LIMIT"]

RULE_CLAUSES: dict[str, str] = {
    "R1": "PBOC-REPAIR-R1",
    "R2": "PBOC-REPAIR-R2",
    "R3": "PBOC-REPAIR-R3",
    "R4": "PBOC-REPAIR-R4",
    **{f"TQ{i}": f"LENDER-TQ-TQ{i}" for i in range(1, 8)},
    "LIMIT": "LENDER-LIMIT-LOOKUP",
}


def clause_for(rule: str, as_of: dt.date | str | None = None) -> str:
    """The clause a rule cites: the one the policy version in force on `as_of` names for the rule's parameters
    (tools/policy.py), else the default above (a rule without parameters, or no date)."""
    if as_of is not None:
        from tools.policy import in_force
        day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)[:10])
        if named := in_force(day).rule_clause(rule):
            return named
    if rule in RULE_CLAUSES:
        return RULE_CLAUSES[rule]
    from tools.registry import plugin_rule_clause
    if named := plugin_rule_clause(rule):  # a lender's own tool declares its rules' clauses
        return named
    raise KeyError(rule)


def result_day(result: dict) -> str | None:
    """The day a tool result was decided as of (an approval: the day it was decided)."""
    approval = result.get("approval") or {}
    return result.get("as_of") or (result.get("grant") or {}).get("granted_on") or approval.get("decided_on") \
        or approval.get("requested_on")
