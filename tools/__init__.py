"""The hands: typed tools over the customer ledger. Rules decide here, nowhere else.

Each tool is a typed function with a pydantic input model and a pydantic result; the JSON schema
an LLM sees comes from the input model (`TOOLS[name].input.model_json_schema()`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

from tools.ledger import Ledger, LedgerError
from tools.limit_lookup import LimitLookupInput, LimitLookupResult, limit_lookup
from tools.repair_check import RepairCheckInput, RepairCheckResult, repair_check
from tools.rules import RULE_CLAUSES, clause_for
from tools.approvals import Approval, ApprovalError, approve, get_approval, list_approvals, reject
from tools.errors import PermissionDenied, ToolInputError
from tools.temp_quota import TempQuotaInput, TempQuotaResult, temp_quota


@dataclass(frozen=True)
class Tool:
    name: str
    input: type[BaseModel]
    output: type[BaseModel]
    fn: Callable[..., BaseModel]

    @property
    def description(self) -> str:
        return (self.input.__doc__ or self.name).strip()

    def schema(self) -> dict[str, Any]:
        """OpenAI-style function spec generated from the input model."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.input.model_json_schema()}}

    def __call__(self, ledger: Ledger, **kwargs: Any) -> BaseModel:
        return self.fn(ledger, **kwargs)


TOOLS: dict[str, Tool] = {
    "limit_lookup": Tool("limit_lookup", LimitLookupInput, LimitLookupResult, limit_lookup),
    "temp_quota": Tool("temp_quota", TempQuotaInput, TempQuotaResult, temp_quota),
    "repair_check": Tool("repair_check", RepairCheckInput, RepairCheckResult, repair_check),
}

__all__ = [
    "TOOLS", "Tool", "Ledger", "LedgerError", "ToolInputError", "ApprovalError", "PermissionDenied", "RULE_CLAUSES",
    "clause_for", "limit_lookup", "temp_quota", "repair_check", "approve", "reject", "list_approvals", "get_approval",
    "Approval",
    "LimitLookupResult", "TempQuotaResult", "RepairCheckResult",
]
