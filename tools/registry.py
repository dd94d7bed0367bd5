"""The tool registry: every tool, built-in or a lender's own, registers through the entry-point group
`riskdesk.tools` (pyproject: [project.entry-points."riskdesk.tools"] name = "module:TOOL").

A tool declares its pydantic input and result, the rules it applies with their clause ids, whether it writes,
the role it needs, and for the agent: words that route a message to it (zh and en), a reply template and, if it
has them, its clauses (a corpus directory) and eval cases. Once its package is installed, the CLI
(`riskdesk tool NAME`), the HTTP API (/v1/tools/NAME), the rules planner, the guard, the audit and the eval
harness pick it up; uninstalled, nothing of it is left.

The three built-in tools are declared in riskdesk's own pyproject the same way. A source checkout whose
installed metadata predates those declarations reads the same declarations from BUILTIN below.
"""
from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel

GROUP = "riskdesk.tools"
BUILTIN = {"limit_lookup": "tools.limit_lookup:TOOL", "temp_quota": "tools.temp_quota:TOOL",
           "repair_check": "tools.repair_check:TOOL"}
Role = Literal["viewer", "operator", "supervisor"]


@dataclass(frozen=True)
class Tool:
    name: str
    input: type[BaseModel]
    output: type[BaseModel]
    fn: Callable[..., BaseModel]
    rules: dict[str, str] = field(default_factory=dict)  # rule id -> the clause that states it
    writes: bool = False
    role: Role = "viewer"
    keywords: tuple[str, ...] = ()  # words that route an operator's message to this tool (zh and en)
    reply: Callable[[str, dict], str] | None = None  # (language, result) -> the template reply, citing clauses
    corpus: Path | None = None  # its clauses (Markdown, as `riskdesk kb ingest` reads them)
    evals: Path | None = None  # its eval cases (YAML, as evals/suites/*.yaml)
    source: str = "riskdesk"  # the distribution that registered it

    @property
    def description(self) -> str:
        return (self.input.__doc__ or self.name).strip()

    def schema(self) -> dict[str, Any]:
        """OpenAI-style function spec generated from the input model."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.input.model_json_schema()}}

    def __call__(self, ledger: Any, **kwargs: Any) -> BaseModel:
        return self.fn(ledger, **kwargs)

    @property
    def builtin(self) -> bool:
        return self.name in BUILTIN


class RegistryError(ValueError):
    """A registered tool that cannot be loaded or declares itself badly: names the entry point."""


def _load(name: str, target: str, source: str) -> Tool:
    module, _, attr = target.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr or "TOOL")
    except (ImportError, AttributeError) as e:
        raise RegistryError(f"tool {name!r} ({target}, from {source}): cannot load: {e}") from None
    if not isinstance(obj, Tool):
        raise RegistryError(f"tool {name!r} ({target}, from {source}): not a tools.registry.Tool")
    if obj.name != name:
        raise RegistryError(f"tool {name!r} ({target}, from {source}): declares the name {obj.name!r}")
    if not (issubclass(obj.input, BaseModel) and issubclass(obj.output, BaseModel)):
        raise RegistryError(f"tool {name!r}: input and output must be pydantic models")
    return obj


_cache: dict[str, Tool] | None = None
_lock = threading.Lock()


def discover() -> dict[str, Tool]:
    """Every tool registered in `riskdesk.tools` (read afresh from the installed packages)."""
    found: dict[str, tuple[str, str]] = {}
    for ep in entry_points(group=GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        if ep.name in found and found[ep.name][0] != ep.value:
            raise RegistryError(f"tool {ep.name!r} is registered twice ({found[ep.name][0]} and {ep.value})")
        found[ep.name] = (ep.value, dist)
    for name, target in BUILTIN.items():
        found.setdefault(name, (target, "riskdesk"))
    tools = {name: _load(name, target, source) for name, (target, source) in found.items()}
    order = list(BUILTIN) + sorted(n for n in tools if n not in BUILTIN)
    return {n: tools[n] for n in order}


def registry() -> dict[str, Tool]:
    global _cache
    if _cache is None:
        with _lock:
            if _cache is None:
                _cache = discover()
    return _cache


def reload() -> dict[str, Tool]:
    global _cache
    with _lock:
        _cache = None
    return registry()


def plugins() -> dict[str, Tool]:
    """The tools a lender added (not built in)."""
    return {n: t for n, t in registry().items() if not t.builtin}


def plugin_rule_clause(rule: str) -> str | None:
    for t in plugins().values():
        if rule in t.rules:
            return t.rules[rule]
    return None
