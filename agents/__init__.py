"""The brain: a LangGraph team (supervisor, risk operator, policy researcher, composer,
compliance reviewer) over the tools and the knowledge base. Rules decide; the model plans and explains."""
from agents.contract import ApprovalDecision, AskRequest, AskResult
from agents.desk import Desk, PermissionDenied
from agents.plan import Intent, Plan

__all__ = ["Desk", "AskResult", "AskRequest", "ApprovalDecision", "PermissionDenied", "Plan", "Intent"]
