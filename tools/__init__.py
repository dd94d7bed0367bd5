"""The hands: typed tools over the customer ledger. Rules decide here, nowhere else.

Each tool is a typed function with a pydantic input model and a pydantic result; the JSON schema
an LLM sees comes from the input model (`TOOLS[name].input.model_json_schema()`).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

from tools.ledger import Ledger, LedgerError
from tools.limit_lookup import LimitLookupInput, LimitLookupResult, limit_lookup
from tools.repair_check import RepairCheckInput, RepairCheckResult, repair_check
from tools.rules import RULE_CLAUSES, clause_for
from tools.approvals import Approval, ApprovalError, approve, get_approval, list_approvals, reject
from tools.errors import PermissionDenied, ToolInputError
from tools.registry import Tool, registry
from tools.temp_quota import TempQuotaInput, TempQuotaResult, temp_quota


class _Tools(Mapping):
    """Every registered tool by name (tools/registry.py: the entry-point group riskdesk.tools), read on first use."""

    def __getitem__(self, name: str) -> Tool:
        return registry()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(registry())

    def __len__(self) -> int:
        return len(registry())


TOOLS: Mapping[str, Tool] = _Tools()

__all__ = [
    "TOOLS", "Tool", "Ledger", "LedgerError", "ToolInputError", "ApprovalError", "PermissionDenied", "RULE_CLAUSES",
    "clause_for", "limit_lookup", "temp_quota", "repair_check", "approve", "reject", "list_approvals", "get_approval",
    "Approval",
    "LimitLookupResult", "TempQuotaResult", "RepairCheckResult",
]
