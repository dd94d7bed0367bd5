"""Rule ids the tools apply, and the knowledge-base clause each one cites.

R1–R4: the central bank's one-time personal credit repair (tools/repair_check.py).
TQ1–TQ7: the lender's temporary-quota policy, version 2026-01 (tools/temp_quota.py).
LIMIT: credit-limit lookup semantics (tools/limit_lookup.py).
"""
from __future__ import annotations

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


def clause_for(rule: str) -> str:
    return RULE_CLAUSES[rule]
