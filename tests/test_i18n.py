"""The message catalogue (agents/i18n): both languages hold the same messages, every one translated, and
internal codes reach operators only through it: replies, terminal and web labels never show a raw code."""
import re

import pytest

from agents import composer
from agents.i18n import KINDS, LANGS, catalog, label, labels, say
from tools.purpose import Purpose

CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")  # work_tools, amount_over_5000, risk_tier_c


def test_catalogues_hold_the_same_messages_all_translated():
    ids = {lang: {(m.context, m.id) for m in catalog(lang) if m.id} for lang in LANGS}
    assert ids["zh"] == ids["en"] and len(ids["zh"]) > 60
    for lang in LANGS:
        for m in catalog(lang):
            if m.id:
                assert m.string, (lang, m.context, m.id)
                assert not CODE.search(m.string), (lang, m.id, m.string)       # no code in any message
    assert set(labels("zh")) == set(KINDS)


def test_every_purpose_and_review_reason_has_words():
    for lang in LANGS:
        for p in Purpose:
            assert label("purpose", p.value, lang) != p.value.replace("_", " ") or lang == "en"
        for code in ("amount_over_5000", "risk_tier_c", "purpose_unclassified", "auto_approved", "over_cap"):
            assert not CODE.search(label("reason", code, lang))
    assert label("purpose", "work_tools", "zh") == "工作工具"
    assert label("reason", "never_heard_of_it", "en") == "never heard of it"   # humanised, never raw


@pytest.mark.parametrize("lang", LANGS)
def test_replies_name_no_internal_code(lang):
    approved = {"tool": "temp_quota", "outcome": "approved", "customer_id": "C1", "amount": "4000.00",
                "grant": {"amount": "4000.00", "purpose": "work_tools", "granted_on": "2026-11-23", "expires_on": "2026-12-22"}}
    review = {"tool": "temp_quota", "outcome": "needs_approval", "customer_id": "C1", "amount": "8000.00",
              "reasons": ["amount_over_5000", "risk_tier_c", "purpose_unclassified"], "approval_id": "AP-1"}
    denied = {"tool": "temp_quota", "outcome": "denied", "customer_id": "C1", "amount": "800.00", "deciding_rule": "TQ2",
              "purpose": "炒股", "purpose_category": "investment", "reasons": ["prohibited_purpose_investment"]}
    for r in (approved, review, denied):
        text = composer.quota_reply(lang, r, [])
        assert not CODE.search(text.replace("「炒股」", "")), text
    refusal = composer.role_refusal(lang, "operator", "viewer")
    if lang == "zh":
        assert "操作员" in refusal and "查看员" in refusal and "operator角色" not in refusal
        assert "；" in composer.quota_reply(lang, review, []) and "; " not in composer.quota_reply(lang, review, [])


def test_clause_titles_in_one_language():
    assert composer.heading("zh", "有效期 / Validity period") == "有效期"
    assert composer.heading("en", "有效期 / Validity period") == "Validity period"
    assert composer.heading("en", "Plain title") == "Plain title"


def test_rejection_reason_is_quoted_as_the_supervisors_words():
    r = {"tool": "approval", "outcome": "rejected",
         "approval": {"approval_id": "AP-1", "customer_id": "C1", "decided_by": "sam", "reason": "收入未核实 [TQ9]"}}
    quotes = []
    text = composer.approval_reply("zh", r, quotes)
    assert "驳回理由" in text and quotes and quotes[0] in text and "[TQ9]" not in text   # escaped, marked as theirs
    assert say("en", "Customer {id} not found", id="C9") == "Customer C9 not found"
