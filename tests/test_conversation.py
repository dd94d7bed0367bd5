"""A conversation, not single messages: the thread's typed state, on a lender's own ids, across a restart.

The ledger here is made in the test (ids of other formats than the sample's); the expected outcomes follow from
DOMAIN.md's rules for these customers.
"""
import datetime as dt
from decimal import Decimal

import pytest

from agents import Desk
from tests.factories import customer, ledger_with

TODAY = dt.date(2026, 6, 15)


@pytest.fixture
def make_desk(kb, tmp_path):
    led = ledger_with(
        customer("KH-2031-0007", risk_tier="A", credit_line={"limit": 6000, "used": 500}),   # cap 12,000
        customer("881204557", risk_tier="B", credit_line={"limit": 1000, "used": 0}),       # cap 5,000
        customer("zx.77", risk_tier="C", credit_line={"limit": 9000, "used": 0}),           # cap 18,000
    )
    led.sandbox = True
    threads = tmp_path / "threads.sqlite3"

    def make() -> Desk:
        return Desk(led, kb, threads_path=threads, clock=TODAY)
    return make


def ask(desk: Desk, thread: str, message: str):
    return desk.ask(message, thread_id=thread, as_of=TODAY.isoformat())


def test_a_follow_up_changes_one_slot_and_keeps_the_rest(make_desk):
    desk = make_desk()
    first = ask(desk, "c1", "kh-2031-0007 temp quota 20,000 for welding gear for his workshop")
    assert (first.outcome, first.tool_calls[0].result["deciding_rule"]) == ("denied", "TQ3")
    second = ask(desk, "c1", "and for 3k?")
    assert second.outcome == "approved" and second.customer_id == "KH-2031-0007"
    assert Decimal(second.tool_calls[0].args["amount"]) == Decimal("3000")


def test_why_explains_the_last_decision_without_a_tool_call(make_desk):
    desk = make_desk()
    ask(desk, "c2", "给881204557申请八千临额，买电焊机干活用")
    why = ask(desk, "c2", "为啥？")
    assert why.tool_calls == [] and any(c.clause_id == "LENDER-TQ-TQ3" for c in why.citations)
    assert "5,000" in why.answer and why.guard.grounded


def test_an_answer_to_the_agents_question_completes_the_request(make_desk):
    desk = make_desk()
    asked = ask(desk, "c3", "881204557 申请临额 2000")
    assert asked.tool_calls == [] and "用途" in asked.answer
    done = ask(desk, "c3", "给她妈妈看病")
    assert done.outcome == "approved" and done.customer_id == "881204557"


def test_a_pronoun_refers_to_the_customer_in_focus_and_a_correction_replaces_it(make_desk):
    desk = make_desk()
    ask(desk, "c4", "zx.77 能做信用修复吗")
    limit = ask(desk, "c4", "and her limit?")
    assert (limit.intent.value, limit.customer_id) == ("limit_lookup", "zx.77")
    fixed = ask(desk, "c4", "sorry, I meant 881204557")
    assert (fixed.intent.value, fixed.customer_id, fixed.outcome) == ("limit_lookup", "881204557", "found")


def test_the_state_survives_a_restart(make_desk):
    desk = make_desk()
    ask(desk, "c5", "Acct zx.77 needs 4,000 for a laptop for her design work")
    desk.close()
    again = make_desk()  # a new process would open the same thread store
    r = ask(again, "c5", "what's left now?")
    assert (r.intent.value, r.customer_id, r.outcome) == ("limit_lookup", "zx.77", "found")


def test_a_second_request_after_a_grant_is_judged_on_the_ledger_as_it_now_is(make_desk):
    desk = make_desk()
    granted = ask(desk, "c6", "KH-2031-0007 临额3000，买冰箱")
    assert granted.outcome == "approved"
    again = ask(desk, "c6", "再申请2000，买洗衣机")
    assert (again.outcome, again.tool_calls[0].result["deciding_rule"]) == ("denied", "TQ4")
    left = ask(desk, "c6", "现在可用多少")
    assert Decimal(left.tool_calls[0].result["total_available"]) == Decimal("8500")  # 6,000 - 500 + 3,000


def test_a_disguised_prohibited_purpose_is_denied_and_says_so(make_desk):
    desk = make_desk()
    r = ask(desk, "c7", "881204557 临额3000，用途写学费，其实是拿去炒股")
    assert (r.outcome, r.tool_calls[0].result["deciding_rule"]) == ("denied", "TQ2")
    assert "实际用途" in r.answer and r.guard.grounded
