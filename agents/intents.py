"""Which intent a message carries, with a confidence: signals, not a keyword per case.

Each intent is scored from families of cues (what the operator asks about, what they ask for, whether it is a
question) together with the slots the message fills (a customer, an amount, a purpose). The families are
small and general — the words an operator uses for "limit", "temporary quota", "credit repair", "policy" —
and the slots carry most of the weight: a customer with an amount and a purpose is a quota request however
it is phrased; a question about rules with no customer is a policy question. The reader blends these scores
with the embedding classifier's probabilities (agents/intent_model.py).
"""
from __future__ import annotations

import re

from agents.plan import Intent

_QUOTA = re.compile(r"临时额度|临额|临时提额|临时.{0,2}额度|临时加额|提额|加额度|额度提高|临时放额|"
                    r"temp(?:orary)?[\s-]*(?:quota|limit|credit|line|increase)|extra (?:limit|credit|quota|room)|"
                    r"\bquota\b|limit (?:bump|increase|boost)|bump (?:up|her|him|them|the)|one-off (?:limit|credit)", re.I)
_LIMIT = re.compile(r"额度|可用|剩余|还剩|余额|还能用|还能刷|能刷|能用多少|能花|总额|授信|"
                    r"credit line|credit limit|\blimit\b|available|headroom|\bleft\b|remaining|spend|balance|how much .{0,20}(?:use|have)", re.I)
# credit repair, not a repair of a thing: "truck repairs" is a purpose
_REPAIR = re.compile(r"信用修|征信修|修复|修护|逾期|征信|不良记录|黑名单|污点|洗白|"
                     r"credit[\s-]*(?:repair|fix)|repair (?:check|eligib|polic|program)|(?:record|history|report)s? (?:be )?(?:repaired|removed|cleared|wiped)|"
                     r"overdue|delinquen|late payment|blemish|credit (?:record|report|history)|\bdefault", re.I)
_POLICY = re.compile(r"政策|规定|规则|条款|制度|上限|下限|最多|最高|最长|多久|几天|几年|多少天|期限|有效期|利率|年化|融资成本|贴息|补贴|"
                     r"小红花|花呗|借呗|中介|收费|材料|资格|条件|央行|人民银行|消费金融|哪些|什么情况|是否|能不能|可不可以|怎么算|"
                     r"policy|rule|clause|\bcap\b|capped|maximum|\bmax\b|the most\b|minimum|how long|how many|interest|\bapr\b|\brates?\b|"
                     r"financing cost|subsid|materials?\b|certificate|intermediar|\bfees?\b|scam|pboc|central bank|eligib|"
                     r"qualif|requirement|prohibit|allowed|which purposes|validity|expire|in general|generally|approv|tier|"
                     r"huabei|jiebei|consumer financ|limit increase", re.I)
_ASK_FOR = re.compile(r"申请|开通|开个|开一|批准|给.{0,8}发|发[一二两三四五六七八九十\d]|给(?:他|她|客户)?(?:开|批|办|提|上|加)|批(?:一|个|准)?|办(?:理|个)?|发放|要(?:一|个)|想要|帮.{0,6}(?:申请|开|批)|"
                      r"\bapply\b|\bgrant\b|\bgive\b|\bapprove\b|\brequest\b|\bbump\b|\braise\b|\bneeds?\b|\bwants?\b|\bset up\b|"
                      r"\bcan we\b|\bcould we\b|\blet'?s\b|\bissue\b|\bopen\b", re.I)
_LOOKUP = re.compile(r"多少|几|查|看看|看下|看一下|是什么|怎样|咋样|如何|what(?:'s| is| are)|how much|show|check|look ?up|tell me|"
                     r"\bis there\b|\bdoes\b|\bdo\b|\?|？", re.I)
_OFF_TOPIC = re.compile(r"天气|笑话|股价|新闻|汇率|电话|手机号|身份证|住址|地址|密码|weather|joke|news|exchange rate|\b(?:USD|EUR|GBP|JPY|HKD)\b|"
                        r"phone number|id number|address|password|"
                        r"recipe|football|movie|poem", re.I)


def cues(words: str) -> dict[str, bool]:
    """Which cue families the words carry."""
    return {"quota": bool(_QUOTA.search(words)), "limit": bool(_LIMIT.search(words)), "repair": bool(_REPAIR.search(words)),
            "policy": bool(_POLICY.search(words)), "ask_for": bool(_ASK_FOR.search(words)),
            "lookup": bool(_LOOKUP.search(words)), "off": bool(_OFF_TOPIC.search(words))}


def score_intents(words: str, *, has_customer: bool, has_amount: bool,
                  has_purpose: bool) -> dict[str, float]:
    """Scores in [0, 1] per intent (not probabilities: several can be high in one message)."""
    c = cues(words)
    quota, limit, repair, policy = c["quota"], c["limit"], c["repair"], c["policy"]
    ask_for, lookup, off = c["ask_for"], c["lookup"], c["off"]
    s = {i.value: 0.0 for i in Intent if i.value not in ("explain", "tool")}

    # a temporary-quota request: something to grant, for someone
    s["temp_quota"] = (0.35 * quota + 0.25 * has_amount + 0.2 * has_purpose + 0.2 * ask_for
                       + 0.1 * has_customer - (0.3 if lookup and not has_amount and not ask_for else 0.0))
    # a limit lookup: about a customer's limit, asked not requested
    s["limit_lookup"] = (0.35 * limit + 0.35 * has_customer + 0.15 * lookup
                         + (0.2 if quota and lookup and not has_amount and not ask_for else 0.0)
                         - 0.2 * has_amount - 0.2 * has_amount * ask_for - 0.25 * repair)
    if has_customer and not (quota or repair or has_amount or policy or off):
        s["limit_lookup"] = max(s["limit_lookup"], 0.55)  # a bare customer: show what we know
    s["repair_check"] = 0.5 * repair + 0.4 * has_customer - 0.3 * has_amount
    # a policy question: about rules, for nobody in particular
    domain = policy or quota or repair or limit
    s["policy_qa"] = (0.35 * policy + 0.15 * (quota or repair or limit) + 0.15 * lookup
                      + 0.25 * (not has_customer) - 0.35 * has_customer - 0.2 * (has_amount and ask_for and not policy)
                      ) if domain else 0.1
    s["out_of_scope"] = 0.3 + 0.4 * off - 0.25 * (quota or repair or limit or policy) - 0.15 * has_customer
    if not has_customer:
        s["repair_check"] -= 0.3
        s["limit_lookup"] -= 0.2
    return {k: max(0.0, min(1.0, v)) for k, v in s.items()}
