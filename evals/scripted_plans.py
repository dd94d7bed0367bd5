"""The plans of the scripted test-double model (evals/scripted_llm.py): what a careful model would plan.

TEST DOUBLE. Nothing here is a model. The *competent* planner reads the operator's message with its own
small reading, written here and importing nothing from agents/ or tools/ (so it can disagree with the
message reader it is compared against); for a message that is in an eval suite, the expected intent,
customer and amount of that turn are used first (a lookup keyed by the exact message text; a slot two cases
disagree on is left to the reading). The replies are in evals/scripted_replies.py, the faults in
evals/scripted_llm.py.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

SUITES_DIR = Path(__file__).parent / "suites"


# ---------------------------------------------------------------- the suites' expected slots
@lru_cache(maxsize=1)
def expected_slots() -> dict[str, dict[str, Any]]:
    """{operator message: {intent, customer_id, amount}} from every suite's expectations."""
    from evals.cases import load_suite

    table: dict[str, dict[str, Any]] = {}
    conflicts: dict[str, set[str]] = {}
    for path in sorted(SUITES_DIR.glob("*.yaml")):
        for case in load_suite(str(path)):
            for turn in case.turns:
                if turn.say is None:
                    continue
                e = turn.expect
                slots: dict[str, Any] = {}
                if e.intent is not None:
                    slots["intent"] = e.intent
                calls = e.tool_calls or []
                cid = e.customer_id or next((c.args.get("customer_id") for c in calls if c.args.get("customer_id")), None)
                if cid:
                    slots["customer_id"] = str(cid)
                amount = next((c.args.get("amount") for c in calls if c.args.get("amount") is not None), None)
                if amount is not None:
                    slots["amount"] = str(amount)
                known = table.setdefault(turn.say, {})
                bad = conflicts.setdefault(turn.say, set())
                for k, v in slots.items():
                    if k in known and known[k] != v:
                        bad.add(k)
                    known.setdefault(k, v)
    return {msg: {k: v for k, v in slots.items() if k not in conflicts[msg]} for msg, slots in table.items()}


# ---------------------------------------------------------------- the competent planner's own reading
_CJK = re.compile(r"[\u4e00-\u9fff]")
_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATES = [
    (re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)"), "ymd"),
    (re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"), "ymd"),
    (re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)"), "dmy"),
    (re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), "mdy"),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\s+(\d{{4}})\b", re.I), "dmy_name"),
]
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万]{2,}")
_NUM = r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?"
_MONEY = [  # (pattern, group of the number, group of the multiplier)
    re.compile(rf"(?:¥|￥|rmb|cny)\s*{_NUM}\s*([kw千万](?![a-z]))?", re.I),
    re.compile(rf"(?<![A-Za-z0-9_.,-]){_NUM}\s*([kw千万](?![a-z]))?\s*(?:元|块|yuan\b|rmb\b|cny\b|dollars?\b|bucks\b)", re.I),
    re.compile(rf"(?<![A-Za-z0-9_.,-]){_NUM}\s*([kw千万])(?![a-z0-9])", re.I),
]
_END = r"(?![A-Za-z0-9_]|[,.]\d)"
_GROUPED = re.compile(rf"(?<![A-Za-z0-9_.,-])(\d{{1,3}}(?:,\d{{3}})+)(\.\d{{1,2}})?{_END}")
_AMOUNT_CUE = r"(?:申请|提额|临额|额度|换成|需要|要|批|开|quota|limit|amount|of|for|wants?|needs?|get|give|another|then)"
_MONEY_CUE = re.compile(r"(?:申请|提额|临额|换成|需要|要|批|开|发|amount|wants?|needs?|give|grant|another|then)\s*$", re.I)
_REQUEST_NUMBER = re.compile(rf"{_AMOUNT_CUE}\s*{_NUM}{_END}", re.I)
_BARE_NUMBER = re.compile(rf"(?<![A-Za-z0-9_.,-])(\d{{3,7}})(\.\d{{1,2}})?{_END}(?!\s*(?:天|日|年|月|号|%|days?|years?|months?))", re.I)
_ID_CUE = re.compile(r"(?:客户号?|用户|账户|customer|cust\.?|client|acct|account|id|no\.?|给|帮|为)\s*[:：#]?\s*$", re.I)
_APPROVAL_CUE = re.compile(r"(?:approve|approval|reject|批准|审批|驳回)\s*(?:id|编号)?\s*[:：#]?\s*$", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.\-]*[A-Za-z0-9])?")

_CUES = {
    "repair_check": re.compile(r"修复|逾期|征信|不良记录|\brepair(?:ed)?\b|overdue|delinquen|credit record|blemish", re.I),
    "temp_quota": re.compile(r"临时额度|临额|临时提额|提额|临时|申请|temp|quota|bump|extra credit|raise|grant|apply", re.I),
    "limit_lookup": re.compile(r"(?<!临时)(?<!临)额度|可用|能用|多少|剩|还能|limit|avail|credit line|headroom|room|left|spend|how much",
                               re.I),
    "domain": re.compile(r"额度|临额|信用|修复|逾期|贷款|利率|征信|花呗|借呗|补贴|融资|用途|政策|中介|审批|批准|quota|credit|loan|"
                         r"repair|overdue|interest|subsid|financ|huabei|jiebei|purpose|policy|limit|rule|tier|approv", re.I),
    "question": re.compile(r"[?？]|吗|哪|什么|怎么|如何|多少|多久|多长|是否|能否|会不会|能不能|可不可以|是不是|\b(?:which|what|when|how|does|do|is|are|can|may)\b",
                           re.I),
    "pronoun": re.compile(r"她|他|该客户|这个客户|这位|\b(?:she|he|her|his|him|they|them|their)\b", re.I),
    "explain": re.compile(r"^\W*(为什么|为啥|怎么会|原因|why|how come|reason)", re.I),
    "policy_qa": re.compile(r"政策|规定|规则|条款|多久|多少|多长|上限|利率|费|中介|是否|能不能|可以吗|policy|rule|clause|"
                            r"how long|how much|maximum|\bmax\b|\bcap\b|rate|fee|agent|allowed", re.I),
}
_PURPOSE = re.compile(r"(?:用途[是为填写:：]*|用于|用来|用作|为了|拿来|拿去|说是|买|购买|交|付|看病|治|修|装修|\bpurpose\s*(?:is|:|：)?|\bfor\b|\bto (?:buy|pay|cover|fix|get))"
                      , re.I)


def language(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def _cn_value(s: str) -> int | None:
    """四千 4000, 一万五 15000, 两千零八 2008, 四千五 4500, 十二 12; None for anything irregular."""
    total, section, digit, last_unit, zero = 0, 0, None, 1, False
    for ch in s:
        if ch in "零〇":
            zero = True
        elif ch in _CN_DIGIT:
            if digit is not None:
                return None
            digit = _CN_DIGIT[ch]
        else:
            unit = _CN_UNIT[ch]
            if unit == 10000:
                total += (section + (digit or 0)) * 10000
                section = 0
            else:
                section += (1 if digit is None else digit) * unit
            digit, last_unit, zero = None, unit, False
    if digit is not None:  # 一万五 / 四千五: a trailing digit counts in the unit below the last one, unless 零
        section += digit if zero or last_unit == 1 else digit * (last_unit // 10)
    return total + section or None


def read_dates(text: str) -> list[dt.date]:
    out: list[dt.date] = []
    for pattern, kind in _DATES:
        for m in pattern.finditer(text):
            g = m.groups()
            try:
                if kind == "ymd":
                    d = dt.date(int(g[0]), int(g[1]), int(g[2]))
                elif kind == "dmy":
                    if int(g[0]) <= 12:
                        continue  # 03/04/2026 reads two ways: no date rather than a guess
                    d = dt.date(int(g[2]), int(g[1]), int(g[0]))
                elif kind == "mdy":
                    d = dt.date(int(g[2]), _MONTHS[g[0][:3].lower()], int(g[1]))
                else:
                    d = dt.date(int(g[2]), _MONTHS[g[1][:3].lower()], int(g[0]))
            except ValueError:
                continue
            if d not in out:
                out.append(d)
    return out


def _date_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for pattern, _ in _DATES for m in pattern.finditer(text)]


def read_amounts(text: str, blocked: list[tuple[int, int]] | None = None) -> list[Decimal]:
    """Amounts of money the message states unambiguously; a negative or malformed figure is not one.
    `blocked`: spans already read as something else (customer ids)."""
    return [v for _, _, v in amount_spans(text, blocked)]


def amount_spans(text: str, blocked: list[tuple[int, int]] | None = None) -> list[tuple[int, int, Decimal]]:
    blocked = _date_spans(text) + list(blocked or [])
    found: list[tuple[int, int, Decimal]] = []

    def add(start: int, end: int, value: Decimal) -> None:
        if any(s <= start < e or s < end <= e for s, e in blocked):
            return
        if text[max(0, start - 1):start] in ("-", "负", "−") or text[max(0, start - 2):start] in ("-¥", "负¥"):
            return
        blocked.append((start, end))
        if value > 0:
            found.append((start, end, value))

    for pattern in _MONEY:
        for m in pattern.finditer(text):
            try:
                value = Decimal(m.group(1).replace(",", "") + (m.group(2) or ""))
            except InvalidOperation:
                continue
            unit = (m.group(3) or "").lower()
            value *= 1000 if unit in ("k", "千") else 10000 if unit in ("w", "万") else 1
            add(m.start(), m.end(), value)
    for m in _CN_NUMBER.finditer(text):
        value = _cn_value(m.group(0))
        if value and value >= 100:
            add(m.start(), m.end(), Decimal(value))
    for m in _GROUPED.finditer(text):  # 5,700: grouped digits are money
        add(m.start(), m.end(), Decimal(m.group(1).replace(",", "") + (m.group(2) or "")))
    if not found:
        for m in _REQUEST_NUMBER.finditer(text):
            value = Decimal(m.group(1).replace(",", "") + (m.group(2) or ""))
            if 100 <= value < 1_000_000:
                add(m.start(1), m.end(), value)
    if not found:  # one bare figure left in a request ('…, she'll really buy stocks with it. 3000')
        bare = [m for m in _BARE_NUMBER.finditer(text) if not any(s <= m.start() < e for s, e in blocked)]
        if len(bare) == 1 and 100 <= (value := Decimal(bare[0].group(1) + (bare[0].group(2) or ""))) < 1_000_000:
            add(bare[0].start(), bare[0].end(), value)
    return sorted(found)


def read_customer_ids(text: str) -> list[tuple[str, int, int]]:
    """Tokens an operator would write as a customer id, with their spans: letters with digits (C1001,
    cus-004417, m_20931), or a number of five or more digits that is not marked as money ('77015申请…',
    'customer 4402198812'). Money, dates and rule ids are not ids."""
    blocked = _date_spans(text)
    ids: list[tuple[str, int, int]] = []
    for m in _TOKEN.finditer(text):
        tok, start = m.group(0), m.start()
        if any(s <= start < e for s, e in blocked) or "*" in text[max(0, start - 1):m.end() + 1]:
            continue
        if _APPROVAL_CUE.search(text[max(0, start - 12):start]):
            continue  # 'approve AP-…', '批准AP-…': an approval, not a customer
        if not any(ch.isdigit() for ch in tok) or re.fullmatch(r"(?:TQ|R)\d|\d+(?:\.\d+)?[kKwW]|\d+(?:st|nd|rd|th)", tok):
            continue
        after = text[m.end():m.end() + 8].lstrip()
        if re.match(r"[元块千万]|yuan|rmb|dollar|k\b|w\b", after, re.I) or re.search(r"(?:¥|￥|rmb|cny)\s*$", text[max(0, start - 5):start], re.I):
            continue
        if not re.search(r"[A-Za-z]", tok):
            cued = _ID_CUE.search(text[max(0, start - 12):start])
            money = _MONEY_CUE.search(text[max(0, start - 10):start])
            if not tok.isdigit() or (len(tok) < 5 and not cued) or (money and not cued and len(tok) < 9):
                continue
        if tok not in [i for i, _, _ in ids]:
            ids.append((tok, start, m.end()))
    return ids


def _intent(text: str, has_customer: bool, has_amount: bool) -> str | None:
    """The route the message asks for; None when it names none (a follow-up: 'and for 2,500?', '那C1020呢')."""
    cue = {k: bool(p.search(text)) for k, p in _CUES.items()}
    if cue["explain"]:
        return "explain"
    if has_amount and cue["temp_quota"]:
        return "temp_quota"
    if has_customer:
        if cue["repair_check"]:
            return "repair_check"
        if has_amount:
            return "temp_quota"
        return next((i for i in ("limit_lookup", "temp_quota") if cue[i]), None)
    if cue["domain"] and cue["question"]:
        return "policy_qa"
    if has_amount:
        return "temp_quota"
    return next((i for i in ("temp_quota", "repair_check", "limit_lookup") if cue[i]), None)


_REAL_USE = re.compile(r"(?:其实|实际上|实际|真实用途|真正|私下|really|actually|in fact|truth is|secretly)\s*", re.I)
_LEAD = re.compile(r"^(?:[\s,，:：;；.、-]+|(?:it|is|it'?s|are|for|to|as|the purpose|purpose|用途|是|就是|要|想|拿去|拿来|用于|用来|用作|去|说是)\b\s*"
                   r"|(?:是|就是|要|想|拿去|拿来|用于|用来|用作|去|说是))+", re.I)
_REQUEST = re.compile(r"please|request|temporary quota|temp quota|quota|临时额度|临额|申请|给|帮|开|要|元|块|yuan", re.I)


def _clean(phrase: str) -> str | None:
    phrase = re.split(r"[。.!！?？]", _LEAD.sub("", phrase), maxsplit=1)[0]
    phrase = re.sub(r"\s+", " ", phrase).strip(" ,，;；:：")
    return phrase[:60] if re.search(r"[A-Za-z\u4e00-\u9fff]{2,}", phrase) else None


def read_purpose(text: str, spans: list[tuple[int, int]]) -> str | None:
    """What the money is for, in the operator's words, with the ids and amounts taken out; when the message
    says what the money is really for ('说是买电脑，其实拿去炒股', 'but really it is to buy stocks'), that."""
    for a, b in spans:
        text = text[:a] + " " * (b - a) + text[b:]  # same length: the spans keep their places
    real = list(_REAL_USE.finditer(text))
    stated = _PURPOSE.search(text)
    if real and stated and stated.start() < real[-1].start() and (phrase := _clean(text[real[-1].end():])):
        return phrase  # a stated purpose, then the real use: the real use
    last = max((b for _, b in spans), default=0)
    found = [(m.start(), phrase) for m in _PURPOSE.finditer(text) if (phrase := _clean(text[m.start():]))
             and not _REQUEST.fullmatch(phrase.split()[0] if " " in phrase else phrase)]
    after = [p for start, p in found if start >= last]  # the words after the request are its purpose
    return (after or [p for _, p in found] or [None])[0]


TOOL_INTENTS = ("limit_lookup", "temp_quota", "repair_check")


def own_reading(message: str, history: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """This module's reading of the message against the conversation (the operator's earlier messages)."""
    history = history or []
    text = unicodedata.normalize("NFKC", message)
    found = read_customer_ids(text)
    ids = [tok for tok, _, _ in found]
    money = amount_spans(text, [(a, b) for _, a, b in found])
    amounts = [v for _, _, v in money]
    dates = read_dates(text)
    customer = ids[0] if len(ids) == 1 else None
    amount = amounts[0] if len(set(amounts)) == 1 else None
    purpose = read_purpose(text, [(a, b) for _, a, b in found] + [(a, b) for a, b, _ in money])
    intent = _intent(text, bool(ids), amount is not None)
    operator = [(r, t) for r, t in history if r.lower().startswith(("operator", "user"))]
    previous = own_reading(operator[-1][1], operator[:-1]) if operator else None
    if previous and previous["customer_id"] and not ids and _CUES["pronoun"].search(text):
        intent = _intent(text, True, amount is not None)  # 'her limit?', '她能做信用修复吗': the customer in focus
    focus = previous["focus"] if previous else None  # the last tool route of the conversation
    if focus in TOOL_INTENTS and len(ids) <= 1 and intent != "explain":
        # a follow-up: the customer in focus, the route and the request so far, unless the message changes them
        if intent is None or (intent == "policy_qa" and not ids):
            intent = focus
        if intent in TOOL_INTENTS and customer is None and not ids:
            customer = previous["customer_id"]
        if intent == "temp_quota" and focus == "temp_quota":
            amount = amount if amount is not None else previous["amount"]
            purpose = purpose or previous["purpose"]
    elif previous and intent in ("explain", None) and customer is None:
        customer = previous["customer_id"]
    keep = previous if intent == "explain" and previous else None  # 'why?' keeps the request in focus
    return {"intent": intent or "out_of_scope", "customer_id": customer,
            "amount": keep["amount"] if keep else amount, "purpose": keep["purpose"] if keep else purpose,
            "focus": intent if intent in TOOL_INTENTS else focus, "dates": dates, "text": text}


def competent_plan(message: str, history: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The plan a careful model gives: the suites' expected slots when the message is one of theirs, the rest
    from this module's own reading; a follow-up takes its customer and request from the conversation."""
    r = own_reading(message, history)
    intent, customer, amount = r["intent"], r["customer_id"], r["amount"]
    known = expected_slots().get(message, {})
    intent = known.get("intent", intent)
    if "customer_id" in known:
        customer = known["customer_id"]
    if "amount" in known:
        amount = Decimal(known["amount"])
    dates = r["dates"]
    as_of = dates[0] if len(dates) == 1 and intent in ("limit_lookup", "repair_check", "policy_qa") else None
    return {
        "intent": intent,
        "customer_id": customer if intent in TOOL_INTENTS or intent == "explain" else None,
        "amount": _plain(amount) if intent == "temp_quota" and amount is not None else None,
        "purpose": r["purpose"] if intent == "temp_quota" else None,
        "as_of": as_of.isoformat() if as_of else None,
        "knowledge_queries": [re.sub(r"\s+", " ", message).strip()] if intent == "policy_qa" else [],
        "language": language(r["text"]),
    }


def _plain(d: Decimal) -> int | str:
    """Whole yuan as a JSON integer, anything else as a decimal string: money is never a float."""
    return int(d) if d == d.to_integral_value() else str(d)
