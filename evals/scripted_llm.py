"""A scripted OpenAI-compatible model server for tests and evals. TEST DOUBLE: no model runs here.

    python -m evals.scripted_llm --mode competent|faulty --port P [--seed N] [--stall-seconds S]

It listens on 127.0.0.1 only and speaks Chat Completions like a real server: `POST /v1/chat/completions`
(structured output through `tools` with a forced function, `response_format` `json_object` (with or without a
schema) and `json_schema`; plain text with `stop` and `max_tokens`; `stream: true` as server-sent events;
usage counts, finish reasons, OpenAI-shaped error bodies) and `GET /v1/models`, which names the double
`scripted-competent` or `scripted-faulty`. `GET /stats` (not part of the API) counts the requests by kind
and the faults served. `--port 0` picks a free port; the first line on stdout says which.

competent  plans a careful model would make (evals/scripted_plans.py) and faithful one-line replies written
           from the request's evidence (evals/scripted_replies.py).
faulty     the same, with one fault in most requests, deterministic by --seed and the request body: lies in
           plans and replies, broken JSON, empty content, timeouts, stalls, 429 and 500 (evals/scripted_faults.py).

A request with several tools (a ReAct agent's) gets a tool call for the route the message asks for, and after
the tool's answer a reply written from it; in faulty mode the tool arguments and the reply carry the faults.

`ScriptedServer(mode)` starts it as a subprocess on a free loopback port and stops it (for tests and
`riskdesk eval run --scripted MODE`).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi import Request

from evals import scripted_faults as F
from evals.scripted_plans import competent_plan, expected_slots
from evals.scripted_replies import _t, competent_reply, parse_compose_request, react_answer

MODES = ("competent", "faulty")
# the client settings an eval run uses against the double: a faulty server's timeouts and stalls outlast the
# client's timeout (kept low so a run stays short), and the SDK retries once (a 429 with Retry-After, a stall)
CLIENT = {"competent": {"timeout": 10.0, "max_retries": 2}, "faulty": {"timeout": 1.0, "max_retries": 1}}
STALL_SECONDS = {"competent": 3.0, "faulty": 2.0}
_TOKEN = re.compile(r"[\u4e00-\u9fff]|[A-Za-z]+|\d+|[^\sA-Za-z\d\u4e00-\u9fff]")
_CORRECTION = re.compile(r"previous (?:reply|answer|response)|was rejected|reply again|try again|上一次|重新回答", re.I)


def count_tokens(text: str) -> int:
    """A rough token count (a CJK character, a word, a number or a punctuation mark each count one)."""
    return len(_TOKEN.findall(text or ""))


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Any:
    from fastapi.responses import JSONResponse
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}}, status_code=status,
                        headers=headers)


# ---------------------------------------------------------------- reading a request
def _schema(body: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None, str | None]:
    """(structured mode, JSON schema, function name) of a request; (None, None, None) for plain text."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    if tools and (len(tools) == 1 or isinstance(choice, dict)):
        name = choice["function"]["name"] if isinstance(choice, dict) else tools[0]["function"]["name"]
        fn = next((t["function"] for t in tools if t["function"]["name"] == name), tools[0]["function"])
        return "tools", fn.get("parameters") or {}, fn["name"]
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return "json_schema", (fmt.get("json_schema") or {}).get("schema") or {}, None
    if fmt.get("type") == "json_object":
        return "json_object", fmt.get("schema") or {}, None
    return None, None, None


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def planner_query(messages: list[dict[str, Any]]) -> tuple[str, list[tuple[str, str]]]:
    """The operator's message and the conversation before it, from a planner request (few-shot pairs first;
    a correction after a rejected reply is not the message)."""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if not users:
        return "", []
    i = users[-1]
    if _CORRECTION.search(_text(messages[i].get("content"))) and len(users) > 1 and messages[i - 1].get("role") == "assistant":
        i = users[-2]
    text = _text(messages[i].get("content"))
    history: list[tuple[str, str]] = []
    if "Current message:" in text:
        before, _, text = text.rpartition("Current message:")
        for line in before.splitlines():
            role, sep, said = line.partition(":")
            if sep and role.strip().lower() in ("operator", "assistant", "user"):
                history.append((role.strip().lower(), said.strip()))
    return text.strip(), history


def request_key(body: dict[str, Any]) -> str:
    """What decides a request's fault: its messages, tools, response format and stop sequences."""
    return json.dumps({k: body.get(k) for k in ("messages", "tools", "response_format", "stop")}, sort_keys=True,
                      ensure_ascii=False)


# ---------------------------------------------------------------- the double
class ScriptedModel:
    """Answers one request body; holds the fault counters. `mode` is competent or faulty."""

    def __init__(self, mode: str, seed: int = 7, stall_seconds: float = 3.0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode, self.seed, self.stall_seconds = mode, seed, stall_seconds
        self.model_id = f"scripted-{mode}"
        self.stats: Counter[str] = Counter()
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def kind(self, body: dict[str, Any]) -> str:
        mode, schema, _ = _schema(body)
        if mode and "intent" in ((schema or {}).get("properties") or {}):
            return "plan"
        if len(body.get("tools") or []) > 1:
            return "react"
        if mode is None and parse_compose_request(body.get("messages") or []) is not None:
            return "compose"
        return "chat"

    def planned_fault(self, body: dict[str, Any]) -> tuple[str, str]:
        """(request kind, the fault this request gets on its first sight): a pure function of the seed and body."""
        kind = self.kind(body)
        if self.mode != "faulty" or kind == "chat":
            return kind, "none"
        table = F.PLAN_FAULTS if kind in ("plan", "react") else F.REPLY_FAULTS
        return kind, F.choose(table, self.seed, f"{kind}|{request_key(body)}")

    def fault(self, kind: str, key: str) -> str:
        if self.mode != "faulty" or kind == "chat":
            return "none"
        fault = F.choose(F.PLAN_FAULTS if kind in ("plan", "react") else F.REPLY_FAULTS, self.seed, f"{kind}|{key}")
        with self._lock:
            self._seen[key] += 1
            if fault in F.TRANSIENT and self._seen[key] > 1:
                return "none"
            self.stats[f"requests.{kind}"] += 1
            self.stats[f"faults.{kind}.{fault}"] += 1
        return fault

    def answer(self, body: dict[str, Any], kind: str, fault: str) -> tuple[dict[str, Any], str]:
        """(assistant message, finish_reason) for a request, with its content fault applied."""
        messages = body.get("messages") or []
        salt = F.digest(self.seed, json.dumps(messages, sort_keys=True, ensure_ascii=False))
        if kind == "plan":
            query, history = planner_query(messages)
            plan = competent_plan(query, history)
            plan = F.faulty_plan(plan, fault, query, salt)
            raw = F.plan_text(plan, fault, salt)
            mode, _, name = _schema(body)
            if mode == "tools" and fault != "no_tool_call":
                call = {"id": f"call_{salt % 10**12:012d}", "type": "function", "function": {"name": name, "arguments": raw}}
                return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
            if fault == "no_tool_call":
                raw = "I think the operator wants this: " + raw
            return {"role": "assistant", "content": raw}, "stop"
        if kind == "compose":
            req = parse_compose_request(messages)
            assert req is not None
            text = F.faulty_reply(competent_reply(req), fault, req.message, req.evidence, req.language, salt)
            return self._text_reply(body, text, fault)
        if kind == "react":
            return self._react(body, messages, fault, salt)
        return {"role": "assistant", "content": "This scripted test double only plans and composes riskdesk turns."}, "stop"

    @staticmethod
    def _text_reply(body: dict[str, Any], text: str, fault: str) -> tuple[dict[str, Any], str]:
        finish = "stop"
        stops = body.get("stop") or []
        for s in [stops] if isinstance(stops, str) else stops:
            if s and s in text:
                text = text[: text.index(s)]
        cap = body.get("max_tokens") or body.get("max_completion_tokens")
        if fault == "truncated_reply" and text:
            cap = max(1, count_tokens(text) * 2 // 3)
        if cap and count_tokens(text) > cap:
            text, finish = "".join(_TOKEN.findall(text)[:cap]), "length"
        return {"role": "assistant", "content": text}, finish

    def _react(self, body: dict[str, Any], messages: list[dict[str, Any]], fault: str, salt: int) -> tuple[dict[str, Any], str]:
        """A plain tool-calling agent's step: call the tool the message asks for, then answer from its result."""
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        user = _text(messages[users[-1]].get("content")) if users else ""
        history = [("operator", _text(messages[i].get("content"))) for i in users[:-1]]
        system = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
        lang = "zh" if re.search(r"[\u4e00-\u9fff]", user) else "en"
        outputs = [_text(m.get("content")) for m in messages[users[-1]:] if m.get("role") == "tool"] if users else []
        if outputs:
            results = []
            for out in outputs:
                try:
                    results.append(json.loads(out))
                except json.JSONDecodeError:
                    results.append(out)
            text = react_answer(lang, user, results, system)
            ev = {"tool_results": [r for r in results if isinstance(r, dict)], "clauses": []}
            return self._text_reply(body, F.faulty_reply(text, _reply_fault(fault), user, ev, lang, salt), "none")
        plan = F.faulty_plan(competent_plan(user, history), fault, user, salt)
        tools = {t["function"]["name"]: t["function"] for t in body.get("tools") or []}
        route = {"limit_lookup": "limit", "temp_quota": "quota", "repair_check": "repair", "policy_qa": "search"}
        want = route.get(plan["intent"])
        name = next((n for n in tools if want and (want in n.lower() or (want == "search" and "knowledge" in n.lower()))), None)
        if plan["intent"] == "temp_quota" and re.search(r"role is viewer", system, re.I) and fault == "none":
            # a careful agent reads its role: a viewer may only ask (a faulty one calls the tool anyway)
            return {"role": "assistant", "content": _t(lang, "Requesting a temporary quota needs the operator role; you are "
                                                             "signed in as a viewer. Nothing was changed.",
                                                       "申请临时额度需要operator角色，当前角色为viewer，未做任何更改。")}, "stop"
        if name is None:
            return {"role": "assistant", "content": _t(lang, "I can help with credit limits, temporary quotas, the one-time "
                                                             "credit repair check and credit-policy questions.",
                                                       "我可以处理额度查询、临时额度、一次性信用修复核查和信贷政策问题。")}, "stop"
        props = (tools[name].get("parameters") or {}).get("properties") or {}
        today = re.findall(r"(?:today is|今天是)\s*(\d{4}-\d{2}-\d{2})", system, re.I)
        plan = {**plan, "as_of": plan.get("as_of") or (today[-1] if today else None)}  # the day the prompt gives
        args = {k: plan.get(k) for k in ("customer_id", "amount", "purpose", "as_of") if k in props and plan.get(k) is not None}
        for k in ("query", "question", "q"):
            if k in props:
                args[k] = user
        call = {"id": f"call_{salt % 10**12:012d}", "type": "function",
                "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"


def _reply_fault(plan_fault: str) -> str:
    return {"invented_customer": "wrong_customer", "wrong_amount": "extra_number", "wrong_intent": "flipped_outcome",
            "invented_date": "extra_date", "injected_plan": "injected_reply", "empty_content": "empty_content"}.get(plan_fault, "none")


# ---------------------------------------------------------------- the HTTP app
def create_app(model: ScriptedModel) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, StreamingResponse

    app = FastAPI(title=f"riskdesk scripted LLM ({model.model_id}, a test double)")

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model.model_id, "object": "model", "created": 0,
                                            "owned_by": "riskdesk-test-double"}]}

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return {"model": model.model_id, "seed": model.seed, "counts": dict(sorted(model.stats.items()))}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError as e:
            return _error(400, f"invalid JSON body: {e.msg}", "invalid_request_error")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(400, "'messages' must be a non-empty array", "invalid_request_error")
        try:
            kind = model.kind(body)
        except (KeyError, TypeError, AttributeError, IndexError) as e:
            return _error(400, f"malformed request: {type(e).__name__}: {e}", "invalid_request_error")
        key = request_key(body)
        fault = model.fault(kind, key)
        with model._lock:
            model.stats[f"served.{kind}"] += 1
        if fault == "rate_limited":
            return _error(429, "Rate limit reached for requests; retry shortly.", "rate_limit_exceeded",
                          {"retry-after": "1", "retry-after-ms": "300"})
        if fault == "server_error":
            return _error(500, "The server had an error while processing your request.", "server_error")
        if fault == "timeout":
            await asyncio.sleep(model.stall_seconds)
        try:
            message, finish = model.answer(body, kind, fault)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            return _error(400, f"malformed request: {type(e).__name__}: {e}", "invalid_request_error")
        prompt = sum(count_tokens(_text(m.get("content"))) for m in body["messages"]) + count_tokens(json.dumps(body.get("tools") or ""))
        completion = count_tokens(message.get("content") or "") + sum(
            count_tokens(c["function"]["arguments"]) for c in message.get("tool_calls") or [])
        created = int(time.time())
        cid = f"chatcmpl-{F.digest(key, model.seed) % 10**16:016d}"
        choices = [] if fault == "no_choices" else [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]
        payload = {"id": cid, "object": "chat.completion", "created": created, "model": model.model_id, "choices": choices,
                   "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}
        if body.get("stream"):
            return StreamingResponse(_sse(payload, message, finish, fault, model.stall_seconds), media_type="text/event-stream")
        if fault == "stalled_stream":
            return StreamingResponse(_stalled(json.dumps(payload, ensure_ascii=False), model.stall_seconds),
                                     media_type="application/json")
        return JSONResponse(payload)

    return app


async def _stalled(text: str, seconds: float) -> Any:
    yield text[: len(text) // 2].encode()
    await asyncio.sleep(seconds)  # the rest never comes before the client gives up


async def _sse(payload: dict[str, Any], message: dict[str, Any], finish: str, fault: str, stall: float) -> Any:
    base = {k: payload[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}

    def chunk(delta: dict[str, Any], done: str | None = None) -> bytes:
        return f"data: {json.dumps(base | {'choices': [{'index': 0, 'delta': delta, 'finish_reason': done}]}, ensure_ascii=False)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""})
    if message.get("tool_calls"):
        yield chunk({"tool_calls": [{"index": 0, **c} for c in message["tool_calls"]]})
    else:
        content = message.get("content") or ""
        for i in range(0, len(content), 16):
            if fault == "stalled_stream" and i >= len(content) // 2:
                await asyncio.sleep(stall)
                return
            yield chunk({"content": content[i:i + 16]})
    yield chunk({}, finish)
    yield f"data: {json.dumps(base | {'choices': [], 'usage': payload['usage']})}\n\n".encode()
    yield b"data: [DONE]\n\n"


# ---------------------------------------------------------------- running it
def serve(mode: str, port: int = 0, seed: int = 7, stall_seconds: float = 3.0, exit_with_parent: bool = False) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    model = ScriptedModel(mode, seed, stall_seconds)
    expected_slots()  # the suites' lookup, loaded before the first request can wait on it
    print(f"scripted-llm ({model.model_id}, a test double) listening on http://127.0.0.1:{sock.getsockname()[1]}/v1",
          flush=True)
    config = uvicorn.Config(create_app(model), log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    if exit_with_parent:  # stdin is a pipe from the parent: its end (the parent exited, or closed it) stops the server
        def watch() -> None:
            sys.stdin.read()
            server.should_exit = True
        threading.Thread(target=watch, daemon=True).start()
    server.run(sockets=[sock])


class ScriptedServer:
    """The double in a subprocess on a free loopback port: `with ScriptedServer("faulty") as s: s.base_url`."""

    def __init__(self, mode: str, seed: int = 7, stall_seconds: float | None = None, startup_timeout: float = 60.0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode, self.seed, self.startup_timeout = mode, seed, startup_timeout
        self.stall_seconds = STALL_SECONDS[mode] if stall_seconds is None else stall_seconds
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> "ScriptedServer":
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evals.scripted_llm", "--mode", self.mode, "--port", "0", "--seed", str(self.seed),
             "--stall-seconds", str(self.stall_seconds), "--exit-with-parent"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=root)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        if not m:
            self.__exit__()
            raise RuntimeError(f"the scripted LLM server did not start: {line.strip() or 'no output'}")
        self.base_url = m.group(1)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                urllib.request.urlopen(self.base_url + "/models", timeout=2).read()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("the scripted LLM server did not answer /v1/models") from None
                time.sleep(0.1)

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(self.base_url.removesuffix("/v1") + "/stats", timeout=5) as r:
            return json.loads(r.read())["counts"]

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def client_settings(server: ScriptedServer) -> Any:
    """LLM settings for a run against a started double; the structured mode comes from RISKDESK_LLM_STRUCTURED
    (default json_object), the rest from CLIENT."""
    from agents.llm import LLMSettings
    return LLMSettings(base_url=server.base_url, model=f"scripted-{server.mode}",
                       structured=os.environ.get("RISKDESK_LLM_STRUCTURED", "").strip() or "json_object",
                       **CLIENT[server.mode])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evals.scripted_llm", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=MODES, required=True)
    ap.add_argument("--port", type=int, default=0, help="loopback port (0: a free one, printed on the first line)")
    ap.add_argument("--seed", type=int, default=7, help="faulty mode: which requests get which fault")
    ap.add_argument("--stall-seconds", type=float, default=3.0, help="how long a timeout or a stalled stream hangs; "
                    "set it above the client's timeout")
    ap.add_argument("--exit-with-parent", action="store_true", help="stop when stdin closes (ScriptedServer uses it)")
    a = ap.parse_args(argv)
    serve(a.mode, a.port, a.seed, a.stall_seconds, a.exit_with_parent)


if __name__ == "__main__":
    main()
