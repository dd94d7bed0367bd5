"""The brain: a LangGraph team (supervisor, risk operator, policy researcher, composer,
compliance reviewer) over the tools and the knowledge base. Rules decide; the model plans and explains.

The names below are imported on first use, so that a light module of the package (the message catalogue in
agents/i18n, read by `riskdesk --help`) does not load the graph, the store and the encoder."""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = ["Desk", "AskResult", "AskRequest", "ApprovalDecision", "PermissionDenied", "Plan", "Intent"]
_HOME = {"Desk": "agents.desk", "PermissionDenied": "agents.desk", "AskResult": "agents.contract",
         "AskRequest": "agents.contract", "ApprovalDecision": "agents.contract", "Plan": "agents.plan",
         "Intent": "agents.plan"}

if TYPE_CHECKING:
    from agents.contract import ApprovalDecision, AskRequest, AskResult
    from agents.desk import Desk, PermissionDenied
    from agents.plan import Intent, Plan


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
