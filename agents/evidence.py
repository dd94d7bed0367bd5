"""What a reply may rest on: tool results, the clauses cited, the operator's own messages.

`rules_to_cite` says which rule ids a tool result supports in a reply: the deciding rule of a
denial, the rules behind a grant or a finding. A reply naming any other rule is ungrounded.
"""
from __future__ import annotations

from typing import Any

from tools.rules import clause_for, result_day


def rules_to_cite(result: dict[str, Any]) -> list[str]:
    tool, outcome = result.get("tool"), result.get("outcome")
    if outcome == "not_found":
        return []
    if tool == "limit_lookup":
        return ["LIMIT", "TQ7"]
    if tool == "temp_quota":
        if outcome == "approved":
            return ["TQ5", "TQ6"]
        if outcome == "needs_approval":
            return ["TQ5"] + (["TQ2"] if "purpose_unclassified" in result.get("reasons", []) else [])
        return [result["deciding_rule"]] if result.get("deciding_rule") else []
    if tool == "repair_check":
        rules: list[str] = []
        for r in result.get("records", []):
            for rule in ([r["deciding_rule"]] if r.get("deciding_rule") else ["R1", "R2", "R3"]):
                if rule not in rules:
                    rules.append(rule)
        return sorted(rules) + ["R4"]
    if tool == "approval":
        return ["TQ5", "TQ6"] if result.get("outcome") == "approved" else ["TQ5"]
    from tools.registry import plugins
    if tool in plugins():  # a lender's own tool: the rule that decided, else the rules it applied
        return [result["deciding_rule"]] if result.get("deciding_rule") else list(result.get("rules_applied") or [])
    return []


def clauses_to_cite(results: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for r in results:
        for rule in rules_to_cite(r):
            cid = clause_for(rule, result_day(r))
            if cid not in out:
                out.append(cid)
    return out
