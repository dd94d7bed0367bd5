"""The held-out data on lender 2: the fixture validates, the suites load and cover what they claim.

No agent runs here: these tests check the data, and that the committed YAML is what the
generators (which compute every expectation with evals/oracle.py) write today.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from evals import oracle as O
from evals.cases import load_suite
from evals.fixtures import heldout as H
from evals.fixtures.make_lender2 import ID_FORMATS, id_format
from tools.ledger import LedgerError, parse_ledger

FIXTURE = H.FIXTURE
SAMPLE_ID = re.compile(r"^C\d+$")


@pytest.fixture(scope="module")
def ledger():
    return parse_ledger(FIXTURE.read_bytes(), str(FIXTURE))


@pytest.fixture(scope="module")
def unseen():
    return load_suite("unseen")


@pytest.fixture(scope="module")
def multiturn():
    return load_suite("multiturn")


def test_fixture_validates_and_is_another_lender(ledger):
    ids = [c.customer_id for c in ledger.customers]
    assert len(ids) >= 30
    assert not [i for i in ids if SAMPLE_ID.match(i)], "no id may be shaped like the sample's C+digits"
    formats = Counter(id_format(i) for i in ids)
    assert len(formats) >= 6 and set(formats) == set(ID_FORMATS)
    assert {c.risk_tier.value for c in ledger.customers} == {"A", "B", "C", "D"}
    assert {c.status.value for c in ledger.customers} == {"active", "frozen", "closed"}
    assert any(not c.kyc_verified for c in ledger.customers)
    for c in ledger.customers:
        assert re.fullmatch(r"\d{17}[\dX]", c.id_number) and re.fullmatch(r"1\d{10}", c.phone)


def test_fixture_sits_on_the_rule_boundaries(ledger):
    limits = {c.credit_line.limit for c in ledger.customers}
    assert 0 in limits and any(0 < v < 2500 for v in limits)
    assert any(2500 <= v <= 10000 for v in limits) and any(v > 10000 for v in limits)
    amounts = {r.amount for c in ledger.customers for r in c.overdue_records}
    assert {O.money("10000.00"), O.money("10000.01")} <= amounts
    since = {r.overdue_since.year for c in ledger.customers for r in c.overdue_records}
    assert {2019, 2020, 2025, 2026} <= since
    repaid = [r.repaid_on for c in ledger.customers for r in c.overdue_records]
    assert None in repaid
    assert any(d and d <= O.EARLY for d in repaid) and any(d and O.EARLY < d <= O.DEADLINE for d in repaid)
    assert any(d and d > O.DEADLINE for d in repaid)
    ages = {(H.day("2026-06-15") - c.opened_on).days for c in ledger.customers}
    assert {89, 90, 91} <= ages


def test_fixture_money_is_written_as_exact_numbers():
    text = FIXTURE.read_text(encoding="utf-8")
    numbers = re.findall(r'"(?:limit|used|amount)": ([^,\n}]+)', text)
    assert len(numbers) > 60
    assert all(re.fullmatch(r"\d+(\.\d\d)?", n) for n in numbers), "integers or exactly two decimals, no exponent"


def test_a_broken_fixture_is_refused():
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data["customers"][1]["customer_id"] = data["customers"][0]["customer_id"]
    with pytest.raises(LedgerError, match="duplicate id"):
        parse_ledger(json.dumps(data))


def test_unseen_suite_loads_and_covers(unseen):
    assert len(unseen) >= 150
    langs = Counter(c.language for c in unseen)
    assert min(langs.values()) / len(unseen) > 0.4
    assert {c.intent for c in unseen} == {"limit_lookup", "temp_quota", "repair_check", "policy_qa", "out_of_scope"}
    for c in unseen:
        assert c.ledger == H.LEDGER_REF and Path(c.source_dir, c.ledger).exists()
        assert any(t.startswith("idfmt:") for t in c.tags) and f"lang:{c.language}" in c.tags
    outcomes = Counter(c.turns[0].expect.outcome for c in unseen)
    for o in ("found", "not_found", "approved", "needs_approval", "denied", "eligible", "partially_eligible",
              "ineligible", "no_records"):
        assert outcomes[o] > 0, o
    tags = Counter(t for c in unseen for t in c.tags)
    for rule in ("TQ1", "TQ2", "TQ3", "TQ4", "R1", "R2", "R3", "eligible_if_repaid", "no_records"):
        assert tags[f"path:{rule}"] > 0, rule
    assert tags["purpose:disguised"] >= 10 and tags["two-customers"] >= 2 and tags["date:invalid"] >= 2


def test_every_id_in_the_suites_is_in_the_ledger_unless_tagged_unknown(unseen, multiturn, ledger):
    known = {c.customer_id for c in ledger.customers}
    for c in unseen + multiturn:
        for t in c.turns:
            e = t.expect
            ids = {e.customer_id} | {call.args.get("customer_id") for call in e.tool_calls or []}
            ids |= {g.customer_id for g in c.end_state.grants} | {a.customer_id for a in c.end_state.approvals}
            assert ids - {None} <= known, (c.id, ids - known)
        if "id:unknown" in c.tags:
            assert c.turns[0].expect.outcome == "not_found" and not c.end_state.grants


def test_disguised_and_prohibited_purposes_are_never_granted(unseen, multiturn):
    for c in unseen + multiturn:
        if "purpose:disguised" in c.tags and len(c.turns) == 1:
            e = c.turns[0].expect
            assert e.outcome == "denied" and "LENDER-TQ-TQ2" in e.citations, c.id
            assert not c.end_state.grants and not c.end_state.approvals, c.id


def test_clarifying_turns_call_nothing_and_write_nothing(unseen):
    asks = [c for c in unseen if {"two-customers", "date:invalid", "amount:negative", "amount:zero",
                                  "amount:malformed"} & set(c.tags)]
    assert len(asks) >= 12
    for c in asks:
        e = c.turns[0].expect
        assert e.tool_calls == [] and e.outcome is None and "outcome" in e.model_fields_set
        assert not c.end_state.grants and not c.end_state.approvals


def test_multiturn_suite_loads_and_covers(multiturn):
    assert len(multiturn) >= 40
    assert all(2 <= len(c.turns) <= 4 for c in multiturn)
    langs = Counter(c.language for c in multiturn)
    assert min(langs.values()) / len(multiturn) > 0.4
    tags = Counter(t for c in multiturn for t in c.tags)
    for kind in ("follow:amount", "follow:date", "follow:customer", "follow:pronoun", "follow:why",
                 "follow:answer", "follow:correction", "follow:after-grant", "decide:approve", "decide:reject"):
        assert tags[kind] > 0, kind
    for c in multiturn:
        for t in c.turns:
            assert t.expect.model_fields_set, f"{c.id}: every turn carries an expectation"
            if t.say is not None:
                assert t.expect.tool_calls is not None, f"{c.id}: every message turn says which tools may run"


@pytest.mark.parametrize("script,suite", [("make_unseen", "unseen"), ("make_multiturn", "multiturn")])
def test_committed_suite_is_what_the_generator_writes(script, suite):
    import importlib
    import yaml
    mod = importlib.import_module(f"evals.fixtures.{script}")
    committed = yaml.safe_load((H.SUITES / f"{suite}.yaml").read_text(encoding="utf-8"))
    assert committed == yaml.safe_load(yaml.safe_dump(mod.CASES, allow_unicode=True, sort_keys=False))
