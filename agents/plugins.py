"""A lender's own tools in the agent (tools/registry.py): routed by the words they declare, called with the
slots the rules reading found, replied to with their own template, cited with their own clauses.

Routing: a message that names a customer and contains one of a tool's declared words (zh or en) goes to that
tool, unless the reader has a question to ask first. With an LLM planner, the model may name the tool itself (the
plan's `tool` slot, offered only while a lender's tool is installed; agents/plan_check.py refuses an unknown name). The tool's input gets `customer_id` and `as_of` (the
turn's day), and any other field the reading holds by the same name (`amount`, `purpose`).
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from tools.registry import Tool, plugins, registry


def route(message: str, customer_id: str | None) -> str | None:
    """The name of the lender's tool this message is for, or None."""
    if not customer_id:
        return None
    text = message.casefold()
    for name, tool in plugins().items():
        for word in tool.keywords:
            w = word.casefold()
            if (re.search(r"\b" + re.escape(w) + r"\b", text) if w.isascii() else w in text):
                return name
    return None


def named(plan: Any) -> str | None:
    """The lender's tool a checked plan names (intent `tool`, the model's `tool` slot, agents/plan_check.py), when
    it is installed and the plan has the customer the tool is for; else None."""
    name = getattr(plan, "tool", None)
    return name if name and name in plugins() and getattr(plan, "customer_id", None) else None


def arguments(tool: Tool, plan: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    fields = tool.input.model_fields
    args: dict[str, Any] = {"customer_id": plan.get("customer_id"), "as_of": as_of}
    for k in ("amount", "purpose"):
        if k in fields and plan.get(k) not in (None, ""):
            args[k] = plan[k]
    return {k: v for k, v in args.items() if k in fields}


def reply(lang: str, result: dict) -> str:
    tool = registry().get(result.get("tool", ""))
    if tool is None or tool.reply is None:
        raise KeyError(f"no reply template for tool {result.get('tool')!r}")
    return tool.reply(lang, result)


@lru_cache(maxsize=64)
def _clauses(path: str) -> dict[str, Any]:
    from knowledge.corpus import load_corpus
    return {c.clause_id: c for doc in load_corpus(path) for c in doc.clauses}


def clause(clause_id: str) -> Any:
    """A clause from an installed tool's own corpus (read from its package: nothing is stored)."""
    for tool in plugins().values():
        if tool.corpus is not None and (c := _clauses(str(tool.corpus)).get(clause_id)):
            return c
    return None
