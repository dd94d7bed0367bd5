"""What the operator's desk shows beyond one turn: the customer card, a reopened turn as it was shown live,
thread and decision search rows, the supervisors' inbox, and CSV exports. Built from the tools' results and
the (masked) audit records only; nothing here comes from a model.

Money stays Decimal (a decimal string in JSON, never a float)."""
from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any, Iterable

from pydantic import BaseModel, Field

from agents.audit import AuditRecord
from agents.contract import AskResult, Citation, Intent
from tools.approvals import Approval
from tools.limit_lookup import ActiveTempQuota, limit_lookup
from tools.money import Yuan
from tools.repair_check import repair_check
from tools.temp_quota import tq1_failures


# ------------------------------------------------------------------ the customer card

class CustomerCard(BaseModel):
    """A customer as of one day, from the tools: limit_lookup (limit, used, live temporary quota, TQ7),
    the TQ1 checks of temp_quota, and repair_check (overdue records and one-time repair)."""

    customer_id: str
    as_of: dt.date
    found: bool
    status: str | None = None
    risk_tier: str | None = None
    kyc_verified: bool | None = None
    opened_on: dt.date | None = None
    account_age_days: int | None = None
    base_limit: Yuan | None = None
    used: Yuan | None = None
    available: Yuan | None = None
    temp_quota: ActiveTempQuota | None = None
    total_available: Yuan | None = Field(default=None, description="TQ7: available plus the live temporary quota.")
    overdue_records: int = 0
    unrepaid_records: int = 0
    repair_outcome: str | None = Field(default=None, description="repair_check's outcome as of the day.")
    tq1_failures: list[str] = Field(default_factory=list, description="TQ1 conditions a quota request would fail now.")
    rules_applied: list[str] = Field(default_factory=list)


def customer_card(ledger: Any, customer_id: str, as_of: dt.date) -> CustomerCard:
    lim = limit_lookup(ledger, customer_id, as_of)
    if lim.outcome == "not_found":
        return CustomerCard(customer_id=customer_id, as_of=as_of, found=False)
    c = ledger.customer(lim.customer_id)
    rep = repair_check(ledger, lim.customer_id, as_of)
    return CustomerCard(
        customer_id=lim.customer_id, as_of=as_of, found=True, status=lim.status.value if lim.status else None,
        risk_tier=c.risk_tier.value, kyc_verified=c.kyc_verified, opened_on=c.opened_on,
        account_age_days=(as_of - c.opened_on).days, base_limit=lim.base_limit, used=lim.used, available=lim.available,
        temp_quota=lim.temp_quota, total_available=lim.total_available, overdue_records=len(c.overdue_records),
        unrepaid_records=sum(1 for r in c.overdue_records if r.repaid_on is None or r.repaid_on > as_of),
        repair_outcome=rep.outcome, tq1_failures=tq1_failures(c, as_of),
        rules_applied=sorted(set(lim.rules_applied) | set(getattr(rep, "rules_applied", []) or [])))


# ------------------------------------------------------------------ a turn as it was shown

class DeskTurn(AskResult):
    """One recorded turn rebuilt from its audit record: what the live console showed (answer, outcome, guard,
    tool calls, citations with their clause text), plus who asked, when and as of which day."""

    message: str = Field(description="The operator's message (masked).")
    as_of: str
    created_at: str
    caller: str
    role: str
    clause_texts: dict[str, str] = Field(default_factory=dict, description="Cited clause id -> its text.")


def outcome_of(record: AuditRecord) -> str | None:
    """The turn's outcome as the desk reports it (agents/desk.py: the first tool call's; a rejected or expired
    approval is a denial)."""
    if not record.tool_calls:
        return None
    o = record.tool_calls[0].result.get("outcome")
    return "denied" if o in ("rejected", "expired") else o


def desk_turn(record: AuditRecord, kb: Any) -> DeskTurn:
    plan = record.plan or {}
    lang = plan.get("language") if plan.get("language") in ("zh", "en") else "en"
    citations, texts = [], {}
    for cid in record.cited:
        clause = kb.get(cid) if kb is not None else None
        if clause is None:
            citations.append(Citation(clause_id=cid, doc_id="", title="", quote=""))
            continue
        text = (clause.text_zh if lang == "zh" else clause.text_en) or clause.text_en or clause.text_zh
        texts[cid] = text
        citations.append(Citation(clause_id=cid, doc_id=clause.doc_id, title=clause.title,
                                  quote=text if len(text) <= 240 else text[:239] + "…"))
    outcome = outcome_of(record)
    pending = None
    if outcome == "needs_approval" and record.tool_calls:
        pending = record.tool_calls[0].result.get("approval_id")
    try:
        intent = Intent(plan.get("intent") or "out_of_scope")
    except ValueError:
        intent = Intent("out_of_scope")
    return DeskTurn(answer=record.reply, language=lang, intent=intent, customer_id=plan.get("customer_id"),
                    outcome=outcome, tool_calls=record.tool_calls, citations=citations, guard=record.guard,
                    approval_id=pending, trace_id=record.trace_id, planner=record.planner, thread_id=record.thread_id,
                    message=record.message, as_of=record.as_of, created_at=record.created_at, caller=record.caller,
                    role=record.role, clause_texts=texts)


# ------------------------------------------------------------------ search rows

class ThreadRow(BaseModel):
    thread_id: str
    owner: str
    created_at: str
    last_turn_at: str | None = None
    turns: int = 0
    title: str = Field(description="The first operator message (masked, at most 60 characters).")
    customers: list[str] = Field(default_factory=list)
    outcomes: list[str] = Field(default_factory=list)
    operators: list[str] = Field(default_factory=list, description="Everyone who acted in the thread.")


class _TurnRow(BaseModel):
    """What every row about one turn starts with: which turn, who asked, as of which day."""

    trace_id: str
    thread_id: str
    created_at: str
    caller: str
    role: str
    as_of: str


class DecisionRow(_TurnRow):
    """One turn that reached a tool: the decision, who asked, as of which day."""

    intent: str
    customer_id: str | None = None
    tool: str | None = None
    outcome: str | None = None
    deciding_rule: str | None = None
    amount: str | None = Field(default=None, description="Requested or granted yuan, a decimal string.")
    approval_id: str | None = None
    grounded: bool


def decision_row(r: AuditRecord) -> DecisionRow:
    plan = r.plan or {}
    call = r.tool_calls[0] if r.tool_calls else None
    res = call.result if call else {}
    amount = res.get("amount") or (res.get("approval") or {}).get("amount")
    return DecisionRow(trace_id=r.trace_id, thread_id=r.thread_id, created_at=r.created_at, caller=r.caller,
                       role=r.role, as_of=r.as_of, intent=str(plan.get("intent") or ""),
                       customer_id=plan.get("customer_id") or res.get("customer_id")
                       or (res.get("approval") or {}).get("customer_id"),
                       tool=call.tool if call else None, outcome=outcome_of(r), deciding_rule=res.get("deciding_rule"),
                       amount=None if amount is None else str(amount),
                       approval_id=res.get("approval_id") or (res.get("approval") or {}).get("approval_id"),
                       grounded=r.guard.grounded)


def thread_row(row: dict[str, Any], records: list[AuditRecord], first_message: str | None) -> ThreadRow:
    decisions = [decision_row(r) for r in records]
    title = (first_message or (records[0].message if records else "") or row["thread_id"]).replace("\n", " ")
    return ThreadRow(thread_id=row["thread_id"], owner=row["owner"], created_at=row["created_at"],
                     last_turn_at=row.get("last_turn_at"), turns=row.get("turns") or len(records),
                     title=title if len(title) <= 60 else title[:59] + "…",
                     customers=sorted({d.customer_id for d in decisions if d.customer_id}),
                     outcomes=[d.outcome for d in decisions if d.outcome],
                     operators=sorted({r.caller for r in records} | {row["owner"]}))


def matches(row: DecisionRow | ThreadRow, *, customer: str | None, outcome: str | None, operator: str | None,
            since: str | None, until: str | None, text: str | None = None) -> bool:
    """The search filters: customer id, outcome, operator (caller), day range on the record's date."""
    if isinstance(row, DecisionRow):
        customers, outcomes, operators, day = [row.customer_id or ""], [row.outcome or ""], [row.caller], row.created_at[:10]
        hay = " ".join(filter(None, [row.customer_id, row.approval_id, row.trace_id, row.deciding_rule]))
    else:
        customers, outcomes, operators = row.customers, row.outcomes, row.operators
        day, hay = (row.last_turn_at or row.created_at)[:10], f"{row.title} {row.thread_id}"
    if customer and not any(c.lower() == customer.lower() for c in customers):
        return False
    if outcome and outcome not in outcomes:
        return False
    if operator and operator not in operators:
        return False
    if since and day < since:
        return False
    if until and day > until:
        return False
    return not text or text.lower() in hay.lower()


# ------------------------------------------------------------------ the supervisors' inbox

class InboxItem(Approval):
    """A pending approval with what a supervisor needs to decide it."""

    age_days: int = Field(description="Days since it was requested, as of today.")
    days_left: int = Field(description="Days until decide_by (0: the last day).")
    deciding_rule: str = "TQ5"
    thread_id: str | None = None
    requester_message: str | None = Field(default=None, description="The requester's own words (masked).")
    own: bool = Field(description="True when the caller requested it: they may not approve it (maker-checker).")


def inbox_item(a: Approval, today: dt.date, caller: str, record: AuditRecord | None) -> InboxItem:
    return InboxItem(**a.model_dump(), age_days=max(0, (today - a.requested_on).days),
                     days_left=(a.decide_by - today).days, thread_id=record.thread_id if record else None,
                     requester_message=record.message if record else None,
                     own=bool(a.requested_by) and a.requested_by == caller)


# ------------------------------------------------------------------ CSV

def to_csv(rows: Iterable[BaseModel], model: type[BaseModel]) -> str:
    """Rows as CSV, the model's fields as columns (lists joined with ';')."""
    buf = io.StringIO()
    w = csv.writer(buf)
    names = list(model.model_fields)
    w.writerow(names)
    for r in rows:
        d = r.model_dump(mode="json")
        w.writerow([";".join(map(str, d[n])) if isinstance(d[n], list) else ("" if d[n] is None else d[n]) for n in names])
    return buf.getvalue()


class AuditRow(_TurnRow):
    """One audit record as a CSV row (already masked)."""

    message: str
    intent: str
    customer_id: str | None = None
    outcome: str | None = None
    planner: str
    grounded: bool
    cited: list[str]
    reply: str


def audit_row(r: AuditRecord) -> AuditRow:
    plan = r.plan or {}
    return AuditRow(trace_id=r.trace_id, thread_id=r.thread_id, created_at=r.created_at, caller=r.caller, role=r.role,
                    as_of=r.as_of, message=r.message, intent=str(plan.get("intent") or ""),
                    customer_id=plan.get("customer_id"), outcome=outcome_of(r), planner=r.planner,
                    grounded=r.guard.grounded, cited=r.cited, reply=r.reply)
