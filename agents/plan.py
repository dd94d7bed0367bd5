"""The typed plan: what the planner (rules or LLM) makes of an operator's message.

This model is the single source of the plan schema: the LLM sees its JSON schema,
the rules planner fills it, the audit record stores it.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Intent(str, Enum):
    limit_lookup = "limit_lookup"
    temp_quota = "temp_quota"
    repair_check = "repair_check"
    policy_qa = "policy_qa"
    out_of_scope = "out_of_scope"
    explain = "explain"  # "why?": explain this conversation's last decision, no new tool call
    tool = "tool"  # a lender's own tool (tools/registry.py), routed by what it declares; offered only when installed


Language = Literal["zh", "en"]


class Plan(BaseModel):
    """What to do for one operator turn. Rules decide; the plan only routes."""

    model_config = ConfigDict(use_enum_values=False)

    intent: Intent = Field(description="Which tool or knowledge route serves the request.")
    customer_id: str | None = Field(
        default=None, description="Customer id exactly as written by the operator, in any format (e.g. C1001, 4402198812, CUS-004417)."
    )
    amount: Decimal | None = Field(
        default=None, description="Requested temporary-quota amount in yuan, if any."
    )
    purpose: str | None = Field(
        default=None, description="Stated purpose of a temporary quota, in the operator's words."
    )
    as_of: dt.date | None = Field(
        default=None, description="Date the operator asks about (YYYY-MM-DD), if stated."
    )
    knowledge_queries: list[str] = Field(
        default_factory=list, description="Short policy questions to look up in the knowledge base."
    )
    language: Language = Field(default="en", description="Language of the operator's message.")

    @classmethod
    def model_json_schema(cls, *args, **kwargs):  # noqa: ANN002,ANN003,ANN206
        """The plan schema; the `tool` intent appears only when a lender's own tool is installed, and then
        ToolPlan's `tool` slot names one of the installed tools (its input is the plan's slots of the same names)."""
        schema = super().model_json_schema(*args, **kwargs)
        from tools.registry import plugins
        intent = schema.get("$defs", {}).get("Intent", {})
        installed = plugins()
        if not installed:
            if "enum" in intent:
                intent["enum"] = [v for v in intent["enum"] if v != Intent.tool.value]
            schema.get("properties", {}).pop("tool", None)
        else:  # what each of the lender's tools declares
            intent["description"] = "tool: one of the lender's own tools: " + "; ".join(
                f"{t.name} ({t.description})" for t in installed.values())
            if "tool" in schema.get("properties", {}):  # ToolPlan: the tool named from the installed ones
                schema["properties"]["tool"] = {
                    "anyOf": [{"enum": list(installed), "type": "string"}, {"type": "null"}], "default": None,
                    "title": "Tool", "description": "For intent tool: which of the lender's own tools; its input "
                    "comes from the slots of the same names: " + "; ".join(
                        f"{t.name} ({', '.join(t.input.model_fields)})" for t in installed.values())}
        return schema


class ToolPlan(Plan):
    """What to do for one operator turn. Rules decide; the plan only routes."""

    model_config = ConfigDict(use_enum_values=False, title="Plan")

    tool: str | None = Field(default=None, description="For intent tool: the name of the lender's own tool to call.")


def plan_model() -> type[Plan]:
    """The plan the LLM is asked for: Plan, or ToolPlan (which may name a tool) while a lender's own tool is
    installed. Without one, the plan, its schema and every LLM request body are exactly Plan's."""
    from tools.registry import plugins
    return ToolPlan if plugins() else Plan
