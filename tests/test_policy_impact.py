"""`riskdesk policy impact`: two versions over a ledger and a file of requests, nothing written; the parallel
scan of a SQLite ledger gives the same figures as one process; the streamed customers are Ledger.customer's."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tools import policy as pol
from tools.ledger import SAMPLE_LEDGER, Ledger, approvals_t, temp_quotas_t
from tools.ledger_scan import id_bounds, scan
from tools.policy_impact import impact, read_requests
from tools.synthetic_ledger import generate
from tools.temp_quota import decide

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "policy" / "policy_2027.toml"
D27 = dt.date(2027, 1, 2)


@pytest.fixture
def policy_2027():
    before = os.environ.get(pol.POLICY_ENV)
    yield pol.use(EXAMPLE)
    if before is None:
        os.environ.pop(pol.POLICY_ENV, None)
    else:
        os.environ[pol.POLICY_ENV] = before
    pol.use(None)


def counts(ledger: Ledger) -> tuple[int, int]:
    with ledger.read() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (temp_quotas_t, approvals_t))


def test_impact_over_the_sample_ledger_and_requests_writes_nothing(policy_2027, tmp_path):
    ledger = Ledger.from_file(SAMPLE_LEDGER)
    before = counts(ledger)
    reqs = tmp_path / "r.csv"
    reqs.write_text("customer_id,amount,purpose\nC1012,25000,work_tools\nC1003,7000,work_tools\n"
                    "C1005,1000,medical\n", encoding="utf-8")
    rep = impact(ledger, "2026-01", "2027-01", D27, read_requests(reqs), out=tmp_path / "changes.jsonl")
    assert counts(ledger) == before
    assert rep.customers == len(ledger.customer_ids()) and rep.requests == 3
    moves = {(t.kind, t.before, t.after, t.rule): t.count for t in rep.transitions}
    assert moves == {("request", "denied", "needs_approval", "TQ5"): 1, ("request", "needs_approval", "approved", "TQ5"): 1}
    assert rep.changed_requests == 2  # C1005 (tier D) is denied under both
    # the credit that could be granted: the caps of customers who may ask, under each version, from the tool itself
    a, b = pol.active().versions
    expect = {v.id: sum((r.cap for c in map(ledger.customer, ledger.customer_ids())
                         if (r := decide(c, Decimal(1), "work_tools", D27, v)).outcome != "denied"), Decimal(0))
              for v in (a, b)}
    assert (rep.credit_before, rep.credit_after) == (expect["2026-01"], expect["2027-01"])
    assert rep.credit_change > 0 and rep.auto_after > rep.auto_before
    lines = [json.loads(x) for x in (tmp_path / "changes.jsonl").read_text().splitlines()]
    assert len(lines) == rep.changed_customers + rep.changed_requests
    c1012 = next(x for x in lines if x["customer_id"] == "C1012" and x["kind"] == "customer")
    assert (c1012["before"]["cap"], c1012["after"]["cap"]) == ("20000.00", "30000.00")
    assert (c1012["before"]["auto_max"], c1012["after"]["auto_max"]) == ("5000.00", "8000.00")


def test_the_same_version_on_both_sides_changes_nothing(policy_2027):
    rep = impact(Ledger.from_file(SAMPLE_LEDGER), "2027-01", "2027-01", D27)
    assert rep.transitions == [] and rep.changed_customers == 0 and rep.credit_before == rep.credit_after


def test_a_sqlite_ledger_is_decided_in_parallel_with_the_same_figures(policy_2027, tmp_path):
    url = f"sqlite:///{tmp_path / 'syn.sqlite3'}"
    generate(Ledger.open(url), 3000, seed=3)
    ledger = Ledger.open(url)
    streamed = list(scan(ledger))
    assert len(streamed) == 3000
    for c in streamed[::97]:  # the streamed records are the ledger's own
        assert c.model_dump() == ledger.customer(c.customer_id).model_dump()
    ranges = id_bounds(ledger, 2)
    assert sum(len(list(scan(ledger, lo, hi))) for lo, hi in ranges) == 3000
    one = impact(ledger, "2026-01", "2027-01", D27, workers=1, url=url)
    two = impact(ledger, "2026-01", "2027-01", D27, workers=2, url=url)
    assert two.workers == 2 and one.workers == 1
    for k in ("customers", "changed_customers", "credit_before", "credit_after", "auto_before", "auto_after"):
        assert getattr(one, k) == getattr(two, k), k
    assert one.transitions == two.transitions and one.changed_customers > 0


def test_impact_cli_prints_transitions_and_the_change_in_credit(tmp_path):
    reqs = tmp_path / "r.jsonl"
    reqs.write_text(json.dumps({"customer_id": "C1012", "amount": "25000", "purpose": "电脑 for work"}) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "console", "policy", "impact", "--from", "2026-01", "--to", "2027-01",
                        "--policy", str(EXAMPLE), "--ledger", str(SAMPLE_LEDGER), "--as-of", "2027-01-02",
                        "--requests", str(reqs), "--json"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["transitions"] == [{"kind": "request", "before": "denied", "after": "needs_approval", "rule": "TQ5",
                                    "count": 1}]
    assert isinstance(data["credit_after"], str) and Decimal(data["credit_after"]) > Decimal(data["credit_before"])
    bad = subprocess.run([sys.executable, "-m", "console", "policy", "impact", "--from", "2026-01", "--to", "2028-01",
                          "--policy", str(EXAMPLE), "--ledger", str(SAMPLE_LEDGER)], cwd=ROOT, capture_output=True,
                         text=True, env=env, timeout=300)
    assert bad.returncode == 2 and "no version '2028-01'" in bad.stderr


def test_repair_is_compared_only_when_the_repair_parameters_differ(tmp_path):
    """A version that moves R2's limit changes repair decisions and says so; the example's 2027-01 (repair as
    before) compares none, and a customer's repair decision is the tool's under each version either way."""
    text = EXAMPLE.read_text(encoding="utf-8") + '\n[versions.repair]\nmax_single_amount = "500.00"\n'
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")  # the appended table belongs to the last version, 2027-01
    before = os.environ.get(pol.POLICY_ENV)
    try:
        policy = pol.use(path)
        a, b = policy.versions
        assert a.repair != b.repair and b.repair.max_single_amount == Decimal("500.00")
        ledger = Ledger.from_file(SAMPLE_LEDGER)
        as_of = dt.date(2027, 1, 2)
        rep = impact(ledger, "2026-01", "2027-01", as_of)
        moved = {(t.before, t.after): t.count for t in rep.transitions if t.kind == "repair_check"}
        from tools.repair_check import assess
        expect: dict = {}
        for c in map(ledger.customer, ledger.customer_ids()):
            if c.overdue_records:
                pa, pb = (assess(c.customer_id, c.overdue_records, as_of, v) for v in (a, b))
                if [r.status for r in pa.records] != [r.status for r in pb.records]:
                    expect[(pa.outcome, pb.outcome)] = expect.get((pa.outcome, pb.outcome), 0) + 1
        assert moved == expect and sum(moved.values()) > 0
        pol.use(EXAMPLE)
        same = impact(ledger, "2026-01", "2027-01", as_of)
        assert not [t for t in same.transitions if t.kind == "repair_check"]
    finally:
        if before is None:
            os.environ.pop(pol.POLICY_ENV, None)
        else:
            os.environ[pol.POLICY_ENV] = before
        pol.use(None)
