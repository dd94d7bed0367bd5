"""The whole agent flow, one LangGraph StateGraph that reads like its flowchart.

    supervisor ──tool intents──▶ risk_operator ──▶ policy_researcher ──▶ composer ──▶ compliance_reviewer
        │                                              ▲                    ▲                │
        ├──policy_qa───────────────────────────────────┘                    └──revise once───┤
        └──out_of_scope─────────────────────────────────────────▶ composer                  │
                                                      deliver ◀── grounded, or template fallback
                                                         └──a pending approval──▶ await_approval (interrupt)

supervisor          plans the turn (LLM planner when configured, rules planner otherwise/fallback)
risk_operator       calls the tools; the tools' rules decide every outcome
policy_researcher   fetches the clauses behind the applied rules, and searches for policy questions
composer            drafts the reply (template; LLM when configured, from the same evidence)
compliance_reviewer the guard: every number, date, id, clause and outcome checked against evidence;
                    an ungrounded LLM draft goes back to the composer once, then the template goes out
await_approval      pauses the thread for a supervisor; the decision is applied after the interrupt
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from agents import composer as templates
from agents import plugins
from agents.contract import ROLE_RANK
from agents.conversation import Conversation, after_turn
from agents.evidence import clauses_to_cite
from agents.guard import build_evidence, check
from agents.plan import Intent, Plan
from agents.plan_check import check_plan, rules_sources
from agents.planner_rules import RulesPlanner
from agents.reading import describe
from tools import Ledger, ToolInputError, approve, limit_lookup, reject, repair_check, temp_quota
from tools.temp_quota import what_if as temp_quota_what_if

HISTORY_TURNS = 8
# what a clarifying question waits for: the answer completes the same request
_QUESTION_WAITS_FOR = {"which_customer": ["customer_id"], "amount_negative": ["amount"], "amount_zero": ["amount"],
                       "amount_malformed": ["amount"], "amount_ambiguous": ["amount"], "amount_several": ["amount"]}
TOOL_INTENTS = {Intent.limit_lookup, Intent.temp_quota, Intent.repair_check}


class TurnState(TypedDict, total=False):
    # input of a turn
    message: str
    role: str
    as_of: str
    idempotency_key: str
    # memory across turns of a thread
    history: list[dict[str, str]]
    last_plan: dict[str, Any] | None
    aside: str | None              # other requests in the message that this turn did not act on
    conversation: dict[str, Any]   # agents.conversation.Conversation: focus, waiting request, last decision
    # this turn
    plan: dict[str, Any]
    plugin: str | None  # the lender's own tool this turn calls (intent `tool`)
    reading: dict[str, Any]        # agents.reading.describe(): what the message says, for the audit record
    missing: list[str]             # slots the agent asked for
    context_results: list[dict[str, Any]]  # the earlier decision a "why?" turn explains
    period: dict[str, Any] | None  # a past period the operator asked about
    planner: str
    llm_model: str | None
    planner_fallback: str | None
    llm_calls: int
    llm_tokens: int | None         # tokens of this turn's LLM calls (None: no LLM configured)
    slot_sources: dict[str, Any]   # agents.plan_check: slot -> {"source": "llm"|"rules", "reason", "proposed"}
    queries_from: str              # whose knowledge queries the plan carries: "rules" (the operator's words) or "llm"
    agents: list[str]
    tool_calls: list[dict[str, Any]]
    notice: str | None
    retrieved: list[str]
    clauses: list[dict[str, str]]
    template: str
    quotes: list[str]              # operator text the template quotes (composer.quote_user): the guard skips only these
    notice_quotes: list[str]       # the same, of a clarifying question the supervisor asked
    draft: str
    draft_source: str
    draft_guard: dict[str, Any] | None
    revisions: int
    review: str
    reply: str
    guard: dict[str, Any]
    approval_id: str | None
    timings: dict[str, float]


@dataclass
class Deps:
    """What the team works with; injected, so tests and services choose real or recorded parts."""

    ledger: Ledger
    kb: Any  # knowledge.KnowledgeBase: search(query, as_of, k) and get(clause_id)
    rules_planner: RulesPlanner = field(default_factory=RulesPlanner)
    llm_planner: Any | None = None   # agents.planner_llm.LLMPlanner
    llm_composer: Any | None = None  # agents.composer_llm.LLMComposer
    llm_model: str | None = None
    search_k: int = 3


def _timed(name: str, fn: Callable[[TurnState], dict], route: Callable[[Any], str] | None = None) -> Callable[[TurnState], Any]:
    def node(state: TurnState) -> Any:
        t0 = time.perf_counter()
        update = fn(state)
        timings = dict(update.get("timings", state.get("timings") or {}))
        timings[name] = round(timings.get(name, 0) + (time.perf_counter() - t0) * 1000, 3)
        agents = list(update.get("agents", state.get("agents") or []))
        agents.append(name)
        update = {**update, "timings": timings, "agents": agents}
        return update if route is None else _routed(update, state, route)
    node.__name__ = name
    return node


def _routed(update: dict, state: TurnState, route: Callable[[Any], str]) -> Command:
    """The node's update and where the turn goes next, decided from the state after the update. The same
    channels as a conditional edge (branch:to:<node>), so threads checkpointed either way resume alike;
    a conditional edge would copy every channel of the state to read the two it routes on."""
    return Command(update=update, goto=route({**state, **update}))


def _plain(fn: Callable[[TurnState], dict], route: Callable[[Any], str]) -> Callable[[TurnState], Command]:
    def node(state: TurnState) -> Command:
        return _routed(fn(state), state, route)
    node.__name__ = fn.__name__
    return node


def _clause_view(clause: Any, lang: str) -> dict[str, str]:
    text = (clause.text_zh if lang == "zh" else clause.text_en) or clause.text_en or clause.text_zh
    return {"clause_id": clause.clause_id, "doc_id": clause.doc_id, "title": clause.title, "text": text}


def build_graph(deps: Deps, checkpointer: Any = None):
    def supervisor(state: TurnState) -> dict:
        message = state["message"]
        conv = _conversation(state)
        today = dt.date.fromisoformat(state["as_of"])
        resolution, reading = deps.rules_planner.resolve(message, conv, today)
        planner, fallback, model, calls = "rules", None, None, 0
        plan: Plan | None = None
        # the LLM, when configured, is the primary planner; its plan is grounded slot by slot (agents/plan_check.py).
        # A question the rules must ask is asked without it.
        slot_sources: dict[str, Any] = {}
        queries_from = "rules"
        tokens = 0 if deps.llm_planner is not None or deps.llm_composer is not None else None
        if deps.llm_planner is not None and not resolution.question:
            history = [(h["role"], h["text"]) for h in state.get("history", [])]
            outcome = deps.llm_planner.plan(message, history)
            calls, tokens = outcome.attempts, _usage_tokens(outcome)
            if outcome.plan is not None:
                checked = check_plan(outcome.plan, resolution, reading, conv, linker=deps.rules_planner.reader.linker,
                                     earlier=[t for role, t in history if role == "operator"], today=today)
                plan, planner, model, slot_sources = checked.plan, "llm", deps.llm_model, checked.sources_json()
                queries_from = checked.queries_from
            else:
                fallback = outcome.fallback_reason
                slot_sources = rules_sources(f"fallback: {(fallback or '').split(':', 1)[0]}")
        notice, notice_quotes = None, []
        if plan is None or resolution.question:  # a question the rules must ask wins over any model's guess
            plan = resolution.plan
            if resolution.question:
                planner = "rules"
                notice = templates.clarify(plan.language, resolution.question, resolution.question_args, notice_quotes)
        period = None
        if reading.past_period is not None and plan.intent == Intent.policy_qa:
            p = reading.past_period
            day = min(p.value, today) if p.value else None  # "in 2026" asked in June 2026: as of today, not December
            period = {"raw": p.raw, "as_of": day.isoformat() if day else None, "old_rule": p.old_rule}
            if day is not None and day != plan.as_of:
                plan = plan.model_copy(update={"as_of": day})
        plugin = None  # a lender's own tool (agents/plugins.py), routed by the words it declares
        if not resolution.question and (plugin := plugins.route(message, plan.customer_id)):
            plan = plan.model_copy(update={"intent": Intent.tool})
        elif plan.intent == Intent.tool and not (plugin := plugins.named(plan)):  # no installed tool named: the rules'
            plan = resolution.plan
        history = (state.get("history") or []) + [{"role": "operator", "text": message}]
        return {
            "plugin": plugin,
            "plan": plan.model_dump(mode="json"), "planner": planner, "llm_model": model,
            "planner_fallback": fallback, "llm_calls": calls, "llm_tokens": tokens, "slot_sources": slot_sources,
            "queries_from": queries_from, "history": history[-2 * HISTORY_TURNS:],
            "reading": describe(reading), "conversation": conv.model_dump(mode="json"), "period": period,
            "context_results": conv.last_results if plan.intent == Intent.explain else [],
            # a new turn starts clean
            "agents": [], "timings": {}, "tool_calls": [], "notice": notice, "retrieved": [], "clauses": [],
            "draft_guard": None, "revisions": 0, "approval_id": None,
            "missing": _QUESTION_WAITS_FOR.get(resolution.question or "", []) if notice else [],
            "notice_quotes": notice_quotes,
            "aside": templates.not_handled(plan.language, resolution.not_handled)
            if resolution.not_handled and plan.intent == resolution.plan.intent else None,
        }

    def route_plan(state: TurnState) -> Literal["risk_operator", "policy_researcher", "composer"]:
        intent = Intent(state["plan"]["intent"])
        if state.get("notice"):  # a clarifying question: nothing to call, nothing to look up
            return "composer"
        if intent in TOOL_INTENTS or intent == Intent.tool:
            return "risk_operator"
        return "policy_researcher" if intent in (Intent.policy_qa, Intent.explain) else "composer"

    def risk_operator(state: TurnState) -> dict:
        plan = Plan.model_validate(state["plan"])
        lang, role = plan.language, state.get("role", "operator")
        as_of = plan.as_of or dt.date.fromisoformat(state["as_of"])
        cid = plan.customer_id
        if not cid:
            missing = ["customer_id"] + [k for k in ("amount", "purpose") if plan.intent == Intent.temp_quota
                                         and getattr(plan, k) in (None, "")]
            return {"notice": templates.missing_slots(lang, None, missing, plan.intent.value), "missing": missing}
        if plan.intent == Intent.tool:
            spec = plugins.registry()[state["plugin"]]
            if ROLE_RANK[role] < ROLE_RANK[spec.role]:
                return {"notice": templates._t(lang, f"{spec.name} needs the {spec.role} role; you are signed in as {role}. "
                                                     "Nothing was changed.",
                                               f"{spec.name}需要{spec.role}角色，当前角色为{role}，未做任何更改。")}
            name, tool, args = spec.name, spec, plugins.arguments(spec, state["plan"], as_of)
        elif plan.intent == Intent.temp_quota:
            if ROLE_RANK[role] < ROLE_RANK["operator"]:
                return {"notice": templates.role_refusal(lang, "operator", role)}
            missing = [k for k in ("amount", "purpose") if getattr(plan, k) in (None, "")]
            if missing:
                return {"notice": templates.missing_slots(lang, cid, missing), "missing": missing}
            # When the request is dated (agents/clock.py): the Desk passes the turn's mode in the run's config.
            # live: a persistent store, so the grant is dated today by the deployment's clock, never by the
            # request (an as_of field other than today is an error; a date in the message is answered, not used);
            # what_if: the pure rules on any date, nothing written; sandbox: a fixture ledger, any date.
            from langgraph.config import get_config

            from agents.clock import AsOfNotAllowed, dated_write_refusal
            turn = (get_config().get("configurable") or {}).get("riskdesk_turn") or {}
            mode = turn.get("mode", "sandbox")
            if mode == "live":
                today = dt.date.fromisoformat(turn["today"])
                asked = turn.get("asked_as_of")
                if asked and asked != today.isoformat():
                    raise AsOfNotAllowed(dated_write_refusal(dt.date.fromisoformat(asked), today))
                if plan.as_of is not None and plan.as_of != today:
                    return {"notice": templates._t(
                        lang, f"Grants are dated today, so a grant cannot be dated {plan.as_of.isoformat()}: nothing "
                              f"was written. A what-if (dry run) can show the decision as of {plan.as_of.isoformat()}.",
                        f"临时额度只按今天的日期发放，不能按{plan.as_of.isoformat()}办理，未写入任何数据。"
                        f"如需查看截至{plan.as_of.isoformat()}的结果，请用假设推演（dry run）。")}
                as_of = today
            name, tool = "temp_quota", temp_quota
            args = {"customer_id": cid, "amount": plan.amount, "purpose": plan.purpose, "as_of": as_of,
                    "idempotency_key": state.get("idempotency_key"), "requested_by": turn.get("requested_by")}
            if mode == "what_if":
                tool = temp_quota_what_if
                args = {"customer_id": cid, "amount": plan.amount, "purpose": plan.purpose, "as_of": as_of,
                        "dry_run": True}
        else:
            name, tool = plan.intent.value, {Intent.limit_lookup: limit_lookup, Intent.repair_check: repair_check}[plan.intent]
            args = {"customer_id": cid, "as_of": as_of}
        try:
            calls = [(name, args, tool(deps.ledger, **args))]
        except ToolInputError as e:  # bad slots are an answer, not a crash; nothing was written
            return {"notice": str(e)}
        tool_calls = [{"tool": name, "args": _jsonable({k: v for k, v in args.items() if k != "requested_by"}),
                       "result": res.model_dump(mode="json")} for name, args, res in calls]
        approval_id = next((c["result"].get("approval_id") for c in tool_calls if c["result"].get("approval_id")), None)
        return {"tool_calls": tool_calls, "approval_id": approval_id}

    def policy_researcher(state: TurnState) -> dict:
        plan = Plan.model_validate(state["plan"])
        as_of = plan.as_of or dt.date.fromisoformat(state["as_of"])
        clauses: list[dict[str, str]] = []
        for cid in clauses_to_cite([c["result"] for c in state.get("tool_calls", [])] + list(state.get("context_results") or [])):
            clause = deps.kb.get(cid) or plugins.clause(cid)
            if clause is not None:
                clauses.append(_clause_view(clause, plan.language))
        retrieved: list[str] = []
        # the operator's own words first (the rules planner's query is those words with shorthand spelled out);
        # a model's rephrasings only add to them
        own = [] if state.get("queries_from", state.get("planner")) == "rules" and plan.knowledge_queries \
            else [state["message"]]
        queries = list(dict.fromkeys((own if plan.intent == Intent.policy_qa else []) + plan.knowledge_queries))
        period = state.get("period")
        if period and period.get("old_rule") and queries:
            # "under the old rule": the version before the one in force, i.e. the day before it took effect
            top = deps.kb.search(queries[0], as_of=as_of, k=1)
            if top:
                as_of = top[0].effective_from - dt.timedelta(days=1)
                period = {**period, "as_of": as_of.isoformat()}
        for query in queries:
            for hit in deps.kb.search(query, as_of=as_of, k=deps.search_k):
                retrieved.append(hit.clause_id)
                if all(c["clause_id"] != hit.clause_id for c in clauses):
                    clause = deps.kb.get(hit.clause_id)
                    clauses.append(_clause_view(clause, plan.language) if clause else
                                   {"clause_id": hit.clause_id, "doc_id": hit.doc_id, "title": hit.title, "text": hit.text})
        return {"clauses": clauses, "retrieved": retrieved, "period": period}

    def composer(state: TurnState) -> dict:
        plan = Plan.model_validate(state["plan"])
        results = [c["result"] for c in state.get("tool_calls", [])]
        if plan.intent == Intent.explain:
            results = list(state.get("context_results") or [])
        quotes: list[str] = list(state.get("notice_quotes") or [])
        body = "" if state.get("notice") and not results else \
            templates.compose(plan.language, plan.intent.value, results, state.get("clauses", []), state.get("period"),
                              state["message"], quotes=quotes)
        if (state.get("reading") or {}).get("purpose", {}).get("disguised") and any(
                r.get("deciding_rule") == "TQ2" for r in results):
            body = templates.purpose_differs(plan.language) + "\n" + body
        template = "\n".join(filter(None, [state.get("notice"), body, state.get("aside")]))
        if deps.llm_composer is None or not (results or state.get("clauses")):
            return {"template": template, "draft": template, "draft_source": "template", "quotes": quotes}
        evidence = {"tool_results": results, "clauses": state.get("clauses", [])}
        if state.get("revisions"):
            evidence["problems_in_previous_draft"] = (state.get("draft_guard") or {}).get("ungrounded", [])
        outcome = deps.llm_composer.compose(plan.language, state["message"], evidence, template)
        calls, tokens = state.get("llm_calls", 0) + 1, (state.get("llm_tokens") or 0) + _usage_tokens(outcome)
        if outcome.text:
            return {"template": template, "draft": outcome.text, "draft_source": "llm", "llm_calls": calls,
                    "llm_tokens": tokens, "quotes": quotes}
        return {"template": template, "draft": template, "draft_source": "template", "llm_calls": calls,
                "llm_tokens": tokens, "quotes": quotes}

    def compliance_reviewer(state: TurnState) -> dict:
        # the date a past-period question was answered for is derived from the operator's words: evidence too
        derived = [state["period"]["as_of"]] if (state.get("period") or {}).get("as_of") else []
        ev = build_evidence([h["text"] for h in state.get("history", []) if h["role"] == "operator"] + derived,
                            [c["result"] for c in state.get("tool_calls", [])] + list(state.get("context_results") or []),
                            state.get("clauses", []))
        quotes = state.get("quotes") or []  # the template's own quotes; an LLM draft's quotes are read like the rest
        verdict, _ = check(state["draft"], ev, quoted=quotes if state.get("draft_source") == "template" else ())
        update: dict[str, Any] = {"draft_guard": verdict.model_dump(), "review": "deliver"}
        if verdict.grounded:
            update.update(reply=state["draft"], guard=verdict.model_dump())
        elif state.get("draft_source") == "llm" and not state.get("revisions"):
            update.update(revisions=1, review="revise")  # back to the composer once
        else:  # the template goes out instead; what was caught stays in draft_guard
            fallback, _ = check(state["template"], ev, quoted=quotes)
            update.update(reply=state["template"], guard=fallback.model_dump())
        return update

    def deliver(state: TurnState) -> dict:
        history = (state.get("history") or []) + [{"role": "assistant", "text": state["reply"]}]
        conv = after_turn(_conversation(state), Plan.model_validate(state["plan"]), state.get("missing") or [],
                          [c["result"] for c in state.get("tool_calls", [])])
        return {"history": history[-2 * HISTORY_TURNS:], "last_plan": state["plan"],
                "conversation": conv.model_dump(mode="json")}

    def await_approval(state: TurnState) -> dict:
        # Nothing before interrupt() has side effects: this part re-runs on resume.
        decision = interrupt({"approval_id": state["approval_id"], "reply": state["reply"]})
        update = apply_decision(deps, state["approval_id"], decision, state["plan"].get("language", "en"))
        return {**update, "history": (state.get("history") or []) + [{"role": "assistant", "text": update["reply"]}]}

    # The three forks are routed by the node that precedes them (a Command naming the next node), with the
    # destinations declared for the drawn graph.
    g = StateGraph(TurnState)
    g.add_node("supervisor", _timed("supervisor", supervisor, route_plan),
               destinations=("risk_operator", "policy_researcher", "composer"))
    g.add_node("risk_operator", _timed("risk_operator", risk_operator))
    g.add_node("policy_researcher", _timed("policy_researcher", policy_researcher))
    g.add_node("composer", _timed("composer", composer))
    g.add_node("compliance_reviewer", _timed("compliance_reviewer", compliance_reviewer, _after_review),
               destinations=("composer", "deliver"))
    g.add_node("deliver", _plain(deliver, _after_delivery), destinations=("await_approval", END))
    g.add_node("await_approval", await_approval)

    g.add_edge(START, "supervisor")
    g.add_edge("risk_operator", "policy_researcher")
    g.add_edge("policy_researcher", "composer")
    g.add_edge("composer", "compliance_reviewer")
    g.add_edge("await_approval", END)
    return g.compile(checkpointer=checkpointer)


def _after_review(state: TurnState) -> Literal["composer", "deliver"]:
    return "composer" if state["review"] == "revise" else "deliver"


def _after_delivery(state: TurnState) -> Literal["await_approval", "__end__"]:
    return "await_approval" if state.get("approval_id") else END


def _conversation(state: TurnState) -> Conversation:
    """The thread's conversation state (threads from before it existed start from their last plan)."""
    if state.get("conversation"):
        return Conversation.model_validate(state["conversation"])
    last = Plan.model_validate(state["last_plan"]) if state.get("last_plan") else None
    return Conversation(last_plan=last, focus=last.customer_id if last else None)


def apply_decision(deps: Deps, approval_id: str, decision: dict[str, Any], lang: str) -> dict[str, Any]:
    """A supervisor's decision on a pending quota (TQ5), applied once; the reply is the template's.
    Shared by the paused thread (after the interrupt) and by decisions taken outside any thread.

    The Desk applies every decision itself, fresh, outside the thread (a failed one never reaches a
    checkpoint, so it cannot be replayed), then resumes a paused thread with the outcome under
    "applied": the thread only records it."""
    if "applied" in decision:
        return decision["applied"]
    as_of = dt.date.fromisoformat(decision["as_of"])
    if decision["decision"] == "approve":
        res = approve(deps.ledger, approval_id, decision["supervisor"], as_of)
    else:
        res = reject(deps.ledger, approval_id, decision["supervisor"], decision.get("reason", ""), as_of)
    status = res.approval.status  # approved, rejected, or expired (a reject of a lapsed approval is a no-op)
    result = {"tool": "approval", "outcome": status if status in ("approved", "expired") else "rejected",
              **res.model_dump(mode="json")}
    tool_calls = [{"tool": decision["decision"], "args": {"approval_id": approval_id, "supervisor": decision["supervisor"],
                                                          "as_of": as_of.isoformat()}, "result": result}]
    clauses = [_clause_view(c, lang) for c in map(deps.kb.get, clauses_to_cite([result])) if c]
    quotes: list[str] = []  # the supervisor's reason, shown as their quoted words
    reply = templates.compose(lang, "approval", [result], clauses, quotes=quotes)
    verdict, _ = check(reply, build_evidence([], [result], clauses), quoted=quotes)
    return {"reply": reply, "draft": reply, "template": reply, "draft_source": "template", "tool_calls": tool_calls,
            "quotes": quotes,
            "clauses": clauses, "guard": verdict.model_dump(), "draft_guard": verdict.model_dump(),
            "agents": ["await_approval"], "timings": {}, "revisions": 0, "llm_calls": 0, "llm_tokens": None, "slot_sources": {},
            "planner_fallback": None, "retrieved": [], "approval_id": None}


def _usage_tokens(outcome: Any) -> int:
    """Total tokens an LLM planner or composer outcome reports (0 when it reports none)."""
    return int(getattr(getattr(outcome, "usage", None), "total_tokens", 0) or 0)


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    from tools.money import yuan_str
    out = {}
    for k, v in args.items():
        if isinstance(v, (dt.date,)):
            v = v.isoformat()
        elif isinstance(v, Decimal):
            v = yuan_str(v) if v.is_finite() else str(v)  # money on the wire: a decimal string, never a float
        out[k] = v
    return out
