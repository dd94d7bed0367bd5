"""The guard catches planted wrong amounts, dates, percentages, day counts, clause ids, rule ids,
customer ids and flipped outcomes, and does not flag correct replies."""
import datetime as dt

import pytest

from agents.composer import compose
from agents.guard import build_evidence, check
from tools import limit_lookup, repair_check, temp_quota
from tools.rules import RULE_CLAUSES

D = dt.date(2026, 11, 23)
CLAUSES = {
    "LENDER-TQ-TQ3": "临时额度上限为 min(20,000, max(5,000, 2×基础额度))。The cap is min(20,000, max(5,000, 2 x base limit)).",
    "LENDER-TQ-TQ5": "金额不超过5,000元且风险等级A或B自动批准。Amount up to 5,000 with tier A or B is approved at once.",
    "LENDER-TQ-TQ6": "自发放日起30天有效（含发放当日）。Valid for 30 days from the grant date, inclusive.",
    "LENDER-TQ-TQ4": "同一时间只能有一笔未到期临时额度。One unexpired temporary quota at a time.",
    "LENDER-LIMIT-LOOKUP": "Returns base limit, used, available and total available.",
    "LENDER-TQ-TQ7": "total available = base limit - used + unexpired temporary quota",
    "PBOC-REPAIR-R1": "2020-01-01至2025-12-31期间产生的逾期记录。",
    "PBOC-REPAIR-R2": "单笔逾期金额不超过10,000元。",
    "PBOC-REPAIR-R3": "2026-03-31前全额还清；2025-11-30前还清的自2026-01-01起不再展示。Otherwise kept 5 years.",
    "PBOC-REPAIR-R4": "免申即享，无需申请，不收费。",
    "FINCOST-CAP-2026": "From Q1 2026 the average comprehensive financing cost must be at or below 20% a year; before that 24%.",
}


def clauses(*ids):
    return [{"clause_id": i, "doc_id": "D", "title": i, "text": CLAUSES[i]} for i in ids]


def scenario(ledger, kind, lang):
    if kind == "limit":
        r = limit_lookup(ledger, "C1001", D).model_dump(mode="json")
        cl = clauses("LENDER-LIMIT-LOOKUP", "LENDER-TQ-TQ7")
    elif kind == "approved":
        r = temp_quota(ledger, "C1002", 4000, "电动车送外卖", D).model_dump(mode="json")
        cl = clauses("LENDER-TQ-TQ5", "LENDER-TQ-TQ6")
    elif kind == "needs_approval":
        r = temp_quota(ledger, "C1003", 8000, "laptop for work", D).model_dump(mode="json")
        cl = clauses("LENDER-TQ-TQ5")
    elif kind == "over_cap":
        r = temp_quota(ledger, "C1010", 30000, "medical", D).model_dump(mode="json")
        cl = clauses("LENDER-TQ-TQ3")
    elif kind == "tq4":
        r = temp_quota(ledger, "C1001", 1000, "medical", D).model_dump(mode="json")
        cl = clauses("LENDER-TQ-TQ4")
    else:
        r = repair_check(ledger, "C1022", dt.date(2026, 1, 15)).model_dump(mode="json")
        cl = clauses("PBOC-REPAIR-R1", "PBOC-REPAIR-R2", "PBOC-REPAIR-R3", "PBOC-REPAIR-R4")
    intent = {"limit": "limit_lookup", "repair": "repair_check"}.get(kind, "temp_quota")
    reply = compose(lang, intent, [r], cl)
    # the operator's request: it names the customer and, for a quota, the amount (the guard holds a grant to it)
    asked = f"question about {r['customer_id']}" + (f" for {r['amount']}" if r.get("tool") == "temp_quota" else "")
    return reply, build_evidence([asked], [r], cl)


KINDS = ["limit", "approved", "needs_approval", "over_cap", "tq4", "repair"]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("kind", KINDS)
def test_correct_template_replies_are_grounded(ledger, kind, lang):
    reply, ev = scenario(ledger, kind, lang)
    verdict, claims = check(reply, ev)
    assert verdict.grounded, (reply, verdict.ungrounded)
    assert verdict.checked_claims >= 3


# (scenario, find, replace, claim kind that must be caught)
PLANTS = [
    ("limit", "¥4,300", "¥4,800", "amount"), ("limit", "2026-11-30", "2026-12-30", "date"),
    ("limit", "C1001", "C1009", "customer_id"), ("limit", "LENDER-TQ-TQ7", "LENDER-TQ-TQ9", "id"),
    ("approved", "2026-12-22", "2026-12-23", "date"), ("approved", "¥4,000", "¥40,000", "amount"),
    ("approved", "TQ5", "TQ3", "rule"), ("approved", "Approved", "Denied", "outcome"),
    ("needs_approval", "Needs a supervisor's approval", "Approved", "outcome"),
    ("needs_approval", "¥8,000", "¥8,500", "amount"), ("needs_approval", "AP-", "AP-X", "id"),
    ("over_cap", "¥5,000", "¥6,000", "amount"), ("over_cap", "Denied", "Approved", "outcome"),
    ("over_cap", "TQ3", "TQ4", "rule"), ("tq4", "2026-11-30", "2026-11-29", "date"),
    ("repair", "partially eligible", "eligible", "outcome"), ("repair", "2026-01-01", "2026-02-01", "date"),
    ("repair", "under R2", "under R3", "rule"),
]


@pytest.mark.parametrize("kind, find, repl, claim_kind", PLANTS)
def test_planted_errors_are_caught(ledger, kind, find, repl, claim_kind):
    reply, ev = scenario(ledger, kind, "en")
    assert find in reply, reply
    bad = reply.replace(find, repl, 1)
    verdict, _ = check(bad, ev)
    assert not verdict.grounded
    assert any(u.startswith(claim_kind + ":") for u in verdict.ungrounded), verdict.ungrounded


@pytest.mark.parametrize("extra, claim_kind", [
    (" The financing cost cap is 24% a year.", "percent"), (" It is valid for 31 days.", "days"),
    (" 有效期为45天。", "days"), (" The limit was raised on 2026-10-01.", "date"),
    (" C1005 has the same limit.", "customer_id"), (" See [PBOC-REPAIR-R9].", "id"), (" 年化利率36%。", "percent"),
])
def test_added_unsupported_claims_are_caught(ledger, extra, claim_kind):
    reply, ev = scenario(ledger, "approved", "en")
    verdict, _ = check(reply + extra, ev)
    assert any(u.startswith(claim_kind + ":") for u in verdict.ungrounded), verdict.ungrounded


def test_supported_percent_and_day_count_pass(ledger):
    reply, ev = scenario(ledger, "approved", "en")
    ev2 = build_evidence(["C1002"], [], clauses("FINCOST-CAP-2026", "LENDER-TQ-TQ6"))
    verdict, _ = check("From Q1 2026 the cap is 20% [FINCOST-CAP-2026]; a quota lasts 30 days [LENDER-TQ-TQ6].", ev2)
    assert verdict.grounded, verdict.ungrounded


def test_zh_flipped_outcome(ledger):
    reply, ev = scenario(ledger, "over_cap", "zh")
    verdict, _ = check(reply.replace("拒绝", "已批准"), ev)
    assert any(u.startswith("outcome:") for u in verdict.ungrounded)


def test_every_rule_maps_to_a_clause():
    assert set(RULE_CLAUSES) == {"R1", "R2", "R3", "R4", "TQ1", "TQ2", "TQ3", "TQ4", "TQ5", "TQ6", "TQ7", "LIMIT"}


@pytest.mark.parametrize("reply, missing", [
    ("操作员的回复：", ["missing:citation", "missing:customer_id:C1002", "missing:outcome:approved"]),
    ("C1002: a temporary quota of ¥4,000 [LENDER-TQ-TQ5].", ["missing:outcome:approved"]),
    ("Approved under TQ5: ¥4,000, valid until 2026-12-22 [LENDER-TQ-TQ5].", ["missing:customer_id:C1002"]),
])
def test_a_reply_that_leaves_out_the_decision_is_not_grounded(ledger, reply, missing):
    _, ev = scenario(ledger, "approved", "en")
    verdict, _ = check(reply, ev)
    assert not verdict.grounded and [u for u in verdict.ungrounded if u.startswith("missing:")] == missing


def test_a_policy_answer_must_cite_a_clause_it_was_given():
    ev = build_evidence(["q"], [], clauses("FINCOST-CAP-2026"))
    assert check("From Q1 2026 the cap is 20% [FINCOST-CAP-2026].", ev)[0].grounded
    assert check("操作员的回复：", ev)[0].ungrounded == ["missing:citation"]


def test_a_grant_must_be_for_the_amount_the_operator_wrote(ledger):
    """两千零八 is 2,008: a grant of 2,800 is caught even though the reply repeats the tool's own figure."""
    r = temp_quota(ledger, "C1002", 2800, "电动车送外卖", D).model_dump(mode="json")
    cl = clauses("LENDER-TQ-TQ5", "LENDER-TQ-TQ6")
    reply = compose("zh", "temp_quota", [r], cl)
    wrong, _ = check(reply, build_evidence(["给C1002申请两千零八元临时额度，买电动车送外卖"], [r], cl))
    assert "granted_amount_not_written:2800" in wrong.ungrounded
    right, _ = check(reply, build_evidence(["给C1002申请两千八百元临时额度，买电动车送外卖"], [r], cl))
    assert right.grounded, right.ungrounded
