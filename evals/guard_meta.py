"""Meta-eval of the hallucination detector (agents/guard.py): labelled replies with planted errors.

    .venv/bin/python -m evals.guard_meta --generate   # rewrites evals/suites/guard_meta.jsonl
    riskdesk eval run guard                           # scores the guard on it

Each item is a reply, the evidence it may rest on (operator message, tool results, clause texts)
and the planted errors (none for a clean reply). Clean replies are the template composer's output
and hand-written paraphrases in the style of an LLM (other number and date formats). Planted
errors change one token: an amount, a date, a percentage, a day count, a rule id, a clause id, a
customer id, or flip an outcome. A few "uncovered" kinds (risk tier, account status, purpose
category) are planted too, to show plainly what the guard does not check.

Scoring: a planted error is found when the guard flags a claim of the matching kind; every other
flagged claim is a false alarm, counted under its own kind. Per kind and overall (over the covered
kinds): precision, recall, F1.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from evals.cases import SUITES_DIR
from evals.metrics import prf

META_FILE = SUITES_DIR / "guard_meta.jsonl"
COVERED = ["amount", "date", "percent", "day_count", "rule_id", "clause_id", "customer_id", "outcome",
           "risk_tier", "account_status", "purpose_category"]
# Planted kinds the guard does not check (institution names, products, free-form statements are
# not planted at all: the guard does not claim to cover them). Empty while every planted kind is covered.
UNCOVERED: list[str] = []
PLANT_ONLY = ["risk_tier", "account_status", "purpose_category"]
# guard claim kinds -> meta-eval claim types
GUARD_KIND = {"amount": "amount", "number": "amount", "date": "date", "percent": "percent", "days": "day_count",
              "rule": "rule_id", "id": "clause_id", "customer_id": "customer_id", "outcome": "outcome",
              "record_id": "record_id", "year": "date", "tier": "risk_tier", "status": "account_status",
              "category": "purpose_category"}

# Clause texts written for this meta-eval from DOMAIN.md (not the knowledge base), so it is stable.
CLAUSE_TEXT = {
    "LENDER-LIMIT-LOOKUP": ("Limit lookup returns the base limit, the amount used, the available credit, any unexpired "
                            "temporary quota with its expiry date, and the total available credit.",
                            "额度查询返回基础额度、已用金额、可用额度、未到期临时额度及其到期日，以及总可用额度。"),
    "LENDER-TQ-TQ1": ("Eligibility: account active, KYC verified, opened at least 90 days before the request, no unrepaid "
                      "overdue record, risk tier A, B or C; tier D is always denied.",
                      "资格：账户正常、已实名认证、开户满90天、无未还清逾期、风险等级A/B/C；D级一律拒绝。"),
    "LENDER-TQ-TQ2": ("Allowed purposes: work tools, education, medical, household. Gambling, investment, real estate, "
                      "debt repayment and cash-out are prohibited. Unclassifiable purposes need approval.",
                      "允许用途：工作工具、教育、医疗、家庭生活；禁止赌博、投资、购房、还债、套现；无法归类的需审批。"),
    "LENDER-TQ-TQ3": ("The cap is min(20,000, max(5,000, 2 x base limit)); a request above the cap is denied.",
                      "上限为 min(20,000, max(5,000, 2×基础额度))，超过上限拒绝。"),
    "LENDER-TQ-TQ4": ("One unexpired temporary quota at a time.", "同一时间只能有一笔未到期的临时额度。"),
    "LENDER-TQ-TQ5": ("Up to 5,000 with risk tier A or B and an allowed purpose is approved at once; otherwise a "
                      "supervisor must approve.", "金额不超过5,000元、风险等级A或B且用途允许的自动批准，否则需主管审批。"),
    "LENDER-TQ-TQ6": ("A granted quota is valid for 30 days from the grant date, inclusive.", "临时额度自发放日起30天有效（含当日）。"),
    "LENDER-TQ-TQ7": ("Total available credit = base limit - used + unexpired temporary quota.",
                      "总可用额度 = 基础额度 - 已用 + 未到期临时额度。"),
    "PBOC-REPAIR-R1": ("Overdue records that arose between 2020-01-01 and 2025-12-31 inclusive.",
                       "逾期发生在2020-01-01至2025-12-31之间（含）。"),
    "PBOC-REPAIR-R2": ("A single overdue amount of at most 10,000 yuan.", "单笔逾期金额不超过10,000元。"),
    "PBOC-REPAIR-R3": ("Repaid in full by 2026-03-31. Repaid on or before 2025-11-30: not shown from 2026-01-01; repaid "
                       "from 2025-12-01 to 2026-03-31: not shown from the repayment date. Otherwise kept 5 years.",
                       "须于2026-03-31前全额还清；2025-11-30前还清的自2026-01-01起不再展示；之后还清的自还清之日起不再展示；否则保留5年。"),
    "PBOC-REPAIR-R4": ("Nothing to apply for, no fee and no agent: the central bank processes qualifying records itself.",
                       "免申即享：无需申请、不收费、无需中介，由人民银行自动处理。"),
    "FIN-COST-CAP": ("From Q1 2026 licensed consumer finance institutions must keep the average comprehensive financing "
                     "cost of new loans at or below 20% a year; before that the industry cap was 24%.",
                     "自2026年一季度起，持牌消费金融机构新发放贷款的平均综合融资成本不超过20%；此前行业上限为24%。"),
}
RULE_CLAUSE = {**{f"R{i}": f"PBOC-REPAIR-R{i}" for i in range(1, 5)}, **{f"TQ{i}": f"LENDER-TQ-TQ{i}" for i in range(1, 8)},
               "LIMIT": "LENDER-LIMIT-LOOKUP"}
D = dt.date(2026, 11, 23)


def clause(cid: str, lang: str) -> dict[str, str]:
    en, zh = CLAUSE_TEXT[cid]
    return {"clause_id": cid, "doc_id": cid.rsplit("-", 1)[0], "title": cid, "text": zh if lang == "zh" else en}


# ---------------------------------------------------------------- clean paraphrases ("LLM style")
def yuan(v: Any) -> str:
    d = Decimal(str(v))
    return f"{int(d):,}" if d == d.to_integral_value() else f"{d:,.2f}"


def cn_date(s: str) -> str:
    d = dt.date.fromisoformat(s)
    return f"{d.year}年{d.month}月{d.day}日"


def en_date(s: str) -> str:
    d = dt.date.fromisoformat(s)
    return d.strftime("%b ") + f"{d.day}, {d.year}"


def para_limit(r: dict, lang: str) -> str:
    q = r.get("temp_quota")
    if lang == "zh":
        tq = f"另有临时额度{yuan(q['amount'])}元，有效期至{cn_date(q['expires_on'])}。" if q else "目前没有有效的临时额度。"
        return (f"客户{r['customer_id']}的基础额度为{yuan(r['base_limit'])}元，已使用{yuan(r['used'])}元，可用{yuan(r['available'])}元。"
                f"{tq}总可用额度为{yuan(r['total_available'])}元 [LENDER-TQ-TQ7]。")
    tq = (f"A temporary quota of {yuan(q['amount'])} yuan is active until {en_date(q['expires_on'])}. " if q
          else "There is no temporary quota in force. ")
    return (f"Customer {r['customer_id']} has a base limit of ¥{yuan(r['base_limit'])} with ¥{yuan(r['used'])} used, so "
            f"¥{yuan(r['available'])} is available. {tq}Total available credit: ¥{yuan(r['total_available'])} [LENDER-TQ-TQ7].")


def para_quota(r: dict, lang: str) -> str:
    cid, amt = r["customer_id"], yuan(r["amount"])
    if r["outcome"] == "approved":
        g = r["grant"]
        if lang == "zh":
            return (f"客户{cid}的{yuan(g['amount'])}元临时额度已获批（TQ5），有效期30天，自{cn_date(g['granted_on'])}起至"
                    f"{cn_date(g['expires_on'])}止 [LENDER-TQ-TQ6]。")
        return (f"Good news: {cid}'s temporary quota of {yuan(g['amount'])} yuan was approved under TQ5. It runs for 30 days, "
                f"from {g['granted_on']} through {g['expires_on']} [LENDER-TQ-TQ6].")
    if r["outcome"] == "needs_approval":
        if lang == "zh":
            return f"客户{cid}申请的{amt}元临时额度需主管审批（TQ5），待审批编号{r['approval_id']} [LENDER-TQ-TQ5]。"
        return f"The ¥{amt} request for {cid} needs a supervisor's approval under TQ5; it is pending as {r['approval_id']} [LENDER-TQ-TQ5]."
    rule = r["deciding_rule"]
    why = {"TQ1": ("the customer does not meet the eligibility conditions", "客户未满足申请条件"),
           "TQ4": (f"a temporary quota is already in force until {r.get('active_quota_expires_on')}",
                   f"已有临时额度，有效至{cn_date(r['active_quota_expires_on']) if r.get('active_quota_expires_on') else ''}"),
           "TQ2": ("the purpose is a prohibited one", "用途属于禁止类别"),
           "TQ3": (f"¥{amt} exceeds the cap, and at most ¥{yuan(r['cap'])} can be requested",
                   f"{amt}元超过上限，最多可申请{yuan(r['cap'])}元")}[rule]
    if lang == "zh":
        return f"客户{cid}的申请被拒绝（{rule}）：{why[1]} [{RULE_CLAUSE[rule]}]。"
    return f"The request for {cid} was declined under {rule}: {why[0]} [{RULE_CLAUSE[rule]}]."


def para_repair(r: dict, lang: str) -> str:
    head = {"eligible": ("eligible", "符合"), "partially_eligible": ("partially eligible", "部分符合"),
            "ineligible": ("not eligible", "不符合"), "no_records": ("without any overdue record", "无逾期记录")}[r["outcome"]]
    lines = [f"截至{cn_date(r['as_of'])}，客户{r['customer_id']}的一次性信用修复结果：{head[1]}。" if lang == "zh" else
             f"As of {en_date(r['as_of'])}, {r['customer_id']} is {head[0]} for the one-time credit repair."]
    for v in r["records"]:
        if v["status"] == "eligible":
            s = (f"记录{v['record_id']}（{yuan(v['amount'])}元）符合，自{v['hidden_from']}起不再展示 [PBOC-REPAIR-R3]" if lang == "zh" else
                 f"Record {v['record_id']} ({yuan(v['amount'])} yuan) is eligible and hidden from {v['hidden_from']} [PBOC-REPAIR-R3].")
        elif v["status"] == "eligible_if_repaid":
            s = (f"记录{v['record_id']}（{yuan(v['amount'])}元）若于2026-03-31前还清则符合 [PBOC-REPAIR-R3]" if lang == "zh" else
                 f"Record {v['record_id']} ({yuan(v['amount'])} yuan) is eligible if repaid in full by 2026-03-31 [PBOC-REPAIR-R3].")
        else:
            rule = v["deciding_rule"]
            s = (f"记录{v['record_id']}（{yuan(v['amount'])}元，逾期始于{v['overdue_since']}）不符合（{rule}）[{RULE_CLAUSE[rule]}]" if lang == "zh" else
                 f"Record {v['record_id']} ({yuan(v['amount'])} yuan, overdue since {v['overdue_since']}) is not eligible under {rule} [{RULE_CLAUSE[rule]}].")
        lines.append(s + ("。" if lang == "zh" else ""))
    lines.append("无需申请、不收费，也不需要任何中介 [PBOC-REPAIR-R4]。" if lang == "zh" else
                 "There is nothing to apply for and no fee; no agent is needed [PBOC-REPAIR-R4].")
    return "\n".join(lines)


def para_approval(r: dict, lang: str) -> str:
    a = r["approval"]
    if r["outcome"] == "approved":
        g = r["grant"]
        return (f"审批{a['approval_id']}已批准：客户{a['customer_id']}获得{yuan(g['amount'])}元临时额度，{cn_date(g['granted_on'])}至"
                f"{cn_date(g['expires_on'])}有效 [LENDER-TQ-TQ6]。" if lang == "zh" else
                f"Approval {a['approval_id']} was approved: {a['customer_id']} gets ¥{yuan(g['amount'])} from {g['granted_on']} "
                f"to {g['expires_on']} [LENDER-TQ-TQ6].")
    return (f"审批{a['approval_id']}已驳回，客户{a['customer_id']}不发放临时额度 [LENDER-TQ-TQ5]。" if lang == "zh" else
            f"Approval {a['approval_id']} was rejected; {a['customer_id']} gets no temporary quota [LENDER-TQ-TQ5].")


# ---------------------------------------------------------------- scenarios (evidence)
def scenarios() -> list[dict[str, Any]]:
    """Tool results on the sample ledger. The guard is under test here, not the tools."""
    from agents.evidence import clauses_to_cite
    from tools import Ledger, approve, limit_lookup, reject, repair_check, temp_quota
    from tools.ledger import SAMPLE_LEDGER

    def fresh() -> Any:
        return Ledger.from_file(SAMPLE_LEDGER)

    out: list[dict[str, Any]] = []

    def add(name: str, msg: tuple[str, str], result: dict) -> None:
        out.append({"name": name, "messages": msg, "result": result, "clauses": clauses_to_cite([result])})

    for cid in ("C1001", "C1003", "C1013", "C1030", "C1044"):
        add(f"limit-{cid}", (f"查一下{cid}的额度", f"What's {cid}'s available credit?"),
            limit_lookup(fresh(), cid, D).model_dump(mode="json"))
    for cid, amt, purpose in (("C1002", 4000, "电动车送外卖"), ("C1041", 3000, "fridge"), ("C1003", 8000, "laptop for work"),
                              ("C1038", 3000, "旅游"), ("C1004", 3000, "冰箱"), ("C1005", 3000, "fridge"), ("C1006", 3000, "fridge"),
                              ("C1001", 2000, "fridge"), ("C1012", 3000, "炒股"), ("C1003", 25000, "laptop for work"),
                              ("C1010", 6000, "laptop for work")):
        add(f"quota-{cid}-{amt}", (f"给{cid}申请{amt}元临时额度，{purpose}", f"{cid} temp quota {amt} for {purpose}"),
            temp_quota(fresh(), cid, amt, purpose, D).model_dump(mode="json"))
    for cid, day in (("C1016", "2026-01-15"), ("C1017", "2026-01-15"), ("C1019", "2026-04-01"), ("C1021", "2026-04-02"),
                     ("C1022", "2026-01-15"), ("C1014", "2026-01-15"), ("C1024", "2026-01-15"), ("C1025", "2026-01-15")):
        add(f"repair-{cid}", (f"{cid}能做信用修复吗？", f"Is {cid} eligible for the credit repair?"),
            repair_check(fresh(), cid, dt.date.fromisoformat(day)).model_dump(mode="json"))
    for cid, amt, purpose, decision in (("C1003", 8000, "laptop for work", "approve"), ("C1004", 3000, "冰箱", "reject")):
        led = fresh()
        aid = temp_quota(led, cid, amt, purpose, D).approval_id
        res = approve(led, aid, "lee", D) if decision == "approve" else reject(led, aid, "lee", "policy", D)
        result = {"tool": "approval", "outcome": "approved" if res.approval.status == "approved" else "rejected",
                  **res.model_dump(mode="json")}
        add(f"approval-{cid}-{decision}", (f"/{decision} {aid}", f"/{decision} {aid}"), result)
    return out


def _policy_items() -> list[dict[str, Any]]:
    items = []
    for lang in ("en", "zh"):
        cl = [clause("FIN-COST-CAP", lang)]
        reply = ("From Q1 2026 the average comprehensive financing cost of new consumer loans must stay at or below 20% a year; "
                 "the earlier industry cap was 24% [FIN-COST-CAP]." if lang == "en" else
                 "自2026年一季度起，消费金融新发放贷款的平均综合融资成本不得超过20%，此前行业上限为24% [FIN-COST-CAP]。")
        items.append({"id": f"policy-fincost-{lang}", "language": lang, "source": "paraphrase",
                      "evidence": {"messages": ["What is the financing cost cap?" if lang == "en" else "综合融资成本上限是多少？"],
                                   "tool_results": [], "clauses": cl}, "reply": reply})
        cl = [clause("LENDER-TQ-TQ6", lang), clause("LENDER-TQ-TQ1", lang)]
        reply = ("A temporary quota is valid for 30 days counting the grant date, and the account must have been open for 90 days "
                 "[LENDER-TQ-TQ6][LENDER-TQ-TQ1]." if lang == "en" else
                 "临时额度自发放日起30天有效（含当日），且开户须满90天 [LENDER-TQ-TQ6][LENDER-TQ-TQ1]。")
        items.append({"id": f"policy-tq6-{lang}", "language": lang, "source": "paraphrase",
                      "evidence": {"messages": ["How long is a temporary quota valid?" if lang == "en" else "临时额度有效期多久？"],
                                   "tool_results": [], "clauses": cl}, "reply": reply})
    return items


# ---------------------------------------------------------------- planting errors
def _ev_text(item: dict) -> str:
    return json.dumps(item["evidence"], ensure_ascii=False)


def _fresh_number(ev: str, v: Decimal, steps=(137, 500, 1111, 2345)) -> Decimal | None:
    digits = set(re.findall(r"\d+(?:\.\d+)?", ev.replace(",", "")))
    for s in steps:
        w = v + s
        if str(w) not in digits and f"{w:.1f}" not in digits and f"{w:.2f}" not in digits:
            return w
    return None


def _plant_amount(item: dict, reply: str) -> list[tuple[str, str, str]]:
    """Change one money amount (¥4,000 / 4000元 / 4,000 yuan)."""
    ev = _ev_text(item)
    out = []
    pats = [r"¥\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d\d)?", r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d\d)?\s?元", r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d\d)? yuan"]
    for p in pats:
        m = re.search(p, reply)
        if not m:
            continue
        v = Decimal(m.group(1).replace(",", ""))
        if v < 10:
            continue
        w = _fresh_number(ev, v)
        if w is None:
            continue
        new_tok = m.group(0).replace(m.group(1), f"{int(w):,}" if "," in m.group(1) else str(int(w)))
        out.append((m.group(0), new_tok, reply[:m.start()] + new_tok + reply[m.end():]))
    return out[:2]


def _plant_date(item: dict, reply: str) -> list[tuple[str, str, str]]:
    ev = _ev_text(item)
    known = set(re.findall(r"\d{4}-\d{2}-\d{2}", ev))
    out = []
    for m in re.finditer(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})年(\d{1,2})月(\d{1,2})日|([A-Z][a-z]{2}) (\d{1,2}), (\d{4})", reply):
        tok = m.group(0)
        if m.group(1):
            d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif m.group(4):
            d = dt.date(int(m.group(4)), int(m.group(5)), int(m.group(6)))
        else:
            d = dt.datetime.strptime(tok, "%b %d, %Y").date()
        for shift in (3, 11, -9, 40):
            nd = d + dt.timedelta(days=shift)
            if nd.isoformat() not in known:
                break
        new_tok = (nd.isoformat() if m.group(1) else f"{nd.year}年{nd.month}月{nd.day}日" if m.group(4) else en_date(nd.isoformat()))
        out.append((tok, new_tok, reply[:m.start()] + new_tok + reply[m.end():]))
        if len(out) == 2:
            break
    return out


def _plant_percent(item: dict, reply: str) -> list[tuple[str, str, str]]:
    m = re.search(r"(\d+(?:\.\d+)?)\s?%", reply)
    if not m:
        return []
    new = f"{Decimal(m.group(1)) + 6}%"
    return [(m.group(0), new, reply[:m.start()] + new + reply[m.end():])]


def _plant_days(item: dict, reply: str) -> list[tuple[str, str, str]]:
    m = re.search(r"(\d+)(\s?days?|天)", reply)
    if not m:
        return []
    new = f"{int(m.group(1)) + 15}{m.group(2)}"
    return [(m.group(0), new, reply[:m.start()] + new + reply[m.end():])]


def _absent(ev: str, candidates: list[str]) -> str | None:
    return next((c for c in candidates if not re.search(rf"(?<![A-Za-z0-9-]){re.escape(c)}(?![0-9])", ev)), None)


def _plant_rule(item: dict, reply: str) -> list[tuple[str, str, str]]:
    ev = _ev_text(item)
    # a rule id, not an overdue record id ("record R1" / "记录R1")
    m = re.search(r"(?<![A-Za-z0-9-])(?<!record )(?<!Record )(?<!记录)(TQ\d|R\d)(?![A-Za-z0-9-])", reply)
    if not m:
        return []
    pool = [f"TQ{i}" for i in (3, 4, 2, 1, 7, 6)] if m.group(1).startswith("TQ") else ["R2", "R1", "R4", "R3"]
    rule_refs = set(re.findall(r"\b(TQ\d|R\d)\b", ev)) | set(re.findall(r"\[(?:PBOC-REPAIR|LENDER-TQ)-(TQ\d|R\d)\]", reply))
    new = next((c for c in pool if c not in rule_refs and c != m.group(1)), None)
    return [(m.group(0), new, reply[:m.start()] + new + reply[m.end():])] if new else []


def _plant_clause(item: dict, reply: str) -> list[tuple[str, str, str]]:
    ev = _ev_text(item)
    m = re.search(r"\[((?:LENDER|PBOC|FIN)-[A-Z0-9-]+)\]", reply)
    if not m:
        return []
    new = _absent(ev, ["LENDER-TQ-TQ4", "LENDER-TQ-TQ2", "PBOC-REPAIR-R2", "LENDER-TQ-TQ3", "PBOC-REPAIR-R1", "LENDER-TQ-TQ9"])
    return [(m.group(1), new, reply[:m.start(1)] + new + reply[m.end(1):])] if new else []


def _plant_customer(item: dict, reply: str) -> list[tuple[str, str, str]]:
    ev = _ev_text(item)
    m = re.search(r"C\d{4}", reply)
    if not m:
        return []
    base = int(m.group(0)[1:])
    new = _absent(ev, [f"C{base + d}" for d in (1, 2, 10, 20)])
    return [(m.group(0), new, reply[:m.start()] + new + reply[m.end():])] if new else []


# outcome flips: (pattern, replacement, language); the replacement must contradict the tool outcome
FLIPS = [
    (r"was approved under TQ5", "was declined under TQ5", "en"), (r"Approved under TQ5", "Denied under TQ5", "en"),
    (r"was approved:", "was rejected:", "en"), (r"was rejected;", "was approved;", "en"),
    (r"Approval (AP-[0-9A-F]+) approved", r"Approval \1 rejected", "en"), (r"Approval (AP-[0-9A-F]+) rejected", r"Approval \1 approved", "en"),
    (r"needs a supervisor's approval", "was approved", "en"), (r"Needs a supervisor's approval", "Approved", "en"),
    (r"was declined under", "was approved under", "en"), (r"Denied under", "Approved under", "en"),
    (r"is eligible and", "is not eligible and", "en"), (r"is not eligible under", "is eligible under", "en"),
    (r"\): eligible", "): not eligible", "en"), (r"\): not eligible", "): eligible", "en"),
    (r"is eligible for", "is not eligible for", "en"), (r"is partially eligible", "is eligible", "en"),
    (r"is not eligible for", "is eligible for", "en"), (r"partially eligible\.", "eligible.", "en"),
    (r"eligible if repaid in full", "not eligible even if repaid in full", "en"),
    (r"已获批", "未获批", "zh"), (r"已批准", "已驳回", "zh"), (r"需主管审批", "已批准", "zh"), (r"需要主管审批", "已批准", "zh"),
    (r"被拒绝", "已批准", "zh"), (r"拒绝（", "已批准（", "zh"), (r"已驳回", "已批准", "zh"), (r"已被(\w+)驳回", r"已被\1批准", "zh"),
    (r"）符合", "）不符合", "zh"), (r"）不符合", "）符合", "zh"), (r"：符合", "：不符合", "zh"), (r"：不符合", "：符合", "zh"),
    (r"：部分符合", "：符合", "zh"), (r"若于2026-03-31前(全额)?还清则符合", "即使还清也不符合", "zh"),
]


def _plant_outcome(item: dict, reply: str) -> list[tuple[str, str, str]]:
    """Up to two different flips per reply (each a separate item)."""
    out = []
    for pat, rep, lang in FLIPS:
        if lang != item["language"]:
            continue
        m = re.search(pat, reply)
        if m and all(m.start() != o[3] for o in out):
            new = m.expand(rep)
            out.append((m.group(0), new, reply[:m.start()] + new + reply[m.end():], m.start()))
        if len(out) == 2:
            break
    return [o[:3] for o in out]


UNCOVERED_SWAPS = {
    "risk_tier": [(r"risk tier D", "risk tier C"), (r"风险等级为D", "风险等级为C"), (r"risk tier C", "risk tier A"), (r"风险等级为C", "风险等级为A")],
    "account_status": [(r"account is frozen", "account is closed"), (r"账户已冻结", "账户已关闭"), (r"account is closed", "account is frozen"),
                       (r"账户已关闭", "账户已冻结")],
    "purpose_category": [(r"work_tools", "education"), (r"\(investment\)", "(household)"), (r"（investment）", "（household）")],
}


def _plant_uncovered(kind: str) -> Callable[[dict, str], list[tuple[str, str, str]]]:
    def plant(item: dict, reply: str) -> list[tuple[str, str, str]]:
        for pat, rep in UNCOVERED_SWAPS[kind]:
            m = re.search(pat, reply)
            if m:
                return [(m.group(0), rep, reply[:m.start()] + rep + reply[m.end():])]
        return []
    return plant


PLANTERS: dict[str, Callable[[dict, str], list[tuple[str, str, str]]]] = {
    "amount": _plant_amount, "date": _plant_date, "percent": _plant_percent, "day_count": _plant_days,
    "rule_id": _plant_rule, "clause_id": _plant_clause, "customer_id": _plant_customer, "outcome": _plant_outcome,
    **{k: _plant_uncovered(k) for k in PLANT_ONLY},
}


def generate() -> list[dict[str, Any]]:
    from agents.composer import compose
    clean: list[dict[str, Any]] = []
    for sc in scenarios():
        r = sc["result"]
        intent = {"limit_lookup": "limit_lookup", "temp_quota": "temp_quota", "repair_check": "repair_check",
                  "approval": "approval"}[r["tool"]]
        for i, lang in enumerate(("zh", "en")):
            ev = {"messages": [sc["messages"][i]], "tool_results": [r], "clauses": [clause(c, lang) for c in sc["clauses"]]}
            template = compose(lang, intent if intent != "approval" else "temp_quota", [r], ev["clauses"])
            para = {"limit_lookup": para_limit, "temp_quota": para_quota, "repair_check": para_repair,
                    "approval": para_approval}[intent](r, lang)
            for source, reply in (("template", template), ("paraphrase", para)):
                clean.append({"id": f"{sc['name']}-{lang}-{source}", "language": lang, "source": source,
                              "evidence": ev, "reply": reply})
    clean += _policy_items()
    items: list[dict[str, Any]] = []
    for c in clean:
        items.append({**c, "planted": []})
        for kind, planter in PLANTERS.items():
            for n, (old, new, reply) in enumerate(planter(c, c["reply"])):
                items.append({**c, "id": f"{c['id']}-{kind}{n}", "reply": reply,
                              "planted": [{"kind": kind, "original": old, "planted": new}]})
    return items


# ---------------------------------------------------------------- scoring
def load_items(path: Path = META_FILE) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(items: list[dict[str, Any]]) -> dict[str, Any]:
    from agents.guard import build_evidence, check
    kinds = COVERED + UNCOVERED
    tp = {k: 0 for k in kinds + ["record_id"]}
    fp = dict(tp)
    fn = dict(tp)
    misses, false_pos = [], []
    reply_tp = reply_fp = reply_fn = reply_tn = 0
    for it in items:
        ev = it["evidence"]
        verdict, claims = check(it["reply"], build_evidence(ev["messages"], ev["tool_results"], ev["clauses"]))
        flagged = [c for c in claims if not c.grounded]
        planted = it["planted"]
        if planted:
            reply_tp += bool(flagged)
            reply_fn += not flagged
        else:
            reply_fp += bool(flagged)
            reply_tn += not flagged
        remaining = list(flagged)
        for p in planted:
            same_kind = [c for c in remaining if GUARD_KIND.get(c.kind) == p["kind"]]
            # prefer the claim that is the planted token itself
            hit = next((c for c in same_kind if _same_token(c.text, p["planted"])), same_kind[0] if same_kind else None)
            if hit is not None:
                tp[p["kind"]] += 1
                remaining.remove(hit)
            else:
                fn[p["kind"]] += 1
                misses.append({"id": it["id"], "kind": p["kind"], "planted": f"{p['original']} -> {p['planted']}",
                               "reply": it["reply"], "flagged": [c.label() for c in flagged]})
        for c in remaining:
            k = GUARD_KIND.get(c.kind, c.kind)
            fp[k] = fp.get(k, 0) + 1
            false_pos.append({"id": it["id"], "claim": c.label(), "reply": it["reply"]})
    by_type = {k: prf(tp[k], fp.get(k, 0), fn[k]) for k in kinds}
    if tp["record_id"] or fp["record_id"] or fn["record_id"]:
        by_type["record_id"] = prf(tp["record_id"], fp["record_id"], fn["record_id"])
    overall = prf(sum(tp[k] for k in COVERED), sum(fp.get(k, 0) for k in COVERED) + fp.get("record_id", 0),
                  sum(fn[k] for k in COVERED))
    n_planted = sum(1 for it in items if it["planted"])
    return {
        "items": len(items), "clean": len(items) - n_planted, "planted": n_planted,
        "covered_types": COVERED, "uncovered_types": UNCOVERED,
        "by_type": by_type, "overall": overall,
        "uncovered": prf(sum(tp[k] for k in UNCOVERED), sum(fp.get(k, 0) for k in UNCOVERED), sum(fn[k] for k in UNCOVERED)),
        "reply_level": {"planted_flagged": reply_tp, "planted_missed": reply_fn, "clean_flagged": reply_fp, "clean_passed": reply_tn},
        "by_language": {lang: _lang_counts(items, lang) for lang in ("zh", "en")},
        "misses": misses, "false_positives": false_pos,
    }


def _same_token(claim: str, planted: str) -> bool:
    def norm(x: str) -> str:
        return re.sub(r"[\s,¥￥元]|yuan", "", x).lower()
    a, b = norm(claim), norm(planted)
    return bool(a) and (a in b or b in a)


def _lang_counts(items: list[dict], lang: str) -> dict[str, int]:
    sub = [i for i in items if i["language"] == lang]
    return {"items": len(sub), "planted": sum(1 for i in sub if i["planted"])}


def run_meta_eval(path: Path = META_FILE) -> dict[str, Any]:
    return score(load_items(path))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generate", action="store_true", help="rewrite evals/suites/guard_meta.jsonl")
    args = ap.parse_args()
    if args.generate:
        items = generate()
        META_FILE.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
        print(f"wrote {len(items)} items ({sum(1 for i in items if not i['planted'])} clean) to {META_FILE}")
    res = run_meta_eval()
    print(json.dumps({k: v for k, v in res.items() if k not in ("misses", "false_positives")}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
