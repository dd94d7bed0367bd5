"""The labelled operator utterances (evals/utterances) and the third lender's ledger they refer to.

The data is checked, not the reader: every line has the documented schema, its labels agree with
one another, every customer it names is in the lender3 fixture, and the splits share no text.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
import unicodedata
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.ledger import parse_ledger

ROOT = Path(__file__).resolve().parents[1]
UTTERANCES = ROOT / "evals" / "utterances"
LEDGER_FILE = ROOT / "evals" / "fixtures" / "lender3_ledger.json"
SPLITS = {"train": 400, "dev": 140, "test": 160}

# The test split is final: written before the reader changed, never edited afterwards.
TEST_SPLIT_SHA256 = "a3eff0fc6f07098ccf7b38e8ac6a989826f7c47e0c5f205e684897868d2e0eb3"

Intent = Literal["limit_lookup", "temp_quota", "repair_check", "policy_qa", "out_of_scope"]
Purpose = Literal["work_tools", "education", "medical", "household", "gambling", "investment",
                  "real_estate", "debt_repayment", "cash_out", "unclassified"]

# Tags written by hand (what the message looks like) and tags that follow from the labels.
SURFACE_TAGS = {
    "abbrev", "typo", "mixed_lang", "colloquial", "indirect", "fullwidth", "traditional", "id_case",
    "id_labeled", "account_number", "polite",
    "amt_plain", "amt_unit", "amt_k", "amt_qian", "amt_w", "amt_cn", "amt_currency", "amt_grouped",
    "amt_words", "amt_decimal", "amt_cn_grouping",
    "date_iso", "date_cn", "date_ymd_slash", "date_dmy", "date_mdy", "date_month_name", "date_dot",
    "date_compact", "as_at", "past_period", "date_non_asof",
    "policy_count", "distractor_number", "negation", "purpose_indirect", "pii_request", "injection",
    "unsupported_action", "chitchat",
}
DERIVED_TAGS = {"unknown_id", "long_digit_id", "two_customers", "no_customer", "multi_intent",
                "missing_amount", "missing_purpose", "disguised_purpose"}

# The lender's own customer id formats (none is the sample's C + digits).
ID_FORMATS = {
    "nine digits": r"\d{9}",
    "five digits": r"\d{5}",
    "QY-year-sequence": r"QY-\d{4}-\d{4}",
    "cu_ + hex": r"cu_[0-9a-f]{6}",
    "ML digits-letter": r"ML\d{4}-[A-Z]",
    "hz. + digits": r"hz\.\d{5}",
    "T yy X nnnn": r"T\d{2}X\d{4}",
}

HAN = re.compile(r"[\u4e00-\u9fff]")


def fold(text: str) -> str:
    """Full-width forms to ASCII, any case: how an id may be written in a message."""
    return unicodedata.normalize("NFKC", text).casefold()


class Utterance(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(pattern=r"^(train|dev|test)-\d{4}$")
    text: str = Field(min_length=1)
    lang: Literal["zh", "en"]
    intent: Intent
    also: list[Intent]
    customer_ids: list[str]
    amount: str | None
    amount_problem: Literal["negative", "zero", "malformed", "ambiguous"] | None
    purpose_category: Purpose | None
    stated_purpose_category: Purpose | None
    as_of: str | None
    date_problem: Literal["invalid", "ambiguous"] | None
    tags: list[str]

    @field_validator("amount")
    @classmethod
    def _decimal_string(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.fullmatch(r"-?\d+(\.\d+)?", v):
            raise ValueError(f"amount {v!r} is not a plain decimal string")
        try:
            Decimal(v)
        except InvalidOperation:
            raise ValueError(f"amount {v!r} is not a decimal") from None
        return v

    @field_validator("as_of")
    @classmethod
    def _iso_date(cls, v: str | None) -> str | None:
        if v is not None:
            dt.date.fromisoformat(v)
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                raise ValueError(f"as_of {v!r} is not YYYY-MM-DD")
        return v

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, v: list[str]) -> list[str]:
        unknown = set(v) - SURFACE_TAGS - DERIVED_TAGS
        if unknown:
            raise ValueError(f"unknown tags {sorted(unknown)}")
        if len(v) != len(set(v)):
            raise ValueError("repeated tag")
        return v

    @model_validator(mode="after")
    def _labels_agree(self) -> "Utterance":
        if self.intent in self.also or len(self.also) != len(set(self.also)):
            raise ValueError("also repeats an intent")
        asks_quota = "temp_quota" in [self.intent, *self.also]
        if (self.amount is not None or self.amount_problem) and not asks_quota:
            raise ValueError("an amount is labelled only for a temporary-quota request")
        if self.amount_problem in ("malformed", "ambiguous") and self.amount is not None:
            raise ValueError(f"{self.amount_problem} amount must be null")
        if self.amount_problem == "negative" and not (self.amount and Decimal(self.amount) < 0):
            raise ValueError("negative amount_problem needs a negative amount")
        if self.amount_problem == "zero" and not (self.amount and Decimal(self.amount) == 0):
            raise ValueError("zero amount_problem needs amount 0")
        if self.amount_problem is None and self.amount is not None and Decimal(self.amount) <= 0:
            raise ValueError("a non-positive amount needs an amount_problem")
        if self.purpose_category and self.intent not in ("temp_quota", "policy_qa") and not asks_quota:
            raise ValueError("a purpose is labelled only for a quota request or a policy question")
        if self.stated_purpose_category and (
                self.purpose_category is None or self.stated_purpose_category == self.purpose_category):
            raise ValueError("stated_purpose_category must differ from a labelled real purpose")
        if self.date_problem and self.as_of is not None:
            raise ValueError("an invalid or ambiguous date has no as_of")
        if self.lang == "zh" and not HAN.search(self.text):
            raise ValueError("lang zh without Chinese characters")
        if self.lang == "en" and HAN.search(self.text) and "mixed_lang" not in self.tags:
            raise ValueError("an English line with Chinese words must be tagged mixed_lang")
        tags = set(self.tags)
        expected = {
            "multi_intent": bool(self.also),
            "disguised_purpose": self.stated_purpose_category is not None,
            "two_customers": len(self.customer_ids) >= 2,
            "missing_amount": asks_quota and self.amount is None and self.amount_problem is None,
            "missing_purpose": asks_quota and self.purpose_category is None,
            "no_customer": not self.customer_ids and self.intent in ("limit_lookup", "temp_quota", "repair_check"),
        }
        for tag, should in expected.items():
            if (tag in tags) != should:
                raise ValueError(f"tag {tag} {'missing' if should else 'not expected'}")
        return self


@pytest.fixture(scope="module")
def ledger_ids() -> set[str]:
    ledger = parse_ledger(LEDGER_FILE.read_bytes(), source=str(LEDGER_FILE))
    return {c.customer_id for c in ledger.customers}


def _raw(split: str) -> list[dict]:
    lines = (UTTERANCES / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def splits() -> dict[str, list[Utterance]]:
    out = {}
    for split in SPLITS:
        rows = []
        for n, raw in enumerate(_raw(split), 1):
            try:
                rows.append(Utterance.model_validate(raw))
            except ValidationError as e:
                pytest.fail(f"{split}.jsonl line {n} ({raw.get('id')}): {e}")
        out[split] = rows
    return out


# ------------------------------------------------------------------ the ledger

def test_lender3_ledger_loads_with_forty_customers_in_six_or_more_formats(ledger_ids):
    assert len(ledger_ids) == 40
    formats = Counter()
    for cid in ledger_ids:
        matches = [name for name, rx in ID_FORMATS.items() if re.fullmatch(rx, cid)]
        assert len(matches) == 1, f"{cid}: matches {matches}"
        formats[matches[0]] += 1
        assert not re.fullmatch(r"[Cc]\d+", cid), f"{cid} is shaped like the sample's ids"
    assert len(formats) >= 6, formats
    assert min(formats.values()) >= 5, formats


def test_ids_stay_distinct_when_case_and_width_are_ignored(ledger_ids):
    assert len({fold(i) for i in ledger_ids}) == len(ledger_ids)


# ------------------------------------------------------------------ the schema

def test_every_line_validates(splits):
    for split, minimum in SPLITS.items():
        assert len(splits[split]) >= minimum, f"{split}: {len(splits[split])} lines"
    assert sum(len(rows) for rows in splits.values()) >= 700


def test_schema_model_rejects_inconsistent_labels():
    good = {"id": "dev-9999", "text": "给 40952 申请临额 3000 买工具", "lang": "zh", "intent": "temp_quota",
            "also": [], "customer_ids": ["40952"], "amount": "3000", "amount_problem": None,
            "purpose_category": "work_tools", "stated_purpose_category": None, "as_of": None,
            "date_problem": None, "tags": ["amt_plain"]}
    Utterance.model_validate(good)
    bad_cases = [
        {"amount": 3000},                                   # money as a number, not a decimal string
        {"amount": "4,000"},                                # not a plain decimal string
        {"amount": "-4000"},                                # negative without amount_problem
        {"intent": "policy_qa", "purpose_category": None},  # amount on a policy question
        {"as_of": "2026-02-30"},                            # not a date
        {"as_of": "2026-01-15", "date_problem": "ambiguous"},
        {"stated_purpose_category": "work_tools"},          # same as the real purpose
        {"lang": "en"},                                     # Chinese text, no mixed_lang tag
        {"tags": ["amt_plain", "made_up"]},
        {"also": ["limit_lookup"]},                         # multi_intent tag missing
        {"extra_field": 1},
    ]
    for change in bad_cases:
        with pytest.raises(ValidationError):
            Utterance.model_validate({**good, **change})


def test_ids_are_unique_and_carry_their_split(splits):
    seen = set()
    for split, rows in splits.items():
        for r in rows:
            assert r.id.startswith(split + "-"), r.id
            assert r.id not in seen, r.id
            seen.add(r.id)


# ------------------------------------------------------------------ customers

def test_every_named_customer_is_in_lender3_or_labelled_unknown(splits, ledger_ids):
    folded = {fold(i) for i in ledger_ids}
    for rows in splits.values():
        for r in rows:
            unknown = [i for i in r.customer_ids if i not in ledger_ids]
            for cid in r.customer_ids:
                if cid in ledger_ids:
                    assert fold(cid) in fold(r.text), f"{r.id}: {cid} not written in the text"
                else:
                    assert cid in r.text, f"{r.id}: unknown token {cid!r} not written as in the text"
                    assert fold(cid) not in folded, f"{r.id}: {cid!r} is a ledger id in another case"
                assert not re.fullmatch(r"C\d+", cid), f"{r.id}: sample-style id {cid}"
            assert ("unknown_id" in r.tags) == bool(unknown), r.id
            assert len(r.customer_ids) == len(set(r.customer_ids)), r.id


def test_every_id_format_and_most_customers_appear_in_every_split(splits, ledger_ids):
    for split, rows in splits.items():
        named = {i for r in rows for i in r.customer_ids if i in ledger_ids}
        formats = {name for i in named for name, rx in ID_FORMATS.items() if re.fullmatch(rx, i)}
        assert formats == set(ID_FORMATS), f"{split}: {set(ID_FORMATS) - formats}"
        assert len(named) >= 35, f"{split}: only {len(named)} customers named"


# ------------------------------------------------------------------ balance

def test_intents_and_languages_are_balanced_in_every_split(splits):
    for split, rows in splits.items():
        intents = Counter(r.intent for r in rows)
        for intent in Intent.__args__:
            assert intents[intent] >= 0.10 * len(rows), f"{split}: {intent} {intents[intent]}"
            by_lang = Counter(r.lang for r in rows if r.intent == intent)
            assert by_lang["zh"] >= 10 and by_lang["en"] >= 10, f"{split}: {intent} {by_lang}"
        share_zh = sum(r.lang == "zh" for r in rows) / len(rows)
        assert 0.40 <= share_zh <= 0.60, f"{split}: zh share {share_zh:.2f}"


def test_hard_cases_are_present_in_every_split(splits):
    for split, rows in splits.items():
        tags = Counter(t for r in rows for t in r.tags)
        for tag in ("disguised_purpose", "multi_intent", "unknown_id", "two_customers", "long_digit_id",
                    "id_case", "fullwidth", "id_labeled", "mixed_lang", "typo", "abbrev", "colloquial",
                    "policy_count", "distractor_number", "pii_request", "negation", "purpose_indirect"):
            assert tags[tag] >= 1, f"{split}: no {tag}"
        assert {r.amount_problem for r in rows} >= {"negative", "zero", "malformed", "ambiguous"}, split
        assert {r.date_problem for r in rows} >= {"invalid", "ambiguous"}, split
        purposes = {r.purpose_category for r in rows}
        assert purposes >= set(Purpose.__args__), f"{split}: {set(Purpose.__args__) - purposes}"
        disguised = [r for r in rows if r.stated_purpose_category]
        prohibited = {"gambling", "investment", "real_estate", "debt_repayment", "cash_out"}
        assert disguised and all(r.purpose_category in prohibited for r in disguised), split


# ------------------------------------------------------------------ no leakage between splits

def _skeleton(r: Utterance) -> str:
    text = fold(r.text)
    for cid in sorted(r.customer_ids, key=len, reverse=True):
        text = text.replace(fold(cid), " # ")
    text = re.sub(r"\d+", "0", text)
    return re.sub(r"\s+", " ", text).strip()


def _grams(s: str) -> set[str]:
    return {s[i:i + 3] for i in range(max(1, len(s) - 2))}


def test_splits_share_no_text(splits):
    for a, b in itertools.combinations(splits, 2):
        texts_a = {fold(r.text).strip() for r in splits[a]}
        shared = texts_a & {fold(r.text).strip() for r in splits[b]}
        assert not shared, f"{a}/{b} share {sorted(shared)[:3]}"


def test_splits_share_no_near_duplicate(splits):
    """Not just a changed id or number: the wording differs (character 3-gram overlap below 0.6)."""
    prepared = {s: [(r.id, _grams(_skeleton(r))) for r in rows] for s, rows in splits.items()}
    for a, b in itertools.combinations(prepared, 2):
        for id_a, ga in prepared[a]:
            for id_b, gb in prepared[b]:
                overlap = len(ga & gb) / len(ga | gb)
                assert overlap < 0.6, f"{id_a} and {id_b} are near duplicates ({overlap:.2f})"


def test_test_split_is_frozen():
    digest = hashlib.sha256((UTTERANCES / "test.jsonl").read_bytes()).hexdigest()
    assert digest == TEST_SPLIT_SHA256, "evals/utterances/test.jsonl changed; the test split is final"
