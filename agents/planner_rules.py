"""The rules planner: deterministic, no model. The embedded default and the LLM's fallback.

jieba (with the knowledge base's domain dictionary) segments Chinese; keyword tables pick the intent; agents.parsing fills the slots.
A follow-up that names only another customer ("那C1002呢?", "and what about C1002?") inherits
the previous turn's intent, amount and purpose.
"""
from __future__ import annotations

import re

from agents.parsing import detect_language, extract_amounts, extract_customer_ids, extract_dates
from agents.plan import Intent, Plan
from knowledge.lexical import segment
from tools.purpose import PROHIBITED, classify_purpose


_TEMP_QUOTA = re.compile(
    r"临时额度|临额|临时提额|临时.{0,2}额度|temp(?:orary)?[\s-]*(?:quota|limit|credit)|extra (?:limit|credit|quota)|"
    r"quota (?:of|for)|apply (?:for )?(?:a )?quota|grant .*quota", re.I)
_REPAIR = re.compile(
    r"信用修复|征信修复|修复|逾期记录|逾期|征信|不良记录|credit[\s-]*repair|repair|overdue|credit record|credit report|"
    r"delinquen|late payment|blemish", re.I)
_LIMIT = re.compile(
    r"额度|可用|剩余|还能用|能刷|credit line|credit limit|limit|available credit|available|how much .*(?:spend|use|left)|"
    r"balance", re.I)
_POLICY = re.compile(
    r"政策|规定|规则|条款|上限|利率|年化|综合融资成本|融资成本|贴息|补贴|小红花|花呗|借呗|中介|收费|提额|"
    r"材料|资格|央行|人民银行|消费金融|征信|额度|policy|rule|clause|cap\b|capped|interest|apr\b|rates?\b|"
    r"financing cost|subsid|materials?\b|certificate|intermediar|fee\b|fees\b|scam|pboc|central bank|eligib|"
    r"qualif|requirement|prohibit|purpose|huabei|jiebei|consumer financ|credit limit|limit increase", re.I)
_GRANT = re.compile(r"approve|grant|give|批准|审批|通过|给他|给她|发放|申请", re.I)
_FOLLOW_UP = re.compile(r"^\s*(?:and |what about|how about|same for|then |那|那么|还有|再查|换成)|呢\s*[?？]?\s*$", re.I)
# A lookahead, so overlapping phrases are all seen ("… override for this request … for a fridge").
_PURPOSE_MARKER = re.compile(
    r"(?=(?:用于|用来|用作|为了|拿来|买|购买|购置|支付|交|看|\bpurpose[:：]?|\bfor(?: an?| the| my| his| her)?|\bto (?:buy|pay(?: for)?|cover))\s*"
    r"(?P<p>[^,，。.;；!?！？<>]+))", re.I)
_NOT_PURPOSE = re.compile(r"^(?:C\d+|customer|客户|him|her|them|\d)", re.I)


def _purpose(message: str) -> str | None:
    """The stated purpose. The first marked phrase that names a category wins; but if a prohibited
    purpose appears anywhere in the message ("说是买电脑，其实是拿去炒股"), the whole message is the
    purpose, so TQ2 sees it."""
    phrases = [m.group("p").strip() for m in _PURPOSE_MARKER.finditer(message)]
    phrases = [p for p in phrases if p and not _NOT_PURPOSE.match(p)]
    chosen = next((p for p in phrases if classify_purpose(p)), phrases[0] if phrases else None)
    whole = classify_purpose(message)
    if whole in PROHIBITED and classify_purpose(chosen) not in PROHIBITED:
        return message.strip()
    if chosen is None and whole is not None:
        return whole.value
    return chosen


class RulesPlanner:
    name = "rules"

    def plan(self, message: str, previous: Plan | None = None) -> Plan:
        language = detect_language(message)
        text = " ".join(segment(message)) if language == "zh" else message
        ids = extract_customer_ids(message)
        amounts = extract_amounts(message)
        dates = extract_dates(message)
        customer_id = ids[0] if ids else None
        as_of = dates[0] if dates else None

        if _TEMP_QUOTA.search(message) or (customer_id and amounts and (classify_purpose(message) or _GRANT.search(message))):
            intent = Intent.temp_quota
        elif _REPAIR.search(message):
            intent = Intent.repair_check if customer_id else Intent.policy_qa
        elif customer_id and _LIMIT.search(message):
            intent = Intent.limit_lookup
        elif customer_id and previous and previous.intent in (Intent.limit_lookup, Intent.temp_quota, Intent.repair_check) \
                and (_FOLLOW_UP.search(message) or len(message) <= 24):
            return previous.model_copy(update={"customer_id": customer_id, "language": language,
                                               "as_of": as_of or previous.as_of, "knowledge_queries": []})
        elif customer_id:
            intent = Intent.limit_lookup
        elif _POLICY.search(text) or _LIMIT.search(message):
            intent = Intent.policy_qa
        else:
            intent = Intent.out_of_scope

        if intent == Intent.temp_quota and not customer_id:
            intent = Intent.policy_qa if not amounts else Intent.temp_quota
        if not customer_id and amounts and _GRANT.search(message) and intent != Intent.repair_check:
            intent = Intent.temp_quota  # "approve 20,000 for everyone": a grant request that names no customer
        return Plan(
            intent=intent,
            customer_id=customer_id,
            amount=amounts[0] if intent == Intent.temp_quota and amounts else None,
            purpose=_purpose(message) if intent == Intent.temp_quota else None,
            as_of=as_of,
            knowledge_queries=[message] if intent == Intent.policy_qa else [],
            language=language,
        )
