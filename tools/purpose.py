"""TQ2 purpose classification: a category name, or free text in Chinese or English.

Prohibited categories are matched before allowed ones, so "借钱炒股买电脑" is investment,
not work_tools. Text that matches nothing is unclassified (None): it needs approval.
"""
from __future__ import annotations

import re
from enum import Enum


class Purpose(str, Enum):
    work_tools = "work_tools"
    education = "education"
    medical = "medical"
    household = "household"
    gambling = "gambling"
    investment = "investment"
    real_estate = "real_estate"
    debt_repayment = "debt_repayment"
    cash_out = "cash_out"


ALLOWED = frozenset({Purpose.work_tools, Purpose.education, Purpose.medical, Purpose.household})
PROHIBITED = frozenset(set(Purpose) - ALLOWED)

# Keywords per category; English entries are matched as whole words (case-insensitive).
_KEYWORDS: dict[Purpose, tuple[str, ...]] = {
    Purpose.gambling: ("赌", "博彩", "彩票", "下注", "麻将", "押注", "mahjong", "澳门玩", "玩两把", "赌场", "gambl", "casino", "betting", "bet on", "lottery", "poker"),
    Purpose.investment: ("炒股", "股票", "基金", "理财", "证券", "期货", "虚拟货币", "加密货币", "比特币", "币圈", "投资",
                         "stock", "shares", "securities", "fund", "crypto", "bitcoin", "invest", "wealth product",
                         "trading", "forex", "ETF", "etfs", "wealth management", "options trading", "trade options",
                         "trade futures", "trade stocks", "炒币", "炒外汇", "炒期货", "炒黄金"),
    Purpose.real_estate: ("首付", "购房", "买房", "房款", "down payment", "house purchase", "buy a house",
                          "buy an apartment", "real estate", "property purchase",
                          "flat deposit", "house deposit", "deposit on a flat", "deposit on a house", "买楼", "房子定金",
                          "新房定金", "购房定金", "买房定金"),
    Purpose.debt_repayment: ("还债", "还款", "还贷", "还信用卡", "还网贷", "借新还旧", "repay", "pay off", "pay back", "paying back", "paying off", "debt", "还房贷", "还车贷",
                             "还借呗", "还花呗", "loan repayment", "payday loan", "还钱", "还账", "平台的钱",
                             "refinanc", "credit card bill"),
    Purpose.cash_out: ("套现", "提现", "取现", "cash out", "cash-out", "cash withdrawal", "withdraw cash",
                         "into cash", "convert to cash", "as cash", "in cash", "变现", "换成现金"),
    Purpose.work_tools: ("电动车", "电瓶车", "外卖", "骑手", "送餐", "快递", "工具", "设备", "工作用", "干活", "电脑", "相机",
                         "三轮车", "货车", "网约车", "缝纫机", "e-bike", "ebike", "electric bike", "scooter",
                         "delivery", "courier", "rider", "tools", "equipment", "laptop for work", "for work",
                         "for my job", "work vehicle", "van", "camera"),
    Purpose.education: ("学费", "培训", "课程", "考证", "教育", "上学", "留学", "书本", "tuition", "course",
                        "training", "education", "school", "exam fee", "textbook", "certificate"),
    Purpose.medical: ("医疗", "看病", "手术", "住院", "医药", "牙", "治疗", "体检", "medical", "hospital", "surgery",
                      "doctor", "dental", "dentist", "medicine", "treatment", "clinic", "chemo", "therapy", "physio",
                      "rehab", "prescription", "wheelchair", "hearing aid", "braces", "化疗", "买药", "药费", "康复"),
    Purpose.household: ("家电", "冰箱", "洗衣机", "空调", "家具", "热水器", "床", "日用品", "装修", "household",
                        "appliance", "fridge", "refrigerator", "washing machine", "air conditioner", "furniture",
                        "water heater", "bed", "home essentials"),
}

_PARTICLE = re.compile(r"^(\w+) (out|off|up|down|back|in)$")


def _english(word: str) -> str:
    """A whole-word pattern; a phrasal verb may have its object in the middle ("cash it out", "pay the card off")."""
    if m := _PARTICLE.match(word):
        return r"\b" + m.group(1) + r"(?:\s+(?:it|them|this|that|the \w+|her \w+|his \w+))?\s+" + m.group(2) + r"\b"
    return r"\b" + re.escape(word)


_PATTERNS: list[tuple[Purpose, re.Pattern[str]]] = []
for _cat, _words in _KEYWORDS.items():
    parts = [re.escape(w) if not w.isascii() else _english(w) for w in _words]
    _PATTERNS.append((_cat, re.compile("|".join(parts), re.IGNORECASE)))
_ORDER = [p for p in _KEYWORDS if p in PROHIBITED] + [p for p in _KEYWORDS if p in ALLOWED]


# The use named by whose it is for: "for her business", "for his design work", "店里用", "工地上用" is the customer's
# work (work_tools); "for her flat", "家里用" is the household. Checked after every keyword, so a prohibited use or a
# named category always wins.
_USE_FOR = [
    (Purpose.gambling, re.compile(r"\bplay(?:ing)?\b[^,.;]{0,30}\bfor (?:money|cash|stakes)\b|赌钱|玩钱", re.I)),
    (Purpose.work_tools, re.compile(
        r"\bfor (?:his|her|their|my|the) (?:own |new |small )?(?:\w+ )?(?:work|job|jobs|business|shop|store|stall|studio|salon|"
        r"workshop|restaurant|garage|trade|practice|farm|boat|truck|van|cab|taxi|clients?|customers?)\b|"
        r"\b(?:he|she|they)(?:'s| is| are) an? [a-z]+(?:er|or|ist|ian|man|woman|smith|wright|cook|chef|driver|rider|nurse|tailor)\b|"
        r"(?:工作|干活|做生意|营业|开店|店里|铺子|工地|接单|跑车|跑单|拉货|出摊|摆摊|作坊|诊所|工作室)(?:上|里)?(?:要|得|需要)?用|"
        r"(?:他|她)(?:是|在)(?:做|当|开)?[\u4e00-\u9fff]{1,4}(?:师傅|师|工|员|司机|骑手)", re.I)),
    (Purpose.household, re.compile(
        r"\bfor (?:his|her|their|my|the) (?:own |new )?(?:flat|home|house|apartment|kitchen|family)\b|\bat home\b|家里用|家用|自己家", re.I)),
]


def classify_purpose(text: str | None) -> Purpose | None:
    """Category for a purpose given as a category name or free text; None if unclassifiable."""
    if not text or not text.strip():
        return None
    t = text.strip()
    try:
        return Purpose(t.lower())
    except ValueError:
        pass
    patterns = dict(_PATTERNS)
    for group in (PROHIBITED, ALLOWED):  # prohibited first, by keyword or by the use named
        for cat in _ORDER:
            if cat in group and patterns[cat].search(t):
                return cat
        for cat, use in _USE_FOR:
            if cat in group and use.search(t):
                return cat
    return None
