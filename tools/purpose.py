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
    Purpose.gambling: ("赌", "博彩", "彩票", "下注", "gambl", "casino", "betting", "bet on", "lottery", "poker"),
    Purpose.investment: ("炒股", "股票", "基金", "理财", "证券", "期货", "虚拟货币", "加密货币", "比特币", "币圈", "投资",
                         "stock", "shares", "securities", "fund", "crypto", "bitcoin", "invest", "wealth product",
                         "trading", "forex", "ETF", "etfs"),
    Purpose.real_estate: ("首付", "购房", "买房", "房款", "down payment", "house purchase", "buy a house",
                          "buy an apartment", "real estate", "property purchase",
                          "flat deposit", "house deposit", "deposit on a flat", "deposit on a house", "买楼"),
    Purpose.debt_repayment: ("还债", "还款", "还贷", "还信用卡", "还网贷", "借新还旧", "repay", "pay off", "pay back", "paying back", "paying off", "debt", "还房贷", "还车贷",
                             "还借呗", "还花呗", "loan repayment", "payday loan",
                             "refinanc", "credit card bill"),
    Purpose.cash_out: ("套现", "提现", "取现", "cash out", "cash-out", "cash withdrawal", "withdraw cash",
                         "into cash", "convert to cash", "变现", "换成现金"),
    Purpose.work_tools: ("电动车", "电瓶车", "外卖", "骑手", "送餐", "快递", "工具", "设备", "工作用", "干活", "电脑", "相机",
                         "三轮车", "货车", "网约车", "缝纫机", "e-bike", "ebike", "electric bike", "scooter",
                         "delivery", "courier", "rider", "tools", "equipment", "laptop for work", "for work",
                         "for my job", "work vehicle", "van", "camera"),
    Purpose.education: ("学费", "培训", "课程", "考证", "教育", "上学", "留学", "书本", "tuition", "course",
                        "training", "education", "school", "exam fee", "textbook", "certificate"),
    Purpose.medical: ("医疗", "看病", "手术", "住院", "医药", "牙", "治疗", "体检", "medical", "hospital", "surgery",
                      "doctor", "dental", "dentist", "medicine", "treatment", "clinic"),
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
    for cat in _ORDER:
        if patterns[cat].search(t):
            return cat
    return None
