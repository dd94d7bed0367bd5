"""The OpenAI-compatible LLM client: settings, structured output in three modes, plain text.

The model only plans and explains; nothing here decides. Every request body is deterministic
(temperature 0, a fixed seed, no timestamps or random ids, sorted JSON in prompts), so recorded
cassettes replay byte for byte and a changed prompt shows up as a cassette miss.

Settings come from a config file named by RISKDESK_CONFIG (TOML or JSON, section ``[llm]``),
overridden by the environment:

    RISKDESK_LLM_BASE_URL     e.g. http://127.0.0.1:8089/v1  (unset: no LLM, rules planner only)
    RISKDESK_LLM_MODEL        model name sent in the request
    RISKDESK_LLM_API_KEY      default "not-needed"
    RISKDESK_LLM_TIMEOUT      seconds, default 30
    RISKDESK_LLM_STRUCTURED   tools | json_object | json_schema  (default json_object)
    RISKDESK_LLM_MAX_RETRIES  SDK retries on connection errors, timeouts, 429 and 5xx (default 2)
    RISKDESK_LLM_MAX_TOKENS   completion cap (default 256)
    RISKDESK_LLM_ALL_KEYS     1: structured output must carry every key (optional ones as null)

Transport failures surface, after the SDK's own retries, as one exception type: LLMUnavailable.
"""
from __future__ import annotations

import copy
import json
import os
import time
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

StructuredMode = Literal["tools", "json_object", "json_schema"]
SEED = 7
DEFAULT_MAX_TOKENS = 256

M = TypeVar("M", bound=BaseModel)


class LLMUnavailable(RuntimeError):
    """The endpoint could not be used: connection refused, timeout, HTTP error, malformed response."""


ENV_VARS = {
    "base_url": "RISKDESK_LLM_BASE_URL",
    "model": "RISKDESK_LLM_MODEL",
    "api_key": "RISKDESK_LLM_API_KEY",
    "timeout": "RISKDESK_LLM_TIMEOUT",
    "structured": "RISKDESK_LLM_STRUCTURED",
    "max_retries": "RISKDESK_LLM_MAX_RETRIES",
    "max_tokens": "RISKDESK_LLM_MAX_TOKENS",
    "all_keys": "RISKDESK_LLM_ALL_KEYS",
}


class LLMSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_url: str
    model: str = "default"
    api_key: str = "not-needed"
    timeout: float = Field(default=30.0, gt=0)
    structured: StructuredMode = "json_object"
    max_retries: int = Field(default=2, ge=0)
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, gt=0)
    # json_object/tools: require every key in the output (optional ones nullable) instead of
    # letting the model omit them. With SmolLM2-135M this trades omitted ids for invented amounts.
    all_keys: bool = False
    seed: int = SEED

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "LLMSettings | None":
        """Settings from RISKDESK_CONFIG's [llm] section, overridden by RISKDESK_LLM_* variables.
        None when no base URL is configured anywhere (the system then runs the rules planner)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config = env.get("RISKDESK_CONFIG")
        if config:
            values.update(_read_config(Path(config)))
        for field_name, var in ENV_VARS.items():
            raw = env.get(var)
            if raw is not None and raw.strip() != "":
                values[field_name] = raw.strip()
        if not values.get("base_url"):
            return None
        return cls.model_validate(values)


def _read_config(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    section = data.get("llm", {})
    if not isinstance(section, dict):
        raise ValueError(f"{path}: [llm] must be a table")
    return dict(section)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                     completion_tokens=self.completion_tokens + other.completion_tokens,
                     total_tokens=self.total_tokens + other.total_tokens)


class TextReply(BaseModel):
    text: str
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    finish_reason: str | None = None


class StructuredReply(BaseModel):
    """value is the validated instance, or None with error saying why (invalid_json / schema_violation)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    value: Any | None = None
    raw: str = ""
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0


def dumps(obj: Any) -> str:
    """Stable JSON for prompts: sorted keys, no ASCII escaping, Decimals/dates as strings."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI strict-mode variant of a pydantic schema: every property required, no extra keys,
    no defaults (optional fields stay nullable). Derived, never written by hand."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("default", None)
            if node.get("type") == "object" and "properties" in node:
                node["required"] = sorted(node["properties"])
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return schema


def _strip_fences(text: str) -> str:
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        if t.rstrip().endswith("```"):
            t = t.rstrip()[:-3]
    return t.strip()


def parse_into(raw: str, model_cls: type[M]) -> tuple[M | None, str | None]:
    """(instance, None) or (None, 'invalid_json: ...' / 'schema_violation: ...')."""
    try:
        data = json.loads(_strip_fences(raw))
    except (json.JSONDecodeError, TypeError) as e:
        return None, f"invalid_json: {e.msg if isinstance(e, json.JSONDecodeError) else e}"
    if not isinstance(data, dict):
        return None, f"schema_violation: expected a JSON object, got {type(data).__name__}"
    try:
        return model_cls.model_validate(data), None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        return None, f"schema_violation: {where}: {first['msg']} ({e.error_count()} error(s))"


class LLMClient:
    """A thin, deterministic wrapper around openai.OpenAI for one OpenAI-compatible endpoint."""

    def __init__(self, settings: LLMSettings, *, http_client: Any = None) -> None:
        self.settings = settings
        kwargs: dict[str, Any] = dict(base_url=settings.base_url, api_key=settings.api_key,
                                      timeout=settings.timeout, max_retries=settings.max_retries)
        if http_client is not None:
            kwargs["http_client"] = http_client
        import openai  # here, not at module level: a desk without an LLM never pays for the import

        self._client = openai.OpenAI(**kwargs)

    @property
    def model(self) -> str:
        return self.settings.model

    # -- transport ---------------------------------------------------------------------------
    def _create(self, **body: Any) -> tuple[Any, float]:
        import openai

        started = time.perf_counter()
        body = {"model": self.settings.model, "temperature": 0, "seed": self.settings.seed,
                "max_tokens": self.settings.max_tokens, **body}
        try:
            completion = self._client.chat.completions.create(**body)
        except openai.APIStatusError as e:
            raise LLMUnavailable(f"http {e.status_code}: {_short(e.message)}") from e
        except openai.APITimeoutError as e:
            raise LLMUnavailable(f"timeout after {self.settings.timeout}s") from e
        except openai.APIConnectionError as e:
            raise LLMUnavailable(f"connection error: {_short(str(e.__cause__ or e))}") from e
        except openai.OpenAIError as e:  # malformed responses and the like
            raise LLMUnavailable(f"{type(e).__name__}: {_short(str(e))}") from e
        except ValueError as e:  # a body cut off halfway (a stalled stream) is not JSON: the SDK lets it through
            raise LLMUnavailable(f"malformed response: {_short(str(e))}") from e
        latency = (time.perf_counter() - started) * 1000
        if not getattr(completion, "choices", None):
            raise LLMUnavailable("response without choices")
        return completion, latency

    @staticmethod
    def _usage(completion: Any) -> Usage:
        u = getattr(completion, "usage", None)
        if u is None:
            return Usage()
        return Usage(prompt_tokens=u.prompt_tokens or 0, completion_tokens=u.completion_tokens or 0,
                     total_tokens=u.total_tokens or 0)

    # -- public ------------------------------------------------------------------------------
    def text(self, messages: list[dict[str, Any]], *, stop: list[str] | None = None,
             max_tokens: int | None = None) -> TextReply:
        extra: dict[str, Any] = {}
        if stop:
            extra["stop"] = list(stop)
        if max_tokens:
            extra["max_tokens"] = max_tokens
        completion, latency = self._create(messages=messages, **extra)
        choice = completion.choices[0]
        return TextReply(text=(choice.message.content or "").strip(), usage=self._usage(completion),
                         latency_ms=latency, finish_reason=choice.finish_reason)

    def structured(self, messages: list[dict[str, Any]], model_cls: type[M]) -> StructuredReply:
        """Ask for one instance of model_cls in the configured structured mode and validate it.

        tools        one function whose parameters are model_cls's JSON schema, forced by tool_choice
        json_object  response_format {"type": "json_object", "schema": ...} (llama.cpp turns the
                     schema into a grammar) plus the schema in the system prompt; with all_keys
                     the strict variant (every key present, optional ones nullable)
        json_schema  OpenAI strict structured outputs
        """
        mode = self.settings.structured
        schema = model_cls.model_json_schema()
        name = model_cls.__name__.lower()
        body: dict[str, Any]
        if mode == "tools":
            if self.settings.all_keys:
                schema = strict_schema(schema)
            body = dict(messages=messages,
                        tools=[{"type": "function", "function": {
                            "name": name, "description": (model_cls.__doc__ or name).strip().splitlines()[0],
                            "parameters": schema}}],
                        tool_choice={"type": "function", "function": {"name": name}})
        elif mode == "json_object":
            if self.settings.all_keys:
                schema = strict_schema(schema)
            body = dict(messages=_with_schema(messages, schema),
                        response_format={"type": "json_object", "schema": schema})
        else:
            body = dict(messages=messages,
                        response_format={"type": "json_schema", "json_schema": {
                            "name": name, "schema": strict_schema(schema), "strict": True}})
        completion, latency = self._create(**body)
        message = completion.choices[0].message
        if mode == "tools" and message.tool_calls:
            raw = message.tool_calls[0].function.arguments or ""
        else:
            raw = message.content or ""
        value, error = parse_into(raw, model_cls)
        return StructuredReply(value=value, raw=raw, error=error, usage=self._usage(completion),
                               latency_ms=latency)


def _with_schema(messages: list[dict[str, Any]], schema: dict[str, Any]) -> list[dict[str, Any]]:
    note = "Reply with one JSON object only, valid against this JSON schema:\n" + dumps(schema)
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system":
        out[0]["content"] = f"{out[0]['content']}\n\n{note}"
    else:
        out.insert(0, {"role": "system", "content": note})
    return out


def _short(s: str, n: int = 200) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"
