"""Batch decisions (tools/batch.py, `riskdesk batch`): the same tools as a single turn, row by row or over the
whole ledger; bad rows answered in their own row; a what-if writes nothing; a resumed batch decides no row twice."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from console.cli import app
from tools.batch import run_batch, scan_ledger
from tools.batch_io import resume_point
from tools.batch_scan import scan_repair
from tools.ledger import SAMPLE_LEDGER, Ledger, approvals_t, temp_quotas_t
from tools.repair_check import repair_check
from tools.synthetic_ledger import generate

runner = CliRunner()
DAY = dt.date(2026, 1, 15)


def _count(led: Ledger, table) -> int:  # noqa: ANN001
    with led.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Ledger:
    led = Ledger.open(f"sqlite:///{tmp_path_factory.mktemp('syn') / 'syn.sqlite3'}")
    generate(led, 3000, seed=3, chunk=700)
    return led


def test_the_factory_is_seeded(tmp_path):
    a, b = Ledger.open(f"sqlite:///{tmp_path / 'a.db'}"), Ledger.open(f"sqlite:///{tmp_path / 'b.db'}")
    generate(a, 200, seed=5)
    generate(b, 200, seed=5)
    assert a.customer_ids() == b.customer_ids() and len(a.customer_ids()) == 200
    assert [a.customer(c) for c in a.customer_ids()[::37]] == [b.customer(c) for c in b.customer_ids()[::37]]


@pytest.mark.parametrize("as_of", [DAY, dt.date(2026, 4, 15), dt.date(2025, 6, 1)])
def test_the_scan_equals_the_tool_for_every_customer(synthetic, as_of):
    scanned = {r.customer_id: r for r in scan_repair(synthetic, as_of, page=256)}  # pages cross customer boundaries
    assert len(scanned) == 3000
    assert {r.outcome for r in scanned.values()} >= {"eligible", "ineligible", "partially_eligible", "no_records"}
    for cid in synthetic.customer_ids():
        assert scanned[cid] == repair_check(synthetic, cid, as_of), cid


def test_the_scan_equals_the_tool_on_postgres(pg):
    led = Ledger.open(pg)
    generate(led, 1200, seed=9, chunk=500)
    scanned = list(scan_repair(led, DAY, page=100))
    assert [r.customer_id for r in scanned] == led.customer_ids()
    assert all(r == repair_check(led, r.customer_id, DAY) for r in scanned)


def test_whole_ledger_scan_counts_and_writes_the_eligible(synthetic, tmp_path):
    out = tmp_path / "eligible.jsonl"
    tally = scan_ledger(synthetic, DAY, out, page=500)
    s = tally.summary()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert s.customers == 3000 and sum(s.by_outcome.values()) == 3000 == sum(s.by_deciding_rule.values())
    assert len(rows) == s.written == s.by_outcome["eligible"] + s.by_outcome["partially_eligible"]
    assert {r["outcome"] for r in rows} == {"eligible", "partially_eligible"}
    one = rows[0]
    assert one["figures"]["records"] and one["clause_id"].startswith("PBOC-REPAIR-")
    assert all(isinstance(rec["amount"], str) for r in rows for rec in r["figures"]["records"])  # money: strings
    assert "110101" not in out.read_text()  # no ID number (nor any personal field) leaves in the output


def test_two_worker_processes_give_the_same_counts_and_file(synthetic, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    a = scan_ledger(synthetic, DAY, one, page=400).summary()
    b = scan_ledger(synthetic, DAY, two, page=400, workers=2).summary()
    assert a == b and a.customers == 3000
    assert one.read_bytes() == two.read_bytes() and a.written > 0
    with pytest.raises(ValueError, match="in-memory"):
        scan_ledger(Ledger.from_file(SAMPLE_LEDGER), DAY, None, workers=2)


def _write(path, rows):  # noqa: ANN001
    if path.suffix == ".csv":
        keys = list(rows[0])
        path.write_text(",".join(keys) + "\n" + "".join(",".join(str(r.get(k, "")) for k in keys) + "\n" for r in rows))
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_bad_rows_get_their_own_error_and_the_batch_goes_on(tmp_path, suffix):
    led = Ledger.from_file(SAMPLE_LEDGER)
    src, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    _write(src, [{"customer_id": "C1002", "amount": "4000", "purpose": "电动车送外卖", "as_of": "2026-11-23"},
                 {"customer_id": "C1002", "amount": "abc", "purpose": "x", "as_of": "2026-11-23"},
                 {"customer_id": "C9999", "amount": "100", "purpose": "medical", "as_of": "2026-11-23"},
                 {"customer_id": "C1002", "amount": "100", "purpose": "medical", "as_of": "2026-02-30"},
                 {"customer_id": "", "amount": "100", "purpose": "medical", "as_of": "2026-11-23"},
                 {"customer_id": "C1003", "amount": "50000", "purpose": "medical", "as_of": "2026-11-23"}])
    before = (_count(led, temp_quotas_t), _count(led, approvals_t))
    report = run_batch("quota", led, src, out, as_of=DAY)
    assert (_count(led, temp_quotas_t), _count(led, approvals_t)) == before  # a what-if writes nothing
    rows = [json.loads(x) for x in out.read_text().splitlines()] if suffix == ".jsonl" else None
    if rows is None:
        import csv
        rows = list(csv.DictReader(out.open()))
    assert [int(r["row"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["outcome"] == "approved" and rows[0]["clause_id"] == "LENDER-TQ-TQ5"
    assert "amount" in rows[1]["error"] and not rows[1]["outcome"]
    assert rows[2]["outcome"] == "not_found"
    assert rows[3]["error"].startswith("as_of:") and "not a real date" in rows[3]["error"]
    assert "customer_id" in rows[4]["error"]
    assert rows[5]["deciding_rule"] in ("TQ1", "TQ3") and rows[5]["clause_id"].startswith("LENDER-TQ-")
    assert report.decided == 3 and report.errors == 3


def test_limit_and_repair_rows_match_the_tools(tmp_path):
    led = Ledger.from_file(SAMPLE_LEDGER)
    src = tmp_path / "in.jsonl"
    _write(src, [{"customer_id": c} for c in led.customer_ids()])
    run_batch("limit", led, src, tmp_path / "l.jsonl", as_of=dt.date(2026, 11, 23))
    run_batch("repair", led, src, tmp_path / "r.jsonl", as_of=DAY)
    lim = [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    rep = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    from tools.limit_lookup import limit_lookup
    for lr, rr, cid in zip(lim, rep, led.customer_ids()):
        assert lr["figures"]["total_available"] == limit_lookup(led, cid, dt.date(2026, 11, 23)).model_dump(mode="json")["total_available"]
        assert rr["outcome"] == repair_check(led, cid, DAY).outcome


def test_commit_writes_and_a_resumed_batch_decides_no_row_twice(tmp_path):
    led = Ledger.from_file(SAMPLE_LEDGER)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, [{"customer_id": "C1002", "amount": "4000", "purpose": "电动车送外卖"},
                 {"customer_id": "C1003", "amount": "8000", "purpose": "medical"},
                 {"customer_id": "C1001", "amount": "1000", "purpose": "household"}])
    day = dt.date(2026, 11, 23)
    run_batch("quota", led, src, out, as_of=day, commit=True)
    grants, approvals = _count(led, temp_quotas_t), _count(led, approvals_t)
    first = out.read_text().splitlines()
    # an interruption after row 1 was decided and written, in the middle of writing row 2
    out.write_text(first[0] + "\n" + first[1][:17])
    assert resume_point(out) == 1 and out.read_text() == first[0] + "\n"
    # ... and row 2's decision committed but its output line lost: the rerun replays it, decides nothing twice
    report = run_batch("quota", led, src, out, as_of=day, commit=True)
    assert report.resumed_after == 1 and report.decided == 2
    assert (_count(led, temp_quotas_t), _count(led, approvals_t)) == (grants, approvals)
    again = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["row"] for r in again] == [1, 2, 3]
    assert [r["outcome"] for r in again] == [json.loads(x)["outcome"] for x in first]
    assert again[1]["figures"]["replayed"] is True


def test_cli_batch_and_scan(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(src, [{"customer_id": "C1022"}, {"customer_id": "C1001"}, {"customer_id": "nobody"}])
    r = runner.invoke(app, ["batch", "repair", str(src), "--out", str(out), "--as-of", "2026-01-15",
                            "--ledger", str(SAMPLE_LEDGER), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["decided"] == 3 and len(out.read_text().splitlines()) == 4
    r = runner.invoke(app, ["batch", "repair", "--all", "--as-of", "2026-01-15", "--ledger", str(SAMPLE_LEDGER),
                            "--out", str(tmp_path / "all.jsonl")])
    assert r.exit_code == 0, r.output
    assert "by outcome" in r.stdout and "按结果" in r.stdout and "PBOC-REPAIR-R4" in r.stdout
    bad = runner.invoke(app, ["batch", "quota", str(src), "--out", str(tmp_path / "x.txt"), "--ledger", str(SAMPLE_LEDGER)])
    assert bad.exit_code == 2 and "unknown format" in " ".join(bad.output.split())
