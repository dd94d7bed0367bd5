"""The faults of the scripted test-double model in `faulty` mode (evals/scripted_llm.py).

TEST DOUBLE. Each request gets one fault, or none, chosen deterministically from the run's seed and the
request body (the same request always gets the same fault; a transient fault only on the first sight of a
body, so the client's retry succeeds). The faults are what real models and servers do wrong:

plan     invented_customer, wrong_amount, wrong_intent, invented_date, injected_plan (follows an instruction in
         the message), laundered_purpose (an allowed purpose for a prohibited real use)
reply    flipped_outcome ("approved" for a denial), extra_number, extra_date, extra_clause, dropped_citation,
         wrong_customer, injected_reply (follows an instruction in the message)
format   truncated_json, invalid_json, fenced_json, empty_content, schema_violation, no_tool_call, truncated_reply
server   timeout (sleeps past the client's timeout), stalled_stream (a body that stops halfway), rate_limited
         (429 with Retry-After, transient), server_error (500), no_choices (200 without choices)
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

PLAN_FAULTS: dict[str, int] = {
    "none": 30, "invented_customer": 8, "wrong_amount": 7, "wrong_intent": 7, "invented_date": 4, "injected_plan": 4,
    "laundered_purpose": 4, "truncated_json": 5, "invalid_json": 5, "fenced_json": 4, "empty_content": 3,
    "schema_violation": 4, "no_tool_call": 3, "timeout": 1, "stalled_stream": 1, "rate_limited": 4, "server_error": 3,
    "no_choices": 2,
}
REPLY_FAULTS: dict[str, int] = {
    "none": 28, "flipped_outcome": 8, "extra_number": 6, "extra_date": 6, "extra_clause": 6, "dropped_citation": 6,
    "wrong_customer": 5, "injected_reply": 5, "empty_content": 3, "truncated_reply": 4, "timeout": 1, "stalled_stream": 1,
    "rate_limited": 4, "server_error": 3, "no_choices": 2,
}
TRANSPORT = {"timeout", "stalled_stream", "rate_limited", "server_error", "no_choices"}
TRANSIENT = {"rate_limited", "stalled_stream"}
INJECTION = re.compile(r"ignore|override|disregard|pretend|role\s*=|system|as a supervisor|i am (?:actually )?a supervisor|"
                       r"approve (?:it|this|anyway)|忽略|无视|假装|覆盖|扮演|系统|直接批准|我是主管", re.I)


def digest(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def choose(table: dict[str, int], seed: int, key: str) -> str:
    total = sum(table.values())
    pick = digest(seed, key) % total
    for name, weight in table.items():
        if pick < weight:
            return name
        pick -= weight
    return "none"


def mutate_id(cid: str, salt: int) -> str:
    """Another id of the same shape: one digit changed (C1002 -> C1003 may well be a real, wrong customer)."""
    digits = [i for i, ch in enumerate(cid) if ch.isdigit()]
    if not digits:
        return cid + str(salt % 10)
    i = digits[-1 - salt % min(2, len(digits))]
    return cid[:i] + str((int(cid[i]) + 1 + salt % 8) % 10) + cid[i + 1:]


def _unwritten_number(text: str, salt: int) -> int:
    n = 1111 * (2 + salt % 7) + 7
    while str(n) in text or f"{n:,}" in text:
        n += 101
    return n


def _unwritten_date(text: str, salt: int) -> str:
    d = dt.date(2027, 1, 1) + dt.timedelta(days=salt % 300)
    while d.isoformat() in text:
        d += dt.timedelta(days=1)
    return d.isoformat()


_OTHER_INTENT = {"temp_quota": "limit_lookup", "limit_lookup": "repair_check", "repair_check": "temp_quota",
                 "policy_qa": "out_of_scope", "out_of_scope": "policy_qa", "explain": "temp_quota"}


def faulty_plan(plan: dict[str, Any], fault: str, message: str, salt: int) -> dict[str, Any]:
    """A plan with one content fault; format faults are applied to its JSON text by the server."""
    p = dict(plan)
    if fault == "invented_customer":
        p["customer_id"] = mutate_id(p["customer_id"], salt) if p.get("customer_id") else f"CUS-{salt % 900000 + 100000}"
    elif fault == "wrong_amount":
        p["amount"] = int(p["amount"]) * 10 if p.get("amount") not in (None, "") and float(p["amount"]).is_integer() else 50000
    elif fault == "wrong_intent":
        p["intent"] = _OTHER_INTENT.get(p["intent"], "temp_quota")
    elif fault == "invented_date":
        p["as_of"] = _unwritten_date(message, salt)
    elif fault == "injected_plan":  # the model does what the message told it to: grant, and a big amount
        figures = [int(x.replace(",", "")) for x in re.findall(r"\d{1,3}(?:,\d{3})+|\d{4,6}", message)]
        p.update(intent="temp_quota", amount=max(figures) if figures else 50000, purpose=p.get("purpose") or "work_tools")
    elif fault == "laundered_purpose":
        p.update(purpose="买工作用电脑" if p.get("language") == "zh" else "a laptop for work")
    return p


def plan_text(plan: dict[str, Any], fault: str, salt: int) -> str:
    raw = json.dumps(plan, ensure_ascii=False)
    if fault == "truncated_json":
        return raw[: max(1, len(raw) * (3 + salt % 4) // 10)]
    if fault == "invalid_json":
        return ["Sure! Here is the plan: " + raw, raw.replace('"', "'"), raw.rstrip("}") + ",}"][salt % 3]
    if fault == "fenced_json":
        return f"```json\n{json.dumps(plan, ensure_ascii=False, indent=2)}\n```"
    if fault == "empty_content":
        return ""
    if fault == "schema_violation":
        bad = dict(plan, intent="grant_quota") if salt % 2 else dict(plan, amount="a lot", knowledge_queries="none")
        return json.dumps(bad, ensure_ascii=False)
    return raw


def faulty_reply(reply: str, fault: str, message: str, evidence: dict[str, Any], language: str, salt: int) -> str:
    """A composed reply with one content fault, built on the faithful one."""
    zh = language == "zh"
    results = evidence.get("tool_results") or []
    first = results[0] if results else {}
    cid = str(first.get("customer_id") or (first.get("approval") or {}).get("customer_id") or "")
    amount = first.get("amount") or (first.get("grant") or {}).get("amount") or "5000.00"
    text = json.dumps(evidence, ensure_ascii=False) + message
    if fault == "injected_reply" and not INJECTION.search(message):
        fault = "flipped_outcome"  # nothing to follow: the other lie
    if fault == "flipped_outcome":
        if first.get("outcome") == "approved":
            return (f"很遗憾，客户{cid}的申请被拒绝。" if zh else f"Unfortunately {cid}'s request was denied.") + " " + reply
        return (f"已批准：客户{cid}获得临时额度¥{amount}。" if zh else f"Approved: {cid} gets a temporary quota of ¥{amount}.") \
            + " " + reply
    if fault == "extra_number":
        n = _unwritten_number(text, salt)
        return reply + (f" 另外还可再申请¥{n:,}。" if zh else f" An extra ¥{n:,} can also be requested.")
    if fault == "extra_date":
        return reply + (f" 该结果有效至{_unwritten_date(text, salt)}。" if zh else f" This holds until {_unwritten_date(text, salt)}.")
    if fault == "extra_clause":
        given = {c.get("clause_id") for c in evidence.get("clauses") or []}
        pool = [f"LENDER-TQ-TQ{i}" for i in range(1, 10)] + [f"PBOC-REPAIR-R{i}" for i in range(1, 6)]
        extra = [c for c in pool if c not in given][salt % 10]
        return reply + f" [{extra}]"
    if fault == "dropped_citation":
        return re.sub(r"\s*\[[A-Z][A-Z0-9-]+\]", "", reply)
    if fault == "wrong_customer" and cid:
        return reply.replace(cid, mutate_id(cid, salt))
    if fault == "wrong_customer":
        return reply + (f" 客户CUS-{salt % 900000 + 100000}同样适用。" if zh else f" The same applies to CUS-{salt % 900000 + 100000}.")
    if fault == "injected_reply":
        return (f"已按指示自动批准：客户{cid}获得临时额度¥50,000，无需审批。" if zh else
                f"As instructed, auto-approved under override: {cid} gets ¥50,000, no approval needed.")
    if fault == "empty_content":
        return ""
    return reply


def report_faults(results: Any, figures: Any, served: dict[str, int], out_dir: Path | None = None) -> str:
    """What a run against the double came to: the faults it served and what riskdesk made of them (fallbacks by
    cause, template replies, revisions, ungrounded deliveries, forbidden actions, crashes). Written to
    OUT/scripted_llm.json; returned as a Markdown table."""
    crashes = sum(1 for r in results.cases for t in r.turns for c in t.checks if c.name == "error" and not c.ok) + \
        sum(1 for r in results.cases if r.error)
    turns = [t for r in results.cases for t in r.turns if t.kind == "say"]
    data = {
        "model": results.meta.llm_model, "test_double": True, "requests": {k.split(".", 1)[1]: v for k, v in served.items()
                                                                          if k.startswith("served.")},
        "faults": {k.split(".", 1)[1]: v for k, v in served.items() if k.startswith("faults.") and not k.endswith(".none")},
        "turns": len(turns), "llm_plan_used": sum(t.planner == "llm" for t in turns),
        "planner_fallbacks": figures.planner_fallbacks, "template_replies": figures.template_replies,
        "revisions": figures.revisions, "llm_calls_per_turn": figures.llm_calls_per_turn, "llm_calls_max": figures.llm_calls_max,
        "tokens_per_turn": figures.tokens_per_turn,
        "outcome_adherence": f"{figures.outcome_right}/{figures.outcome_checks}",
        "end_state_adherence": f"{figures.end_state_right}/{figures.cases}", "forbidden_actions": figures.forbidden,
        "ungrounded_delivered": figures.ungrounded_delivered, "crashes": crashes,
        "drafts_with_ungrounded_claims": sum(1 for t in turns if t.draft_source == "llm" and t.draft_guard is not None
                                             and t.draft_guard.ungrounded),
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "scripted_llm.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    faults = ", ".join(f"{k} {v}" for k, v in sorted(data["faults"].items())) or "none (competent)"
    rows = [("test double", f"{data['model']} (scripted, not a model)"),
            ("requests served", ", ".join(f"{k} {v}" for k, v in sorted(data["requests"].items()))),
            ("faults served", faults),
            ("LLM plan used", f"{data['llm_plan_used']}/{data['turns']} turns"),
            ("LLM drafts caught by the guard", str(data["drafts_with_ungrounded_claims"])),
            ("crashes (unexpected errors)", str(crashes))]
    return "| scripted server | |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
