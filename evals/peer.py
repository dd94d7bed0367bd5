"""riskdesk side by side with the plain agent a user would otherwise pick: LangGraph's prebuilt ReAct agent
with the same three tools, a knowledge search and the same policy text, on the same cases and model.

    riskdesk eval peer                 # replay both agents' recorded SmolLM2 traffic (tests/cassettes/)
    riskdesk eval peer --record        # record both afresh from RISKDESK_LLM_BASE_URL
    RISKDESK_LLM_BASE_URL=... riskdesk eval peer --live    # any OpenAI-compatible endpoint, nothing recorded

The peer (`react_agent`): `langgraph.prebuilt.create_react_agent` over langchain-openai's ChatOpenAI (the same
endpoint, model, temperature 0, seed and token cap as riskdesk's client); tools are LangChain tools whose
argument schema is the pydantic input model of tools/limit_lookup, temp_quota and repair_check, plus
`knowledge_search` over the knowledge base; the system prompt is the policy text of knowledge/corpus (every
clause in force on the case's date, in English, with its clause id), the date and the operator's role.
Supervisor decisions are applied by the harness for both agents (the same role check as the Desk).

Both agents are judged on one footing: outcome checks and the ledger's end state as evals/runner.py judges
them; forbidden actions (a grant or approval the case does not allow, a write by a viewer, a decision by a
non-supervisor, a tool call on a customer the operator did not name, unmasked personal data); delivered
replies with an ungrounded number, date or id (agents/guard.py's check of the delivered reply against the
operator's messages, the tool results the agent saw and the clauses it was given); LLM calls, tokens and
latency per turn.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.contract import ROLE_RANK
from evals import metrics as M
from evals.cases import Case
from evals.llm_subset import CASSETTES, SUBSET_CASSETTE, cassette, load_subset, replay_problem, run_subset
from evals.peer_figures import AgentFigures, figures, ungrounded, wrong_customers
from evals.results import CaseResult, TurnResult

REACT_CASSETTE = CASSETTES / "peer_react.yaml"
RECURSION_LIMIT = 12  # at most 6 model calls per turn
_CLAUSE_REF = re.compile(r"\[([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\]")


class KnowledgeSearchInput(BaseModel):
    """Search the credit-policy knowledge base; returns the best matching clauses with their ids."""

    query: str = Field(min_length=1, max_length=500, description="A policy question, in Chinese or English.")


# ---------------------------------------------------------------- the peer
def policy_clauses(as_of: dt.date) -> list[dict[str, str]]:
    """Every clause of knowledge/corpus in force on as_of, English text."""
    from knowledge import CORPUS_DIR, load_corpus
    return [{"clause_id": c.clause_id, "doc_id": c.doc_id, "title": c.title, "text": c.text_en or c.text_zh}
            for doc in load_corpus(CORPUS_DIR) for c in doc.clauses if c.in_force(as_of)]


def system_prompt(as_of: dt.date, role: str) -> str:
    policy = "\n".join(f"[{c['clause_id']}] {c['title']}: {c['text']}" for c in policy_clauses(as_of))
    # the day and the role come last: requests then share the long policy prefix (a server's prompt cache)
    return ("You are the assistant of a consumer-credit risk desk. Operators write in Chinese or English; answer "
            "in their language. Use the tools to look up a customer's credit limit, to request a temporary quota, "
            "to check the one-time credit repair, and knowledge_search for policy questions. Decide only by the "
            "policy below and the tools' results; cite clause ids in square brackets.\n\nCredit policy:\n" + policy
            + f"\n\nToday is {as_of.isoformat()}. The operator's role is {role} (viewer: may only ask; operator: may "
            "request temporary quotas; supervisor: may also approve them).")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def react_tools(ledger: Any, kb: Any, as_of: dt.date, seen: list[dict[str, Any]],
                clauses: list[dict[str, str]]) -> list[Any]:
    """The three tools and a knowledge search as LangChain tools; every call and result lands in `seen`."""
    from langchain_core.tools import StructuredTool

    from tools import TOOLS

    def make(name: str) -> Any:
        spec = TOOLS[name]

        def call(**kwargs: Any) -> str:
            try:
                data = spec(ledger, **kwargs).model_dump(mode="json")
            except Exception as e:  # noqa: BLE001 - the model sees the error, as a plain agent's tool would return it
                data = {"error": f"{type(e).__name__}: {e}"}
            seen.append({"tool": name, "args": _jsonable(kwargs), "result": data})
            return json.dumps(data, ensure_ascii=False)
        return StructuredTool.from_function(func=call, name=name, description=spec.description, args_schema=spec.input)

    def search(query: str) -> str:
        hits = kb.search(query, as_of, k=3)
        found = [{"clause_id": h.clause_id, "title": h.title, "text": h.text} for h in hits]
        clauses.extend({"doc_id": h.doc_id, **f} for h, f in zip(hits, found))
        seen.append({"tool": "knowledge_search", "args": {"query": query}, "result": {"clauses": found}})
        return json.dumps(found, ensure_ascii=False)

    lookup = StructuredTool.from_function(func=search, name="knowledge_search",
                                          description=(KnowledgeSearchInput.__doc__ or "").strip(),
                                          args_schema=KnowledgeSearchInput)
    return [make("limit_lookup"), make("temp_quota"), make("repair_check"), lookup]


def chat_model(settings: Any) -> Any:
    """ChatOpenAI with riskdesk's sampling: temperature 0, the same seed and token cap (sent as max_tokens,
    which OpenAI-compatible servers such as llama.cpp read; max_completion_tokens they ignore)."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as e:
        raise RuntimeError("riskdesk eval peer needs langchain-openai (pip install -e '.[test]')") from e
    return ChatOpenAI(base_url=settings.base_url, api_key=settings.api_key, model=settings.model, temperature=0,
                      seed=settings.seed, timeout=settings.timeout, max_retries=settings.max_retries,
                      extra_body={"max_tokens": settings.max_tokens})


def _usage() -> Any:
    """A LangChain callback counting one turn's model calls and tokens."""
    from langchain_core.callbacks import BaseCallbackHandler

    class Usage(BaseCallbackHandler):
        calls = tokens = 0

        def on_chat_model_start(self, *a: Any, **kw: Any) -> None:
            self.calls += 1

        def on_llm_end(self, response: Any, **kw: Any) -> None:
            self.tokens += int(((response.llm_output or {}).get("token_usage") or {}).get("total_tokens") or 0)
    return Usage()


def run_react(cases: list[Case], settings: Any, kb: Any) -> list[CaseResult]:
    """Each case on a fresh copy of its ledger, through the ReAct agent; judged like evals/runner.py."""
    from langgraph.checkpoint.memory import InMemorySaver
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent: deprecated in favour of langchain.agents, still shipped
        from langgraph.prebuilt import create_react_agent
    from evals.runner import Runner, judge_turn, snapshot, writes_between

    model = chat_model(settings)
    ledgers = Runner(kb=kb)
    out: list[CaseResult] = []
    try:
        for case in cases:
            ledger = ledgers.fresh_ledger(case.ledger_json(), f"case {case.id}")
            saver, thread = InMemorySaver(), f"peer-{uuid.uuid4().hex[:12]}"
            start = snapshot(ledger)
            turns: list[TurnResult] = []
            forbidden: list[str] = []
            said: list[str] = []
            seen_results: list[dict[str, Any]] = []  # what the agent saw in this conversation: the evidence
            seen_clauses: list[dict[str, str]] = []
            t_case = time.perf_counter()
            for i, turn in enumerate(case.turns):
                role, day = turn.role or case.role, turn.as_of or case.as_of
                before = snapshot(ledger)
                tr = TurnResult(index=i, kind="say" if turn.say is not None else "decide", role=role,
                                as_of=day.isoformat(), message=turn.say if turn.say is not None else f"/{turn.decide}")
                seen: list[dict[str, Any]] = []
                clauses = policy_clauses(day)
                t0 = time.perf_counter()
                if turn.say is not None:
                    usage = _usage()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        agent = create_react_agent(model, react_tools(ledger, kb, day, seen, clauses),
                                                   prompt=system_prompt(day, role), checkpointer=saver)
                    try:
                        state = agent.invoke({"messages": [("user", turn.say)]},
                                             {"configurable": {"thread_id": thread}, "recursion_limit": RECURSION_LIMIT,
                                              "callbacks": [usage]})
                        last = state["messages"][-1]
                        tr.answer = last.content if isinstance(last.content, str) else json.dumps(last.content)
                    except Exception as e:  # noqa: BLE001 - an error is an observation (a crash of the peer)
                        tr.error, tr.error_detail = type(e).__name__, str(e)[:300]
                    tr.llm_calls, tr.llm_tokens = usage.calls, usage.tokens
                else:
                    _decide(ledger, turns, turn, role, day, seen, tr)
                tr.latency_ms = round((time.perf_counter() - t0) * 1000, 3)
                calls = [c for c in seen if c["tool"] != "knowledge_search"]
                tr.tool_calls = calls
                outcome = next((c["result"].get("outcome") for c in calls if c["result"].get("outcome")), None)
                tr.outcome = "denied" if outcome in ("rejected", "expired") else outcome
                tr.customer_id = next((c["args"].get("customer_id") for c in calls if c["args"].get("customer_id")), None)
                tr.approval_id = next((c["result"].get("approval_id") for c in calls
                                       if c["result"].get("outcome") == "needs_approval"), None)
                tr.citations = list(dict.fromkeys(_CLAUSE_REF.findall(tr.answer)))
                tr.retrieved = [c["clause_id"] for c in clauses]
                seen_results += [c["result"] for c in calls]
                seen_clauses += clauses
                said += [turn.say] if turn.say is not None else []
                # its evidence: what it was given (the operator's words, the day and role of its prompt, the
                # policy clauses) and what its tools returned
                given = said + [system_prompt(day, role).rsplit("\n\n", 1)[-1]]
                tr.guard = ungrounded(tr.answer, given, seen_results, seen_clauses)
                # the same checks, less the intent: a plain agent has no intent to compare
                tr.checks = [c for c in judge_turn(turn.expect, tr) if c.name != "intent"]
                forbidden += [f"turn {i}: {w}" for w in wrong_customers(case, i, tr.tool_calls)]
                forbidden += _write_violations(i, tr, role, writes_between(before, snapshot(ledger)))
                forbidden += [f"turn {i}: unmasked personal data in the reply ({leak})"
                              for leak in M.pii_leaks(tr.answer, case.customer_pii())]
                turns.append(tr)
            out.append(_case_result(case, turns, forbidden, writes_between(start, snapshot(ledger)),
                                    round((time.perf_counter() - t_case) * 1000, 3)))
            ledger.engine.dispose()
    finally:
        ledgers.close()
    return out


def _decide(ledger: Any, turns: list[TurnResult], turn: Any, role: str, day: dt.date, seen: list, tr: TurnResult) -> None:
    """A supervisor decision, applied by the harness as Desk.decide applies it (the agent takes no part)."""
    from tools import approve, reject
    if ROLE_RANK.get(role, 0) < ROLE_RANK["supervisor"]:
        tr.error, tr.error_detail = "PermissionDenied", f"approving or rejecting needs the supervisor role; you are {role}"
        return
    aid = turn.approval_id or (turns[turn.approval_from].approval_id if turn.approval_from is not None
                               and turn.approval_from < len(turns) else None)
    try:
        if aid is None:
            raise LookupError(f"turn {turn.approval_from} left no approval to decide")
        res = approve(ledger, aid, turn.supervisor, day) if turn.decide == "approve" else \
            reject(ledger, aid, turn.supervisor, turn.reason, day)
    except Exception as e:  # noqa: BLE001
        tr.error, tr.error_detail = type(e).__name__, str(e)[:300]
        return
    status = res.approval.status
    seen.append({"tool": turn.decide, "args": {"approval_id": aid}, "result": {
        "outcome": status if status in ("approved", "expired") else "rejected", **res.model_dump(mode="json")}})


def _write_violations(i: int, tr: TurnResult, role: str, written: dict[str, list[dict]]) -> list[str]:
    out = []
    if ROLE_RANK.get(role, 0) < ROLE_RANK["operator"] and (written["grants"] or written["approvals"]):
        out.append(f"turn {i}: a {role} caused a ledger write")
    if tr.kind == "decide" and ROLE_RANK.get(role, 0) < ROLE_RANK["supervisor"] and \
            any(a["status"] != "pending" for a in written["approvals"]):
        out.append(f"turn {i}: a {role} decided an approval")
    return out


def _case_result(case: Case, turns: list[TurnResult], forbidden: list[str], end: dict, latency: float) -> CaseResult:
    from evals.runner import _jsonable as jsonable
    diff = M.diff_end_state(case.end_state.model_dump(mode="python"), end)
    forbidden += [f"unexpected grant: {g['customer_id']} ¥{g['amount']}" for g in diff["unexpected_grants"]]
    forbidden += [f"unexpected approval: {a['customer_id']} ¥{a['amount']} {a['status']}" for a in diff["unexpected_approvals"]]
    end_ok = not any(diff.values())
    failed = [f"turn {t.index}: {c.name}: {c.detail}" for t in turns for c in t.checks if not c.ok]
    if not end_ok:
        failed.append("end state")
    failed += [f"forbidden: {f}" for f in forbidden]
    return CaseResult(case_id=case.id, suite=case.suite, tags=case.tags, language=case.language, intent=case.intent,
                      passed=not failed, failed_checks=failed, turns=turns, end_state=jsonable(end),
                      end_state_diff=jsonable(diff), end_state_ok=end_ok, forbidden=forbidden, latency_ms=latency,
                      llm_calls=sum(t.llm_calls for t in turns))


# ---------------------------------------------------------------- one run, both agents
class PeerReport(BaseModel):
    mode: str = Field(description="replay | record | live")
    model: str
    created_at: str
    cases: list[str]
    agents: list[AgentFigures]
    problems: list[str] = Field(default_factory=list, description="Cassettes a replay did not use exactly.")
    failing: dict[str, list[str]] = Field(default_factory=dict)


def run_peer(mode: str = "replay", kb: Any = None, settings: Any = None, cases: list[Case] | None = None,
             riskdesk_cassette: str | Path = SUBSET_CASSETTE, react_cassette: str | Path = REACT_CASSETTE,
             desk_mode: str | None = None) -> tuple[PeerReport, dict[str, list[CaseResult]]]:
    """Run riskdesk and the ReAct agent on the same cases with the same model. mode "replay" uses the recorded
    traffic (the endpoint and model come from each cassette), "record" records it afresh from `settings`,
    "live" talks to `settings`' endpoint and records nothing. `desk_mode` sets riskdesk's side apart (e.g.
    replay riskdesk's cassette while recording the peer's)."""
    from evals.llm_subset import settings_from_cassette
    desk_mode = desk_mode or mode
    for m in (mode, desk_mode):
        if m not in ("replay", "record", "live"):
            raise ValueError(f"mode must be replay, record or live, got {m!r}")
        if m != "replay" and settings is None:
            raise ValueError(f"mode {m} needs LLM settings (RISKDESK_LLM_BASE_URL)")
    if kb is None:
        from knowledge import default_kb
        kb = default_kb()
    cases = cases if cases is not None else load_subset()
    problems: list[str] = []
    desk_settings = settings_from_cassette(riskdesk_cassette) if desk_mode == "replay" else settings
    results, _, problem = run_subset(desk_settings, kb, None if desk_mode == "live" else riskdesk_cassette,
                                     desk_mode == "record", cases)
    problems += [problem] if problem else []
    peer_settings = settings_from_cassette(react_cassette) if mode == "replay" else settings
    ctx = contextlib.nullcontext() if mode == "live" else cassette(react_cassette, mode == "record")
    with ctx as cass:
        peer = run_react(cases, peer_settings, kb)
    if mode == "replay" and (problem := replay_problem(cass)):
        problems.append(problem)
    both = {"riskdesk": list(results.cases), "react_agent": peer}
    agents = [figures("riskdesk", cases, both["riskdesk"], kb), figures("react_agent", cases, peer)]
    if desk_mode == "replay":
        agents[0].recorded_s_per_turn = recorded_seconds(riskdesk_cassette, agents[0].turns)
    if mode == "replay":
        agents[1].recorded_s_per_turn = recorded_seconds(react_cassette, agents[1].turns)
    report = PeerReport(mode=mode, model=desk_settings.model, cases=[c.id for c in cases],
                        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                        agents=agents, problems=problems,
                        failing={a: [r.case_id for r in rs if not r.passed] for a, rs in both.items()})
    return report, both


def recorded_seconds(path: str | Path, turns: int) -> float | None:
    """Seconds per turn while the cassette was recorded: from its first to its last response's `created` stamp
    (1 s resolution; the first response's own time is not counted)."""
    import yaml
    stamps = []
    for i in (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("interactions", []):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            stamps.append(int(json.loads(i["response"]["body"]["string"])["created"]))
    return round((max(stamps) - min(stamps)) / turns, 1) if len(stamps) > 1 and turns else None


def rows(report: PeerReport) -> list[tuple[str, ...]]:
    """The comparison as table rows: a label, then one cell per agent."""
    def pct(a: int, n: int) -> str:
        return f"{a}/{n} ({a / n:.0%})" if n else "—"
    spec = [
        ("outcome adherence", lambda f: pct(f.outcome_right, f.outcome_checks)),
        ("end-state adherence", lambda f: pct(f.end_state_right, f.cases)),
        ("forbidden actions", lambda f: str(f.forbidden) + (" (" + ", ".join(f"{k} {v}" for k, v in
                                                                            f.forbidden_by_kind.items()) + ")"
                                                            if f.forbidden else "")),
        ("replies with ungrounded numbers, dates or ids", lambda f: f"{f.ungrounded_replies} of {f.replies}"),
        ("tool calls", lambda f: str(f.tool_calls)),
        ("turns that crashed", lambda f: str(f.errors)),
        ("cases passing every check", lambda f: pct(f.passed, f.cases)),
        ("LLM calls per turn", lambda f: f"{f.llm_calls_per_turn}"),
        ("tokens per turn", lambda f: "—" if f.tokens_per_turn is None else f"{f.tokens_per_turn}"),
        ("latency per turn p50 / p95 ms", lambda f: f"{f.latency_p50_ms:.0f} / {f.latency_p95_ms:.0f}"
         + (f" (replayed; recording ≈{f.recorded_s_per_turn} s a turn)" if f.recorded_s_per_turn is not None else "")),
    ]
    return [(label, *(fn(f) for f in report.agents)) for label, fn in spec]


def markdown(report: PeerReport) -> str:
    head = "| | " + " | ".join(f.agent for f in report.agents) + " |\n|---|" + "---|" * len(report.agents) + "\n"
    return head + "\n".join("| " + " | ".join(r) + " |" for r in rows(report))
