"""The purpose of a temporary-quota request, read from the whole message: what the operator states, and what
the money will really be used for. The real use decides (TQ2): any sign of a prohibited use wins over a stated
allowed purpose ("说是交学费，其实拿去炒股", "put school fees as the purpose, he'll really buy stocks").

Categories and their vocabulary are the rule's own (tools/purpose.py); this module only finds the phrases.
"""
from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel

from tools.purpose import ALLOWED, PROHIBITED, Purpose, classify_purpose

# Clause boundaries: punctuation, and the words that turn from a stated purpose to a real one.
_CLAUSES = re.compile(r"[,，。;；!！?？\n]|\s+-\s+|(?=其实|实际上|实际|真实用途|真正|但是|但|不过|可是|"
                      r"\bbut\b|\bactually\b|\breally\b|\bin fact\b|\bthough\b)", re.I)
# Words that belong to the request, not to its purpose.
_REQUEST_WORDS = re.compile(
    r"临时额度|临时提额|临额|提额|额度|申请|帮忙|麻烦|请|帮|给|为|开|批|办|一个|一下|个|的|元|块|吧|呗|啊|吗|呢|了|下|客户号?|用户|"
    r"用途[是为:：]?|目的[是为:：]?|想要|需要|要|想|能不能|可以|能否|谢谢|多谢|"
    r"\b(?:temp(?:orary)?|quota|limit|credit|extra|line|apply|application|request|requesting|grant|give|approve|please|pls|plz|"
    r"for|to|a|an|the|of|customer|cust|client|acct|account|no|id|can|could|would|you|we|i|he|she|him|her|his|they|them|"
    r"need|needs|wants?|like|get|set|up|bump|raise|increase|some|thanks?|thx|hi|hello|ok|okay|quick|one|yuan|rmb|cny|"
    r"purpose|is|be|as|on|with|it|this|that|and|or|so|just|k|w|what|about|how|much|many|check|see|look|show|tell|me|my|"
    r"our|your|same|also|now|then|again|try|instead|do|does|did|will|should|at|in|by|from|of|amount|money|cash)\b", re.I)
_MARKED = re.compile(r"(?:用于|用来|用作|为了|拿来|拿去|买|购买|购置|支付|交|付|看|修|治|\bpurpose[:：]?\s*|\bfor\b|\bto (?:buy|pay(?: for)?|cover|fix|get))"
                     r"\s*(?P<p>[^,，。.;；!?！？<>]{2,})", re.I)
_NOISE = re.compile(r"^[\W\d_]*$")


class PurposeReading(BaseModel):
    stated: str | None = None                 # the operator's own words for the purpose
    category: Purpose | None = None           # the real use: what TQ2 judges (None: unclassified or absent)
    stated_category: Purpose | None = None    # the stated category, when it differs from the real use
    disguised: bool = False                   # an allowed purpose stated, a prohibited real use revealed
    evidence: str | None = None               # the words that show the real use

    @property
    def given(self) -> bool:
        return bool(self.stated or self.category)

    def for_tool(self) -> str | None:
        """The purpose text the temporary-quota tool judges: the words that show the real use."""
        if self.category in PROHIBITED:
            return self.evidence or self.category.value
        if self.disguised and self.category is None:  # the real use is unknown: the tool sees only that
            return self.evidence
        if self.stated:
            return self.stated if classify_purpose(self.stated) == self.category else (
                self.category.value if self.category else self.stated)
        return self.category.value if self.category else None


# A clause that says what the money is really for; and one that says what it is not for.
_REAL_USE = re.compile(r"^(?:其实|实际上|实际|真实用途|真正|私下|背地里|really|actually|in fact|truth is|between us|secretly)|"
                       r"\b(?:really|actually|in fact|between us)\b", re.I)
_NEGATED = re.compile(r"^(?:不是|并非|并不是|不用于|不用来|不会|绝不|not\b|it'?s not\b|isn'?t\b|never\b|no\b)", re.I)


def read_purpose(words: str) -> PurposeReading:
    """`words`: the message with ids, dates and amounts already taken out."""
    clauses = [c.strip() for c in _CLAUSES.split(words) if c and c.strip()]
    clauses = [c for c in clauses if not (_NEGATED.search(c) and not _REAL_USE.search(c))]  # "不是去赌": not the use
    cats = [classify_purpose(c) for c in clauses]  # each clause classified once
    prohibited = [(c, cat) for c, cat in zip(clauses, cats) if cat in PROHIBITED]
    allowed = [(c, cat) for c, cat in zip(clauses, cats) if cat in ALLOWED]
    real_unknown = [c for c, cat in zip(clauses, cats) if _REAL_USE.search(c) and cat is None]
    if prohibited:
        evidence, real = prohibited[0]
        if allowed:
            stated, cat = allowed[0]
            return PurposeReading(stated=_phrase(stated), category=real, stated_category=cat, disguised=True,
                                  evidence=_phrase(evidence) or evidence)
        return PurposeReading(stated=_phrase(evidence) or evidence, category=real, evidence=_phrase(evidence) or evidence)
    if allowed and real_unknown:
        # "说是买工具，实际上要…": the real use is something else, not known: never the stated category
        phrase, cat = allowed[0]
        return PurposeReading(stated=_phrase(phrase) or phrase, category=None, stated_category=cat, disguised=True,
                              evidence=real_unknown[0])
    if allowed:
        phrase, cat = allowed[0]
        return PurposeReading(stated=_phrase(phrase) or phrase, category=cat)
    # nothing the rule's vocabulary knows: the operator's words are the purpose; the encoder may recognise an
    # allowed category in them; otherwise it stays unclassified (TQ5: needs approval)
    marked = [m.group("p").strip() for m in _MARKED.finditer(words)]
    rest = [r for r in (_phrase(m) for m in marked) if r] or [r for r in (_phrase(c) for c in clauses) if r]
    if not rest:
        return PurposeReading()
    cat = semantic_category(_REQUEST_WORDS.sub(" ", words))
    return PurposeReading(stated=rest[0], category=cat)


def _phrase(text: str) -> str | None:
    """The clause with the request's own words removed; None when nothing meaningful is left."""
    left = _REQUEST_WORDS.sub(" ", text)
    left = re.sub(r"\s+", " ", left).strip(" -:：、")
    if _NOISE.match(left):
        return None
    cjk = len(re.findall(r"[\u4e00-\u9fff]", left))
    latin = re.findall(r"[A-Za-z]{3,}", left)
    if cjk < 2 and not latin:
        return None
    return text.strip(" ，,。.") if cjk or latin else None


# ------------------------------------------------------------------ purposes the vocabulary does not know
# Each category described in its own words (DOMAIN.md), in Chinese and English. A purpose nearest to an
# allowed category's description, clearly ahead of every other, is read as that category; anything near a
# prohibited use or ordinary leisure spending, or not clearly ahead, stays unclassified (TQ5: a supervisor
# decides). So the encoder can only ever turn "needs approval" into an allowed category when it is sure.
_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "work_tools": ("tools, equipment, machines or a vehicle the customer needs to do their job or run their business",
                   "工作或做生意需要的工具、设备、机器或车辆", "gear for his trade", "干活用的机器和工具"),
    "education": ("tuition, school fees, courses, training, lessons and exams", "学费、课程、培训、考试和上学的费用"),
    "medical": ("medical treatment, hospital bills, a doctor, medicine or surgery for the customer or a family member",
                "看病、住院、手术、买药等医疗费用，本人或家人"),
    "household": ("household essentials, home appliances and furniture", "家用电器、家具和日常生活必需品"),
    "leisure": ("travel, holidays, weddings, banquets, gifts, parties, entertainment and luxury goods",
                "旅游、度假、婚礼、酒席、礼物、聚会、娱乐和奢侈品"),
    "prohibited": ("gambling, betting, buying stocks, funds or crypto, a house down payment, repaying other debts, withdrawing cash",
                   "赌博、炒股、买基金或虚拟货币、买房首付、还其他贷款或信用卡、套现取现"),
}
SEMANTIC_MIN = 0.2             # cosine similarity to the best allowed description (chosen on the train split)
SEMANTIC_MARGIN = 0.06          # ahead of the best description of any other kind
SEMANTIC_PROHIBITED_GAP = 0.12  # and well clear of the prohibited uses


@lru_cache(maxsize=1)
def _description_vectors():  # noqa: ANN202
    from knowledge.embedding import embed
    names = [k for k, texts in _DESCRIPTIONS.items() for _ in texts]
    return names, embed([t for texts in _DESCRIPTIONS.values() for t in texts])


def semantic_category(phrase: str) -> Purpose | None:
    """An allowed category for a purpose the vocabulary does not know, or None when not sure."""
    from knowledge.embedding import embed
    names, vecs = _description_vectors()
    sims = vecs @ embed([phrase])[0]
    best: dict[str, float] = {}
    for name, sim in zip(names, sims):
        best[name] = max(best.get(name, -1.0), float(sim))
    ranked = sorted(best.items(), key=lambda kv: -kv[1])
    (top, s1), (_, s2) = ranked[0], ranked[1]
    if top in ("leisure", "prohibited") or s1 < SEMANTIC_MIN or s1 - s2 < SEMANTIC_MARGIN \
            or s1 - best["prohibited"] < SEMANTIC_PROHIBITED_GAP:
        return None
    return Purpose(top)
