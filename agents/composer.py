"""The template composer: a deterministic reply in the operator's language, from tool results and
cited clauses only. It is the default composer, and the fallback whenever an LLM draft fails the
guard. Every figure it writes is copied from the evidence."""
from __future__ import annotations

import contextvars
import datetime as dt
import re
import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import Any

from agents.plugins import reply as plugin_reply
from agents.policy_text import drifts
from agents.i18n import label
from tools.money import fmt_yuan
from tools.policy import active, in_force
from tools.purpose import Purpose
from tools.rules import clause_for, result_day

_DAY = contextvars.ContextVar("riskdesk_cite_day", default=None)  # the result being written: its policy version


def y(v: Any) -> str:
    return "¥" + fmt_yuan(Decimal(str(v)))


def cite(*rules: str) -> str:
    """The clauses of these rules, as the policy version of the result being written names them."""
    return "".join(f"[{clause_for(r, _DAY.get())}]" for r in rules)


def _figures(text: str) -> str:
    """A reason's figures from the policy version in force for the result being written."""
    if "{" not in text:
        return text
    day = _DAY.get()
    tq = (in_force(dt.date.fromisoformat(str(day)[:10])) if day else active().versions[0]).temp_quota
    return text.format(age=tq.min_account_age_days, auto=y(tq.auto_approval_max))


def drift_note(lang: str, d: dict) -> str:
    """A parameter applied that its clause does not state: said plainly, never quoted as the clause's support."""
    says = ", ".join(d["clause_says"]) or _t(lang, "no such figure", "无此数值")
    return _t(lang, f"Note: the policy text [{d['clause_id']}] and the parameter applied disagree: {d['parameter']} "
                    f"applied is {d['value']}, the clause states {says}.",
              f"注意：政策条款[{d['clause_id']}]与所适用的参数不一致：参数{d['parameter']}按{d['value']}执行，"
              f"条款写的是{says}。")


PURPOSE_CATEGORIES = frozenset(p.value for p in Purpose)


_TQ1_REASONS = {
    "account_frozen": ("account is frozen", "账户已冻结"),
    "account_closed": ("account is closed", "账户已关闭"),
    "kyc_not_verified": ("KYC is not verified", "未完成实名认证（KYC）"),
    "account_under_90_days": ("account was opened less than {age} days before the request", "开户未满{age}天"),
    "unrepaid_overdue": ("an overdue record is still unrepaid", "存在尚未还清的逾期记录"),
    "risk_tier_d": ("risk tier D is always denied", "风险等级为D，一律拒绝"),
}
_REVIEW_REASONS = {
    "amount_over_5000": ("amount above {auto}", "金额超过{auto}"),
    "risk_tier_c": ("risk tier C", "风险等级为C"),
    "purpose_unclassified": ("purpose could not be classified", "用途无法归类"),
}
_STATUS = {"eligible": ("eligible", "符合"), "eligible_if_repaid": ("eligible if repaid in full by {repay_by}", "若于{repay_by}前全额还清则符合"),
           "ineligible": ("not eligible", "不符合")}
_REPAIR_OUTCOME = {"eligible": ("eligible", "符合"), "partially_eligible": ("partially eligible", "部分符合"),
                   "ineligible": ("not eligible", "不符合"), "no_records": ("no overdue records on file", "无逾期记录")}


def _tier(code: str, en_tail: str) -> tuple[str, str]:
    """A tier reason the tables above do not name (a lender's own tier lists): risk_tier_b -> risk tier B."""
    if m := re.fullmatch(r"risk_tier_([a-d])", code):
        t = m.group(1).upper()
        return f"risk tier {t}{en_tail}", f"风险等级为{t}" + ("，不符合申请条件" if en_tail else "")
    return code, code


def _reason(lang: str, code: str, table: dict[str, tuple[str, str]], en_tail: str) -> str:
    """One reason code in the operator's words: the rule's own wording with the policy's figures, a tier the
    lender lists, else the message catalogue's label (never the raw code)."""
    if code in table:
        return _figures(_t(lang, *table[code]))
    if re.fullmatch(r"risk_tier_[a-d]", code):
        return _t(lang, *_tier(code, en_tail))
    return label("reason", code, lang)


def _t(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def heading(lang: str, title: str) -> str:
    """A clause title in the operator's language: the knowledge base titles clauses "中文 / English"."""
    parts = [p.strip() for p in str(title).split(" / ")]
    if len(parts) != 2 or not all(parts):
        return title
    zh = [p for p in parts if any("\u4e00" <= ch <= "\u9fff" for ch in p)]
    en = [p for p in parts if p not in zh]
    if len(zh) != 1 or len(en) != 1:
        return title
    return _t(lang, en[0], zh[0])


# ---------------------------------------------------------------- operator text quoted back
QUOTE_MAX = 40  # characters of operator text a reply shows, at most
_QUOTE_ESCAPES = str.maketrans({"「": "『", "」": "』", '"': "'", "“": "‘", "”": "’", "[": "［", "]": "］"})


def quote_user(lang: str, text: str, quotes: list[str] | None = None) -> str:
    """Operator text shown back in a reply: escaped (the quote marks and citation brackets inside it replaced,
    control and invisible characters dropped, all on one line), truncated to QUOTE_MAX characters, and
    marked: 「…」 in Chinese, "…" in English. The caller labels it as the operator's words ("所述用途「…」",
    'stated purpose "…"'). The quote is added to `quotes`, the list the guard receives: a claim inside it is
    the operator's, not the system's. Text that merely looks like a quote is never skipped by the guard."""
    body = escape_user(text)
    quoted = f"「{body}」" if lang == "zh" else f'"{body}"'
    if quotes is not None:
        quotes.append(quoted)
    return quoted


def escape_user(text: str) -> str:
    """Operator text made safe to show inside a quote: quote marks and citation brackets replaced, control and
    invisible characters dropped, one line, at most QUOTE_MAX characters."""
    kept = []
    for ch in str(text).translate(_QUOTE_ESCAPES):
        cat = unicodedata.category(ch)
        if cat == "Cf":  # zero-width and bidirectional controls: invisible, or reorder what is shown
            continue
        kept.append(" " if cat in ("Cc", "Zl", "Zp") or ch.isspace() else ch)
    body = re.sub(" {2,}", " ", "".join(kept)).strip()
    return body[:QUOTE_MAX - 1] + "…" if len(body) > QUOTE_MAX else body


def _purpose(lang: str, purpose: str, quotes: list[str] | None, category_as_is: bool = True) -> str:
    """A purpose in a reply: a category name is the system's word; anything else is the operator's, quoted."""
    if category_as_is and purpose in PURPOSE_CATEGORIES:  # the category's name in the operator's language
        return _t(lang, f"purpose: {label('purpose', purpose, lang)}", f"用途：{label('purpose', purpose, lang)}")
    return _t(lang, "stated purpose ", "所述用途") + quote_user(lang, purpose, quotes)


def not_found(lang: str, cid: str) -> str:
    return _t(lang, f"Customer {cid} was not found in the ledger, so I have no data on them.",
              f"账本中未找到客户{cid}，无法提供其任何数据。")


def limit_reply(lang: str, r: dict) -> str:
    if r["outcome"] == "not_found":
        return not_found(lang, r["customer_id"])
    q = r.get("temp_quota")
    if lang == "zh":
        tq = f"临时额度{y(q['amount'])}，有效期至{q['expires_on']}；" if q else "无有效临时额度；"
        return (f"客户{r['customer_id']}（截至{r['as_of']}）：基础额度{y(r['base_limit'])}，已用{y(r['used'])}，"
                f"可用{y(r['available'])}；{tq}总可用额度{y(r['total_available'])} {cite('LIMIT', 'TQ7')}。")
    tq = f"temporary quota {y(q['amount'])} valid until {q['expires_on']}; " if q else "no temporary quota in force; "
    return (f"{r['customer_id']} as of {r['as_of']}: base limit {y(r['base_limit'])}, used {y(r['used'])}, "
            f"available {y(r['available'])}; {tq}total available {y(r['total_available'])} {cite('LIMIT', 'TQ7')}.")


def quota_reply(lang: str, r: dict, quotes: list[str] | None = None) -> str:
    cid, amt = r["customer_id"], y(r["amount"])
    if r["outcome"] == "not_found":
        return not_found(lang, cid)
    if r.get("replayed"):
        prefix = _t(lang, "(Repeated request: the first answer stands.) ", "（重复请求：以首次结果为准。）")
    else:
        prefix = ""
    if r["outcome"] == "approved":
        g = r["grant"]
        return prefix + _t(
            lang,
            f"Approved under TQ5: a temporary quota of {y(g['amount'])} for {cid} ({_purpose(lang, g['purpose'], quotes)}), "
            f"valid from {g['granted_on']} to {g['expires_on']} inclusive {cite('TQ5', 'TQ6')}.",
            f"已批准（TQ5）：为客户{cid}发放临时额度{y(g['amount'])}（{_purpose(lang, g['purpose'], quotes)}），"
            f"有效期{g['granted_on']}至{g['expires_on']}（含当日）{cite('TQ5', 'TQ6')}。")
    if r["outcome"] == "needs_approval":
        why = _t(lang, "; ", "；").join(_reason(lang, k, _REVIEW_REASONS, "") for k in r["reasons"])
        rules = ("TQ5", "TQ2") if "purpose_unclassified" in r["reasons"] else ("TQ5",)
        return prefix + _t(
            lang,
            f"Needs a supervisor's approval under TQ5 ({why}): {amt} for {cid}. "
            f"Pending approval id: {r['approval_id']} {cite(*rules)}.",
            f"需主管审批（TQ5：{why}）：客户{cid}申请{amt}。待审批编号：{r['approval_id']} {cite(*rules)}。")
    rule = r["deciding_rule"]
    if rule == "TQ1":
        why = _t(lang, "; ", "；").join(_reason(lang, k, _TQ1_REASONS, " is not eligible") for k in r["reasons"])
        body = _t(lang, f"the TQ1 conditions are not met ({why})", f"未达到TQ1申请条件（{why}）")
    elif rule == "TQ4":
        body = _t(lang, f"an unexpired temporary quota is in force until {r['active_quota_expires_on']}, one at a time",
                  f"已有未到期的临时额度（有效至{r['active_quota_expires_on']}），同一时间只能有一笔")
    elif rule == "TQ2":
        cat = label("purpose", r.get("purpose_category"), lang)
        body = _t(lang, "the ", "") + _purpose(lang, r["purpose"], quotes, category_as_is=False) \
            + _t(lang, f" is prohibited ({cat})", f"属于禁止类别（{cat}）")
    else:
        body = _t(lang, f"{amt} is above the cap; the largest amount that could be requested is {y(r['cap'])}",
                  f"{amt}超过上限，最多可申请{y(r['cap'])}")
    return prefix + _t(lang, f"Denied under {rule} for {cid}: {body} {cite(rule)}.",
                       f"拒绝（{rule}）：客户{cid}，{body} {cite(rule)}。")


def repair_reply(lang: str, r: dict) -> str:
    if r["outcome"] == "not_found":
        return not_found(lang, r["customer_id"])
    head = _t(lang, *_REPAIR_OUTCOME[r["outcome"]])
    lines = [_t(lang, f"One-time credit repair for {r['customer_id']} as of {r['as_of']}: {head}.",
                f"客户{r['customer_id']}一次性信用修复（截至{r['as_of']}）：{head}。")]
    for v in r["records"]:
        status = _t(lang, *_STATUS[v["status"]]).format(repay_by=v.get("repay_by"))
        if v["status"] == "eligible":
            extra = _t(lang, f", no longer shown from {v['hidden_from']} {cite('R3')}", f"，自{v['hidden_from']}起不再展示 {cite('R3')}")
        elif v["status"] == "eligible_if_repaid":
            extra = " " + cite("R3")
        else:
            extra = _t(lang, f" under {v['deciding_rule']} {cite(v['deciding_rule'])}", f"（{v['deciding_rule']}）{cite(v['deciding_rule'])}")
        paid = (_t(lang, f", repaid {v['repaid_on']}", f"，还清于{v['repaid_on']}") if v.get("repaid_on")
                else _t(lang, ", not repaid", "，尚未还清"))
        lines.append(_t(lang,
                        f"- record {v['record_id']} ({v['institution']}, {y(v['amount'])}, overdue since {v['overdue_since']}{paid}): {status}{extra}",
                        f"- 记录{v['record_id']}（{v['institution']}，{y(v['amount'])}，逾期始于{v['overdue_since']}{paid}）：{status}{extra}"))
    lines.append(_t(lang,
                    f"Nothing to apply for, no fee and no agent: the central bank processes qualifying records itself; "
                    f"paid \"credit repair\" agents are a scam {cite('R4')}.",
                    f"免申即享：无需申请、不收费、无需中介，由人民银行自动处理；收费“征信修复”中介属于骗局 {cite('R4')}。"))
    return "\n".join(lines)


def approval_reply(lang: str, r: dict, quotes: list[str] | None = None) -> str:
    a = r["approval"]
    if r["outcome"] == "approved":
        g = r["grant"]
        return _t(lang, f"Approval {a['approval_id']} approved by {a['decided_by']}: {y(g['amount'])} for {a['customer_id']}, "
                        f"valid from {g['granted_on']} to {g['expires_on']} inclusive {cite('TQ5', 'TQ6')}.",
                  f"审批{a['approval_id']}已由{a['decided_by']}批准：客户{a['customer_id']}获得{y(g['amount'])}，"
                  f"有效期{g['granted_on']}至{g['expires_on']}（含当日）{cite('TQ5', 'TQ6')}。")
    if r["outcome"] == "expired":
        return _t(lang, f"Approval {a['approval_id']} expired: it was not decided by {a['decide_by']}, so no temporary "
                        f"quota for {a['customer_id']} {cite('TQ5')}.",
                  f"审批{a['approval_id']}已过期：未在{a['decide_by']}前处理，客户{a['customer_id']}不发放临时额度 {cite('TQ5')}。")
    why = ""
    if (a.get("reason") or "").strip():  # the supervisor's words, quoted as theirs
        why = _t(lang, " Reason given: ", "驳回理由：") + quote_user(lang, a["reason"], quotes) + _t(lang, ".", "。")
    return _t(lang, f"Approval {a['approval_id']} rejected by {a['decided_by']}: no temporary quota for {a['customer_id']} {cite('TQ5')}.",
              f"审批{a['approval_id']}已被{a['decided_by']}驳回：客户{a['customer_id']}不发放临时额度 {cite('TQ5')}。") + why


def policy_reply(lang: str, clauses: list[dict], question: str = "", period: dict | None = None,
                 quotes: list[str] | None = None) -> str:
    if not clauses:
        return _t(lang, "I found no policy clause in force on that date that answers this.",
                  "在该日期有效的政策条款中，没有找到能回答这个问题的内容。")
    lines = []
    if period and period.get("as_of"):
        asked = quote_user(lang, period["raw"], quotes)
        lines.append(_t(lang, f"As the policy stood on {period['as_of']} (you asked about {asked}):",
                        f"按{period['as_of']}时有效的政策（您问的是{asked}）："))
    if question and (answer := answer_sentence(question, clauses[0]["text"])):
        lines.append(f"{answer} [{clauses[0]['clause_id']}]")
    lines += [f"[{c['clause_id']}] {heading(lang, c['title'])}{_t(lang, ': ', '：')}{c['text']}" for c in clauses[:2]]
    for c in clauses[2:3]:
        lines.append(_t(lang, f"See also [{c['clause_id']}] {heading(lang, c['title'])}.",
                        f"另见 [{c['clause_id']}] {heading(lang, c['title'])}。"))
    return "\n".join(lines)


_QUANTITY = re.compile(r"多少|多久|多长|几|上限|最多|最高|最长|比例|how (?:much|long|many)|maximum|\bmax\b|\bcap\b|limit|rate|percent|days?", re.I)
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+|\n")


def answer_sentence(question: str, text: str) -> str | None:
    """The one sentence of a clause that answers the question: the most words in common with it, and a figure
    when the question asks for one. Copied from the clause, so every figure in it is the clause's own."""
    from knowledge.lexical import segment
    q = {w.lower() for w in segment(question) if len(w.strip()) > 1 or "\u4e00" <= w <= "\u9fff"}
    wants_figure = bool(_QUANTITY.search(question))
    best, best_score = None, 0.0
    for sent in _SENTENCE_END.split(text):
        sent = sent.strip()
        if len(sent) < 4:
            continue
        words = _sentence_words(sent)
        score = len(q & words) / (1 + len(words) ** 0.5)
        if wants_figure and re.search(r"\d", sent):
            score += 0.5
        if score > best_score:
            best, best_score = sent, score
    return best if best and best_score > 0.15 and best != text.strip() else None


@lru_cache(maxsize=4096)
def _sentence_words(sentence: str) -> frozenset[str]:
    """A clause sentence's words, lower-cased: clauses are the knowledge base's fixed text, segmented once."""
    from knowledge.lexical import segment
    return frozenset(w.lower() for w in segment(sentence))


def purpose_differs(lang: str) -> str:
    return _t(lang, "The stated purpose and the real use differ: TQ2 judges the real use, and it is prohibited.",
              "所述用途与实际用途不一致：TQ2按实际用途判断，实际用途属于禁止类别。")


def out_of_scope(lang: str) -> str:
    return _t(lang, "That is outside what I handle: I answer credit-limit lookups, temporary quotas, the one-time "
                    "credit repair check and credit-policy questions.",
              "这超出了我的处理范围：我只处理额度查询、临时额度、一次性信用修复核查和信贷政策问题。")


def missing_slots(lang: str, cid: str | None, missing: list[str], intent: str = "temp_quota") -> str:
    if intent in ("limit_lookup", "repair_check"):
        task = _t(lang, *_INTENT_NAMES[intent])
        return _t(lang, f"For {task}, which customer? Give the customer id as it appears in the ledger.",
                  f"{task}：请问是哪位客户？请提供账本中的客户号。")
    names = {"customer_id": ("the customer id (as it appears in the ledger)", "客户编号（即账本中的客户号）"), "amount": ("the amount", "金额"),
             "purpose": ("the purpose", "用途")}
    what = _t(lang, " and ", "和").join(_t(lang, *names[m]) for m in missing)
    who = cid or ""
    return _t(lang, f"To request a temporary quota {('for ' + who + ' ') if who else ''}I need {what}.",
              f"申请临时额度{('（客户' + who + '）') if who else ''}还需要提供{what}。")


def role_refusal(lang: str, needed: str, role: str) -> str:
    return _t(lang, f"Requesting a temporary quota needs the {label('role', needed, lang)} role; you are signed in as "
                    f"{label('role', role, lang)}. Nothing was changed.",
              # the role's own name in brackets: what /role and --role take
              f"申请临时额度需要{label('role', needed, lang)}（{needed}）角色，当前角色为{label('role', role, lang)}（{role}），"
              "未做任何更改。")


_CLARIFY = {
    "date_invalid": ("The date {date} does not exist. Which date do you mean (year-month-day)? Nothing was changed.",
                     "日期{date}不存在。请问是哪一天（年-月-日）？未做任何更改。"),
    "date_ambiguous": ("The date {date} can be read as day/month or month/day. Please write it as year-month-day. Nothing was changed.",
                       "日期{date}既可读作日/月，也可读作月/日，请按“年-月-日”写明。未做任何更改。"),
    "which_customer": ("You named several customers {customers}. Which one do you mean? Nothing was changed.",
                       "消息中有多位客户{customers}，请问是哪一位？未做任何更改。"),
    "amount_negative": ("The amount {amount} is negative. What amount should be requested? Nothing was changed.",
                        "金额{amount}为负数。请问申请多少？未做任何更改。"),
    "amount_zero": ("The amount {amount} is zero. What amount should be requested? Nothing was changed.",
                    "金额{amount}为零。请问申请多少？未做任何更改。"),
    "amount_malformed": ("I cannot read the amount {amount} exactly. Please write it again in plain digits, with a comma only between groups of three. Nothing was changed.",
                         "无法准确读出金额{amount}，请只用数字重新写明，千位分隔符只能每三位一个。未做任何更改。"),
    "amount_ambiguous": ("The amount {amount} can be read more than one way. Please write the exact amount. Nothing was changed.",
                         "金额{amount}有多种读法，请写明准确金额。未做任何更改。"),
    "intent_unclear": ("Do you want {first} or {second}? Nothing was changed.", "请问您是要{first}，还是{second}？未做任何更改。"),
    "amount_several": ("The message has several amounts {amount}. Which one should be requested? Nothing was changed.",
                       "消息中有多个金额{amount}，请问申请哪一个？未做任何更改。"),
}


_INTENT_NAMES = {"limit_lookup": ("a credit-limit lookup", "额度查询"), "temp_quota": ("a temporary quota", "临时额度申请"),
                 "repair_check": ("a credit-repair check", "信用修复核查"), "policy_qa": ("a policy question", "政策问题"),
                 "explain": ("an explanation", "解释")}


def not_handled(lang: str, intents: list[str]) -> str:
    """Several requests in one message: say which one was handled."""
    names = _t(lang, " and ", "和").join(_t(lang, *_INTENT_NAMES[i]) for i in intents if i in _INTENT_NAMES)
    return _t(lang, f"Your message also asks for {names}; I handled only the request above. Please ask for it separately.",
              f"您的消息还涉及{names}；本次只处理了上面的请求，请单独再问一次。")


def clarify(lang: str, code: str, args: dict[str, str], quotes: list[str] | None = None) -> str:
    """One clarifying question instead of a guess. What the operator wrote is shown as their quoted words
    (quote_user), added to `quotes` for the guard."""
    en, zh = _CLARIFY.get(code, ("Could you say that again more precisely? Nothing was changed.", "请再说明确一些。未做任何更改。"))
    if code == "intent_unclear":  # our own words, not the operator's
        first, _, second = args.get("options", "").partition("|")
        return _t(lang, en, zh).format(first=_t(lang, *_INTENT_NAMES.get(first, (first, first))),
                                       second=_t(lang, *_INTENT_NAMES.get(second, (second, second))))
    safe = {k: quote_user(lang, str(v), quotes) for k, v in args.items() if k != "options"}  # never re-formatted
    return _t(lang, en, zh).format_map(_Blank(safe))


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def explain(lang: str, results: list[dict], clauses: list[dict], quotes: list[str] | None = None) -> str:
    """'Why?': the last decision again, its deciding rule and the clause that states it."""
    if not results:
        return _t(lang, "There is no earlier decision in this conversation to explain.", "本次对话中还没有可以解释的决定。")
    lines = [_t(lang, "The last decision and the rule behind it:", "上一个决定及其依据：")]
    lines += [compose(lang, r["tool"], [r], [], quotes=quotes) for r in results]
    for c in clauses[:2]:  # the rule as the policy states it: cited by title (its text is one click away)
        lines.append(_t(lang, f"The rule: [{c['clause_id']}] {heading(lang, c['title'])}.",
                        f"依据：[{c['clause_id']}] {heading(lang, c['title'])}。"))
    return "\n".join(lines)


def compose(lang: str, intent: str, tool_results: list[dict], clauses: list[dict], period: dict | None = None,
            question: str = "", quotes: list[str] | None = None) -> str:
    """The whole template reply for a turn. Each piece of operator text it quotes is added to `quotes`
    (see quote_user), for the guard."""
    if intent == "explain":
        return explain(lang, tool_results, clauses, quotes)
    parts = []
    for r in tool_results:
        renderer = {"limit_lookup": limit_reply, "temp_quota": quota_reply, "repair_check": repair_reply,
                    "approval": approval_reply}.get(r["tool"], plugin_reply)
        token = _DAY.set(result_day(r))
        try:
            parts.append(renderer(lang, r, quotes) if renderer in (quota_reply, approval_reply) else renderer(lang, r))
        finally:
            _DAY.reset(token)
    parts += [drift_note(lang, d) for d in drifts(tool_results, clauses)]
    if intent == "policy_qa":
        parts.append(policy_reply(lang, clauses, question, period, quotes))
    if intent == "out_of_scope":
        parts.append(out_of_scope(lang))
    return "\n".join(parts)
