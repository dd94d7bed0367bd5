"""The in-process API: one Desk owns the ledger, the knowledge base, the graph and the audit log.

    from agents import Desk
    desk = Desk.open()                       # sample ledger, embedded Chroma, rules planner
    r = desk.ask("给C1002申请4000元临时额度，买电动车送外卖")   # a grant is dated by the desk's clock
    r.outcome, r.answer, r.citations
    desk.ask("C1001的额度", as_of="2026-01-15")                  # a lookup takes any as-of date

Time (agents/clock.py): on a persistent store every write is dated by `desk.clock` (RISKDESK_TODAY, or
`Desk(clock=...)`, else China's today), never by a request; a fixture ledger is a sandbox that keeps any
as-of, and `dry_run=True` answers as of any date without writing.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator

from langgraph.types import Command
from sqlalchemy import select

from agents.audit import AuditLog, AuditRecord, masked, now_utc
from agents.clock import AsOfNotAllowed, Clock, as_clock, dated_write_refusal
from agents.contract import (
    RESERVED_THREAD_PREFIX, ROLE_RANK, ApprovalDecision, AskRequest, AskResult, Citation, GuardVerdict, ToolCall,
)
from agents.graph import Deps, apply_decision, build_graph
from agents.linking import CustomerLinker
from agents.planner_rules import RulesPlanner
from agents.plan import Intent
from agents.turn_executor import INLINE, install as install_inline_executor
from storage.checkpoints import open_checkpointer
from storage.schema import approval_threads_t
from tools import ApprovalError, Ledger, list_approvals
from tools.privacy import MaskingFilter, mask_text
from tools.approvals import Approval, get_approval
from tools.errors import PermissionDenied

__all__ = ["Desk", "PermissionDenied", "AsOfNotAllowed"]
log = logging.getLogger("riskdesk.desk")
log.addFilter(MaskingFilter())  # a traceback can carry operator text



WHAT_IF = {"en": "What-if only: nothing was written (no quota granted, no approval created).",
           "zh": "假设推演：未写入任何数据（未发放额度，未创建审批）。"}


class Desk:
    def __init__(self, ledger: Ledger, kb: Any, *, llm: Any = None, audit: AuditLog | None = None,
                 threads_path: str | Path | None = None, clock: Clock | dt.date | str | Any = None):
        self.ledger, self.kb = ledger, kb
        # what day it is, for everything this desk writes on a persistent store (agents/clock.py): read once
        # here from the configuration (RISKDESK_TODAY, else China's today), never from a request
        self.clock = as_clock(clock)
        self.audit = audit or AuditLog()
        self._names = tuple(ledger.names())
        self.audit.mask_with(self._names, ledger.has_customer)  # records read back are masked as well
        planner = composer = model = None
        if llm is not None:
            from agents.composer_llm import LLMComposer
            from agents.llm import LLMClient
            from agents.planner_llm import LLMPlanner
            client = LLMClient(llm)
            planner = LLMPlanner(client, names=self._names, keep=ledger.has_customer)
            composer, model = LLMComposer(client, names=self._names, keep=ledger.has_customer), llm.model
        self.llm_model = model
        # conversation checkpoints: PostgresSaver on a shared PostgreSQL, else SqliteSaver (storage/checkpoints.py)
        self.checkpointer, self._close_checkpoints = open_checkpointer(threads_path)
        self._conn = getattr(self.checkpointer, "conn", None)  # the SQLite connection, on one machine
        self.deps = Deps(ledger=ledger, kb=kb, rules_planner=RulesPlanner(CustomerLinker(ledger)),
                         llm_planner=planner, llm_composer=composer, llm_model=model)
        self.graph = build_graph(self.deps, checkpointer=self.checkpointer)
        install_inline_executor()  # a turn's checkpoint save runs in its own thread (agents/turn_executor.py)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, ledger_file: str | Path | None = None, ledger_url: str | None = None,
             llm: Any = "env", kb: Any = None, **kw: Any) -> "Desk":
        """Embedded defaults: the persistent ledger (seeded with the sample on first use), the shipped
        corpus in embedded Chroma, and an LLM only when RISKDESK_LLM_BASE_URL (or a config file) says so."""
        if ledger_file is not None:
            ledger = Ledger.from_file(ledger_file)
        else:
            ledger = Ledger.open(ledger_url)
            if ledger.is_empty():
                ledger.seed_sample()  # once, even when several processes start together
        if kb is None:  # the shared store opens on the first policy search, not before
            from knowledge import ShippedFirst
            kb = ShippedFirst()
        if llm == "env":
            from agents.llm import LLMSettings
            llm = LLMSettings.from_env()
        return cls(ledger, kb, llm=llm, **kw)

    # ------------------------------------------------------------------ turns
    @property
    def sandbox(self) -> bool:
        """A fixture ledger (Ledger.from_file, --ledger FILE, the evals): any as-of may date a write."""
        return bool(getattr(self.ledger, "sandbox", False))

    def today(self) -> dt.date:
        return self.clock.today()

    def ask(self, message: str, role: str = "operator", thread_id: str | None = None,
            as_of: str | dt.date | None = None, caller: str = "python", idempotency_key: str | None = None,
            dry_run: bool = False) -> AskResult:
        """One operator turn. Bad arguments raise pydantic.ValidationError with a clear message. On a
        persistent store a temporary-quota request with an `as_of` other than today raises AsOfNotAllowed;
        `dry_run=True` runs the rules on any as-of and writes nothing (AskResult.what_if)."""
        *_, last = self.stream(message, role, thread_id, as_of, caller, idempotency_key, dry_run)
        return last["data"]

    def stream(self, message: str, role: str = "operator", thread_id: str | None = None,
               as_of: str | dt.date | None = None, caller: str = "python",
               idempotency_key: str | None = None, dry_run: bool = False) -> Iterator[dict[str, Any]]:
        """The same turn as progress events: {"event": team member, "data": its update}, ending with
        {"event": "result", "data": AskResult}. Validation happens before the first event."""
        req = AskRequest(message=message, role=role, thread_id=thread_id, dry_run=dry_run,
                         as_of=as_of.isoformat() if isinstance(as_of, dt.date) else as_of)
        thread = req.thread_id or f"t-{uuid.uuid4().hex[:12]}"
        today = self.today()
        day = req.as_of or today.isoformat()
        # how a temporary-quota request of this turn is dated (graph.risk_operator; agents/clock.py)
        turn = {"mode": "what_if" if req.dry_run else "sandbox" if self.sandbox else "live",
                "today": today.isoformat(), "asked_as_of": req.as_of, "requested_by": caller}
        # masked at the edge: the checkpoint, the history, the audit record and any LLM see only this copy
        masked_message = self.mask(req.message)
        return self._run({"message": masked_message, "role": req.role, "as_of": day, "idempotency_key": idempotency_key},
                         thread, req.role, day, caller, masked_message, turn)

    def _run(self, graph_input: Any, thread: str, role: str, day: str, caller: str, message: str,
             turn: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        config = {"configurable": {"thread_id": thread, "riskdesk_turn": turn or {}, INLINE: True}}
        state: dict[str, Any] = {}
        for mode, chunk in self.graph.stream(graph_input, config, stream_mode=["updates", "values"], durability="exit"):
            if mode == "values":  # the whole state after each step: the last one is the turn's end state
                state = chunk
                continue
            for node, data in chunk.items():
                if node != "__interrupt__" and data:
                    yield {"event": node, "data": data}
        if state.get("approval_id"):
            with self.audit.engine.begin() as conn:  # the newest thread paused on this approval id wins
                conn.execute(approval_threads_t.delete().where(approval_threads_t.c.approval_id == state["approval_id"]))
                conn.execute(approval_threads_t.insert().values(approval_id=state["approval_id"], thread_id=thread))
        yield {"event": "result", "data": self._finish(state, thread, role, day, caller, message, what_if=turn is not None
                                                       and turn.get("mode") == "what_if")}

    def decide(self, approval_id: str, decision: ApprovalDecision, role: str = "supervisor",
               caller: str = "python") -> AskResult:
        """A supervisor approves or rejects a pending temporary quota. Every decision is evaluated fresh
        against the ledger, outside any conversation: a failed one (ApprovalError, PermissionDenied,
        AsOfNotAllowed) changes nothing and leaves no trace for the next decision to replay. A decision
        that succeeds is recorded in the thread paused on the approval, if there is one. Never grants twice.
        On a persistent store the decision is dated today by the desk's clock; `decision.as_of` is then
        refused unless it is today (a sandbox ledger keeps it)."""
        if ROLE_RANK.get(role, -1) < ROLE_RANK["supervisor"]:
            raise PermissionDenied(f"approving or rejecting needs the supervisor role; you are {role}")
        approval = get_approval(self.ledger, approval_id)
        if approval is None:
            raise ApprovalError(f"no approval with id {approval_id!r}")
        today = self.today()
        if decision.as_of is not None and not self.sandbox and decision.as_of != today.isoformat():
            raise AsOfNotAllowed(dated_write_refusal(dt.date.fromisoformat(decision.as_of), today))
        day = decision.as_of if self.sandbox and decision.as_of else today.isoformat()
        payload = decision.model_dump() | {"as_of": day, "reason": self.mask(decision.reason)}
        thread = self._thread_waiting_on(approval_id)
        lang = "en"
        if thread is not None:
            plan = self.graph.get_state({"configurable": {"thread_id": thread}}).values.get("plan") or {}
            lang = plan.get("language", "en")
        applied = apply_decision(self.deps, approval_id, payload, lang)  # raises when it cannot be carried out
        message = f"/{decision.decision} {approval_id}"
        if thread is not None:
            try:
                *_, last = self._run(Command(resume=payload | {"applied": applied}), thread, role, day, caller, message)
                return last["data"]
            except Exception:  # noqa: BLE001 - the decision stands; only the thread's record of it failed
                log.exception("recording decision %s in thread %s failed", approval_id, thread)
        state = {"plan": {"intent": "temp_quota", "customer_id": approval.customer_id, "language": lang},
                 "planner": "none", **applied}
        return self._finish(state, f"{RESERVED_THREAD_PREFIX}{approval_id}", role, day, caller, message)

    def _thread_waiting_on(self, approval_id: str) -> str | None:
        """The thread paused on this approval, if it can still take the decision: a thread that already
        holds a resume value (stored by an earlier release when a decision failed after the interrupt)
        would replay that value instead, so it is left alone and the decision is taken outside it."""
        with self.audit.engine.connect() as conn:
            row = conn.execute(select(approval_threads_t.c.thread_id)
                               .where(approval_threads_t.c.approval_id == approval_id)).first()
        if row is None:
            return None
        config = {"configurable": {"thread_id": row[0]}}
        snapshot = self.graph.get_state(config)
        if not any(i.value.get("approval_id") == approval_id for i in snapshot.interrupts):
            return None
        stored = self.checkpointer.get_tuple(config)
        if stored is not None and any(w[1] == "__resume__" for w in stored.pending_writes or ()):
            return None
        return row[0]

    def approvals(self, status: str | None = "pending") -> list[Approval]:
        """Approvals with this status (None: all). On a persistent store, pending approvals past their
        decide-by day are expired first (by the desk's clock); a sandbox expires them only at a decision."""
        return list_approvals(self.ledger, status, today=None if self.sandbox else self.today())

    def pending_approvals(self) -> list[Approval]:
        return self.approvals("pending")

    def history(self, thread_id: str) -> list[dict[str, str]]:
        """The thread's messages, masked (threads stored before masking covered every notation included)."""
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        return [{**h, "text": self.mask(h["text"])} for h in snapshot.values.get("history", [])]

    def mask(self, text: str) -> str:
        """ID and phone numbers in any notation and customer names masked; the ledger's customer ids kept."""
        return mask_text(text, self._names, self.ledger.has_customer)

    # ------------------------------------------------------------------ result + audit
    def _finish(self, state: dict[str, Any], thread: str, role: str, day: str, caller: str, message: str,
                what_if: bool = False) -> AskResult:
        plan = state["plan"]
        calls = [ToolCall(**c) for c in state.get("tool_calls", [])]
        outcome = None
        if calls:
            o = calls[0].result.get("outcome")
            outcome = "denied" if o in ("rejected", "expired") else o
        if what_if:  # the reply says so, whoever drafted it (a fixed sentence: nothing in it to check)
            line = WHAT_IF.get(plan.get("language", "en"), WHAT_IF["en"])
            if line not in state["reply"]:
                state = {**state, "reply": f"{line}\n{state['reply']}"}
        citations = [Citation(clause_id=c["clause_id"], doc_id=c["doc_id"], title=c["title"],
                              quote=c["text"] if len(c["text"]) <= 240 else c["text"][:239] + "…")
                     for c in state.get("clauses", [])]
        pending = state.get("approval_id") if outcome == "needs_approval" else None
        trace_id = uuid.uuid4().hex
        guard = GuardVerdict(**state["guard"])
        result = AskResult(answer=self.mask(state["reply"]), language=plan.get("language", "en"), intent=Intent(plan["intent"]),
                           customer_id=plan.get("customer_id"), outcome=outcome, tool_calls=calls, citations=citations,
                           guard=guard, approval_id=pending, trace_id=trace_id,
                           planner=state.get("planner", "rules"), thread_id=thread, what_if=what_if)
        record = AuditRecord(
            trace_id=trace_id, thread_id=thread, created_at=now_utc(), caller=caller, role=role, as_of=day,
            message=message, plan=plan, planner=result.planner, llm_model=state.get("llm_model"),
            planner_fallback=state.get("planner_fallback"), agents=state.get("agents", []),
            retrieved=state.get("retrieved", []), cited=[c.clause_id for c in citations], tool_calls=calls,
            draft=state.get("draft"), draft_source=state.get("draft_source", "template"),
            draft_guard=GuardVerdict(**state["draft_guard"]) if state.get("draft_guard") else None,
            reply=result.answer, guard=guard, revisions=state.get("revisions", 0),
            llm_calls=state.get("llm_calls", 0), timings_ms=state.get("timings", {}),
            llm_tokens=state.get("llm_tokens"), slot_sources=state.get("slot_sources") or {},
            quoted=[q for q in state.get("quotes") or [] if state.get("reply") == state.get("template") and q in state["reply"]])
        self.audit.write(masked(record, self._names, self.ledger.has_customer), owner=caller)
        return result

    def warm(self) -> None:
        """Load what the first turn would load (the knowledge base's store and embedding model, the
        segmenter): one search and one plan, nothing written."""
        self.kb.search("warm-up 预热", as_of=dt.date(2026, 1, 1), k=1)
        self.deps.rules_planner.plan("C1001 warm-up 预热")

    def close(self) -> None:
        self._close_checkpoints()
