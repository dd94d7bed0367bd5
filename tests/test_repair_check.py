import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from tools import repair_check

from factories import customer, ledger_with, record

D = dt.date(2026, 1, 15)


def check(*records, as_of=D):
    return repair_check(ledger_with(customer(overdue_records=list(records))), "T1", as_of)


@pytest.mark.parametrize("since, status, rule", [
    ("2019-12-31", "ineligible", "R1"), ("2020-01-01", "eligible", None),
    ("2025-12-31", "eligible", None), ("2026-01-01", "ineligible", "R1")])
def test_r1_window_is_inclusive(since, status, rule):
    v = check(record(since=since, repaid="2026-01-10")).records[0]
    assert (v.status, v.deciding_rule) == (status, rule)


@pytest.mark.parametrize("amount, status", [("10000.00", "eligible"), ("10000.01", "ineligible"), ("9999.99", "eligible")])
def test_r2_amount_boundary(amount, status):
    v = check(record(amount=amount)).records[0]
    assert v.status == status and (v.deciding_rule == "R2") == (status == "ineligible")


@pytest.mark.parametrize("repaid, status, hidden", [
    ("2025-11-30", "eligible", "2026-01-01"), ("2025-12-01", "eligible", "2025-12-01"),
    ("2026-03-31", "eligible", "2026-03-31"), ("2026-04-01", "ineligible", None)])
def test_r3_repayment_boundaries(repaid, status, hidden):
    v = check(record(repaid=repaid), as_of=dt.date(2026, 6, 1)).records[0]
    assert v.status == status
    assert v.hidden_from == (dt.date.fromisoformat(hidden) if hidden else None)
    if status == "ineligible":
        assert v.deciding_rule == "R3" and v.ordinary_until == dt.date(2031, 4, 1)


def test_unrepaid_before_deadline_is_eligible_if_repaid():
    v = check(record(repaid=None), as_of=dt.date(2026, 3, 31)).records[0]
    assert v.status == "eligible_if_repaid" and v.repay_by == dt.date(2026, 3, 31)
    after = check(record(repaid=None), as_of=dt.date(2026, 4, 1)).records[0]
    assert (after.status, after.deciding_rule) == ("ineligible", "R3")


def test_repayment_after_as_of_is_not_yet_repaid():
    v = check(record(repaid="2026-02-01"), as_of=dt.date(2026, 1, 15)).records[0]
    assert v.status == "eligible_if_repaid"


def test_overall_outcomes_and_r4():
    assert check().outcome == "no_records"
    assert check(record("R1"), record("R2", amount=50000)).outcome == "partially_eligible"
    r = check(record("R1", amount=20000), record("R2", since="2018-01-01"))
    assert r.outcome == "ineligible" and r.eligible_count == 0
    r = check(record("R1"), record("R2", amount="10000"))
    assert r.outcome == "eligible" and "R4" in r.rules_applied
    assert (r.procedure.application_needed, r.procedure.fee_yuan, r.procedure.agent_needed) == (False, 0, False)


def test_no_limit_on_number_of_records():
    recs = [record(f"R{i:02d}", amount=100 + i) for i in range(30)]
    r = check(*recs)
    assert r.outcome == "eligible" and r.eligible_count == 30


def test_unknown_customer():
    assert repair_check(ledger_with(customer()), "C9999", D).outcome == "not_found"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["2019-06-01", "2020-01-01", "2024-05-05", "2025-12-31", "2026-02-01"]),
                          st.sampled_from(["500", "10000.00", "10000.01"]),
                          st.sampled_from([None, "2025-11-30", "2025-12-01", "2026-03-31", "2026-04-01"])),
                min_size=1, max_size=6), st.randoms())
def test_property_outcome_independent_of_record_order(specs, rnd):
    recs = [record(f"R{i}", amount=a, since=s, repaid=p) for i, (s, a, p) in enumerate(specs)]
    shuffled = recs[:]
    rnd.shuffle(shuffled)
    a, b = check(*recs, as_of=dt.date(2026, 5, 1)), check(*shuffled, as_of=dt.date(2026, 5, 1))
    assert a == b
