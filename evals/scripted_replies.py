"""The replies of the scripted test-double model (evals/scripted_llm.py): what a careful model would write.

TEST DOUBLE. Nothing here is a model. A composer request carries the operator's message, the evidence as JSON
(tool results, the clauses to cite) and the template reply; the *competent* reply is written here from the
evidence alone, on one line, in the operator's language: the outcome, the customer, the amounts and dates of
the tool results, the clause ids given, cited as [CLAUSE-ID]. It never states a fact the evidence lacks, and
it names no outcome for an overdue record on a line about a customer (the guard holds such a line to the
customer's outcome). A policy answer is the clause sentence closest to the question.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class ComposeRequest:
    language: str
    message: str
    evidence: dict[str, Any]
    template: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)
    clauses: list[dict[str, Any]] = field(default_factory=list)


def parse_compose_request(messages: list[dict[str, Any]]) -> ComposeRequest | None:
    """The parts of a composer request (agents/composer_llm.py's layout: a header line, the text, a blank line,
    for the operator message, the evidence JSON and the template reply); None if it carries no evidence JSON."""
    system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
    blocks = re.split(r"\n\s*\n", user)
    evidence, message, template = None, "", ""
    for i, block in enumerate(blocks):
        head, _, body = block.partition("\n")
        if evidence is None and "JSON" in head.upper() and body.lstrip().startswith("{"):
            try:
                evidence, _ = json.JSONDecoder().raw_decode(body.lstrip())
            except json.JSONDecodeError:
                return None
            message = blocks[i - 1].partition("\n")[2] if i else ""
            template = blocks[i + 1].partition("\n")[2] if i + 1 < len(blocks) else ""
    if not isinstance(evidence, dict):
        return None
    language = "zh" if _CJK.search(system or user) else "en"
    return ComposeRequest(language=language, message=message.strip(), evidence=evidence, template=template.strip(),
                          results=[r for r in evidence.get("tool_results") or [] if isinstance(r, dict)],
                          clauses=[c for c in evidence.get("clauses") or [] if isinstance(c, dict) and c.get("clause_id")])


def money(v: Any) -> str:
    d = Decimal(str(v))
    return f"¥{d:,.0f}" if d == d.to_integral_value() else f"¥{d:,.2f}"


def _t(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def _cites(clause_ids: list[str]) -> str:
    return "".join(f"[{c}]" for c in dict.fromkeys(clause_ids))


_TQ1 = {"account_frozen": ("the account is frozen", "账户已冻结"), "account_closed": ("the account is closed", "账户已关闭"),
        "kyc_not_verified": ("KYC is not verified", "未完成实名认证"),
        "account_under_90_days": ("the account is younger than 90 days", "开户不满90天"),
        "unrepaid_overdue": ("an overdue debt is still unpaid", "仍有未还清的逾期欠款"),
        "risk_tier_d": ("risk tier D", "风险等级为D")}
_REVIEW = {"amount_over_5000": ("the amount is above ¥5,000", "金额超过¥5,000"), "risk_tier_c": ("risk tier C", "风险等级为C"),
           "purpose_unclassified": ("the purpose could not be classified", "用途无法归类")}
_REPAIR = {"eligible": ("eligible", "符合条件"), "partially_eligible": ("partially eligible", "部分符合条件"),
           "ineligible": ("not eligible", "不符合条件"), "no_records": ("no overdue records on file", "无逾期记录")}


def _not_found(lang: str, cid: str) -> str:
    return _t(lang, f"Customer {cid} was not found in the ledger, so there is nothing to report.",
              f"账本中未找到客户{cid}，没有可提供的数据。")


def limit_line(lang: str, r: dict) -> str:
    cid, q = r["customer_id"], r.get("temp_quota")
    if lang == "zh":
        tq = f"，另有临时额度{money(q['amount'])}（有效至{q['expires_on']}）" if q else "，目前没有有效的临时额度"
        return (f"截至{r['as_of']}，客户{cid}的总可用额度为{money(r['total_available'])}：基础额度{money(r['base_limit'])}，"
                f"已用{money(r['used'])}，基础可用{money(r['available'])}{tq}")
    tq = f", plus a temporary quota of {money(q['amount'])} valid until {q['expires_on']}" if q else ", with no temporary quota in force"
    return (f"As of {r['as_of']}, {cid} has {money(r['total_available'])} available in total: base limit "
            f"{money(r['base_limit'])}, {money(r['used'])} used, {money(r['available'])} left on the base line{tq}")


def quota_line(lang: str, r: dict) -> str:
    cid, amt = r["customer_id"], money(r["amount"])
    again = _t(lang, "Repeated request, the first decision stands. ", "重复请求，以首次决定为准。") if r.get("replayed") else ""
    if r["outcome"] == "approved":
        g = r["grant"]
        return again + _t(lang, f"Approved: {cid} gets a temporary quota of {money(g['amount'])}, valid from {g['granted_on']} "
                                f"to {g['expires_on']}",
                          f"已批准：客户{cid}获得临时额度{money(g['amount'])}，有效期{g['granted_on']}至{g['expires_on']}")
    if r["outcome"] == "needs_approval":
        why = _t(lang, "; ", "；").join(_t(lang, *_REVIEW.get(k, (k, k))) for k in r.get("reasons", []))
        return again + _t(lang, f"{cid}'s request for {amt} needs a supervisor's approval ({why}); approval {r['approval_id']} "
                                "was opened",
                          f"客户{cid}申请的{amt}需主管审批（{why}），审批编号{r['approval_id']}")
    rule = r.get("deciding_rule") or ""
    if rule == "TQ1":
        why = _t(lang, "; ", "；").join(_t(lang, *_TQ1.get(k, (k, k))) for k in r.get("reasons", []))
    elif rule == "TQ2":
        why = _t(lang, f"the real use is prohibited ({r.get('purpose_category') or 'prohibited'})",
                 f"实际用途属于禁止类别（{r.get('purpose_category') or '禁止'}）")
    elif rule == "TQ3":
        why = _t(lang, f"{amt} is above the cap of {money(r['cap'])}", f"{amt}超过上限{money(r['cap'])}")
    elif rule == "TQ4":
        why = _t(lang, f"a temporary quota is already in force until {r['active_quota_expires_on']}, and only one is allowed "
                       "at a time", f"已有临时额度有效至{r['active_quota_expires_on']}，同一时间只能有一笔")
    else:
        why = ""
    return again + _t(lang, f"Denied under {rule} for {cid}" + (f": {why}" if why else ""),
                      f"客户{cid}的申请被拒绝（{rule}）" + (f"：{why}" if why else ""))


def repair_line(lang: str, r: dict) -> str:
    cid = r["customer_id"]
    head = _t(lang, f"One-time credit repair for {cid} as of {r['as_of']}: {_REPAIR[r['outcome']][0]}",
              f"客户{cid}的一次性信用修复（截至{r['as_of']}）：{_REPAIR[r['outcome']][1]}")
    parts = []
    for v in r.get("records") or []:  # no outcome word per record: the line is held to the customer's outcome
        paid = _t(lang, f"repaid {v['repaid_on']}", f"于{v['repaid_on']}还清") if v.get("repaid_on") else _t(lang, "not repaid", "尚未还清")
        what = _t(lang, f"the {money(v['amount'])} overdue since {v['overdue_since']} ({paid})",
                  f"{v['overdue_since']}起逾期的{money(v['amount'])}（{paid}）")
        if v["status"] == "eligible":
            parts.append(what + _t(lang, f" is no longer shown from {v['hidden_from']}", f"自{v['hidden_from']}起不再展示"))
        elif v["status"] == "eligible_if_repaid":
            parts.append(what + _t(lang, f" is covered only if repaid in full by {v['repay_by']}", f"须于{v['repay_by']}前全额还清才可修复"))
        else:
            parts.append(what + _t(lang, f" is outside {v.get('deciding_rule') or 'the policy'}",
                                   f"不在{v.get('deciding_rule') or '政策'}范围内"))
    body = _t(lang, "; ", "；").join(parts)
    tail = _t(lang, "nothing to apply for, no fee and no agent needed", "无需申请、不收费、无需中介")
    return head + (_t(lang, f" — {body}; {tail}", f"：{body}；{tail}") if parts else _t(lang, f"; {tail}", f"；{tail}"))


def approval_line(lang: str, r: dict) -> str:
    a, g = r.get("approval") or {}, r.get("grant") or {}
    aid, cid = a.get("approval_id", ""), a.get("customer_id", "")
    if r["outcome"] == "approved":
        return _t(lang, f"Approval {aid} approved by {a.get('decided_by')}: {cid} gets {money(g['amount'])}, valid from "
                        f"{g['granted_on']} to {g['expires_on']}",
                  f"审批{aid}已由{a.get('decided_by')}批准：客户{cid}获得{money(g['amount'])}，有效期{g['granted_on']}至{g['expires_on']}")
    if r["outcome"] == "expired":
        return _t(lang, f"Approval {aid} expired undecided after {a.get('decide_by')}: no temporary quota for {cid}",
                  f"审批{aid}未在{a.get('decide_by')}前处理，已过期：客户{cid}不发放临时额度")
    return _t(lang, f"Approval {aid} was rejected by {a.get('decided_by')}: no temporary quota for {cid}",
              f"审批{aid}已被{a.get('decided_by')}驳回：客户{cid}不发放临时额度")


def result_line(lang: str, r: dict) -> str | None:
    if r.get("outcome") == "not_found":
        return _not_found(lang, r.get("customer_id", ""))
    writer = {"limit_lookup": limit_line, "temp_quota": quota_line, "repair_check": repair_line,
              "approval": approval_line}.get(r.get("tool", ""))
    return writer(lang, r) if writer else None


_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?|[^.\n]+?(?:\.(?=\s|$)|$)")
SHORT_CLAUSE = 400  # characters: a clause this short is quoted whole


def _terms(text: str) -> set[str]:
    low = text.lower()
    words = set(re.findall(r"[a-z0-9%]+", low))
    han = re.findall(r"[\u4e00-\u9fff]", low)
    return words | {a + b for a, b in zip(han, han[1:])}


def policy_line(lang: str, question: str, clauses: list[dict]) -> str:
    """The answer from the clause the knowledge base ranked first: the whole clause when it is short, else its
    sentence that shares the most with the question; cited, on one line."""
    top = clauses[0]
    text = " ".join((top.get("text") or top.get("title") or "").split())
    if len(text) > SHORT_CLAUSE:
        q = _terms(question)
        sentences = [m.group(0).strip() for m in _SENTENCE.finditer(text) if len(m.group(0).strip()) >= 6]
        text = max(sentences, key=lambda s: len(q & _terms(s)) / (1 + len(_terms(s)) ** 0.5), default=text[:SHORT_CLAUSE])
    see = _t(lang, f" See also [{clauses[1]['clause_id']}].", f"另见[{clauses[1]['clause_id']}]。") if len(clauses) > 1 else ""
    return f"{text.rstrip('。.；;')} [{top['clause_id']}]" + _t(lang, ".", "。") + see


def competent_reply(req: ComposeRequest) -> str:
    lang = req.language
    cite = _cites([c["clause_id"] for c in req.clauses])
    lines = [line.rstrip("。.") for r in req.results if (line := result_line(lang, r))]
    if lines:
        return _t(lang, ". ", "。").join(lines) + (" " if lang == "en" and cite else "") + cite + _t(lang, ".", "。")
    if req.clauses:
        return policy_line(lang, req.message, req.clauses)
    return " ".join(req.template.split())  # nothing of its own to say: the template reply, restated


def _rules(r: dict) -> list[str]:
    """The rules a careful answer cites for a tool result: the deciding rule, or the rules behind a finding."""
    if r.get("outcome") == "not_found":
        return []
    if r.get("tool") == "limit_lookup":
        return ["LIMIT", "TQ7"]
    if r.get("tool") == "temp_quota":
        unclassified = ["TQ2"] if "purpose_unclassified" in (r.get("reasons") or []) else []
        return {"approved": ["TQ5", "TQ6"], "needs_approval": ["TQ5", *unclassified]}.get(
            r.get("outcome", ""), [r.get("deciding_rule") or ""])
    if r.get("tool") == "repair_check":
        return sorted({v.get("deciding_rule") or "R3" for v in r.get("records") or []}) + ["R4"]
    return []


def react_answer(lang: str, question: str, results: list[Any], system: str) -> str:
    """A plain agent's answer after its tool calls: the results' lines, citing the clauses of the policy text in its
    system prompt that state the rules applied; a knowledge search's clauses answer a policy question."""
    ids = re.findall(r"\[([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\]", system)
    lines, cites = [], []
    for r in results:
        if isinstance(r, list) and r and all(isinstance(c, dict) and c.get("clause_id") for c in r):
            lines.append(policy_line(lang, question, r).rstrip("。."))
        elif isinstance(r, dict) and (line := result_line(lang, r)):
            lines.append(line.rstrip("。."))
            for rule in _rules(r):
                suffix = "-LIMIT-LOOKUP" if rule == "LIMIT" else f"-{rule}"
                cites += [i for i in dict.fromkeys(ids) if rule and i.endswith(suffix)][:1]
        elif isinstance(r, dict) and r.get("error"):
            lines.append(_t(lang, "The request could not be processed", "请求无法处理"))
    return _t(lang, ". ", "。").join(lines) + (" " if lang == "en" and cites else "") + _cites(cites) + _t(lang, ".", "。")
