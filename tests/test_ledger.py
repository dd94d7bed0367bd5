import json

import pytest

from tools.ledger import SAMPLE_LEDGER, Ledger, LedgerError, parse_ledger

from factories import customer, ledger_with


def test_sample_ledger_is_large_and_bilingual():
    data = parse_ledger(SAMPLE_LEDGER.read_bytes())
    assert len(data.customers) >= 40
    names = [c.name for c in data.customers]
    assert any(n.isascii() for n in names) and any(not n.isascii() for n in names)
    riders = [c for c in data.customers if "newly hired delivery rider" in c.occupation]
    assert riders and not riders[0].temp_quotas


@pytest.mark.parametrize("mutate, needle", [
    (lambda c: c.update(risk_tier="E"), "customer BAD: field risk_tier"),
    (lambda c: c.pop("opened_on"), "customer BAD: field opened_on"),
    (lambda c: c.update(credit_line={"limit": -5, "used": 0}), "customer BAD: field credit_line.limit"),
    (lambda c: c.update(overdue_records=[{"record_id": "R1", "institution": "x", "product": "yacht",
                                          "amount": 1, "overdue_since": "2022-01-01"}]),
     "customer BAD: field overdue_records.0.product"),
    (lambda c: c.update(credit_line={"limit": "12.345", "used": 0}), "credit_line.limit"),
])
def test_malformed_fixture_names_customer_and_field_and_loads_nothing(mutate, needle):
    bad = customer("BAD")
    mutate(bad)
    raw = json.dumps({"customers": [customer("GOOD"), bad]})
    with pytest.raises(LedgerError, match="nothing loaded") as e:
        parse_ledger(raw)
    assert needle in str(e.value)


def test_duplicate_customer_and_bad_json():
    with pytest.raises(LedgerError, match="duplicate"):
        parse_ledger(json.dumps({"customers": [customer("A"), customer("A")]}))
    with pytest.raises(LedgerError, match="not valid JSON"):
        parse_ledger("{")
    with pytest.raises(LedgerError, match="customers"):
        parse_ledger("[]")


def test_load_clash_loads_nothing():
    led = ledger_with(customer("A"))
    with pytest.raises(LedgerError, match="already in the ledger"):
        led.load(parse_ledger(json.dumps({"customers": [customer("B"), customer("A")]})))
    assert led.customer_ids() == ["A"]


def test_money_is_exact_through_the_store():
    led = ledger_with(customer(credit_line={"limit": "0.10", "used": "0.20"}))
    c = led.customer("T1")
    assert str(c.credit_line.limit + c.credit_line.used) == "0.30"


def test_extra_fields_are_kept_and_file_errors_are_clear(tmp_path):
    led = ledger_with(customer(note="vip"))
    assert led.customer("T1").model_extra == {"note": "vip"}
    with pytest.raises(LedgerError, match="cannot read"):
        Ledger.from_file(tmp_path / "missing.json")


def test_a_read_neither_takes_nor_waits_for_the_write_lock(tmp_path):
    """Reads begin deferred: while another connection holds the write lock (a grant in progress, BEGIN
    IMMEDIATE), a second ledger on the same file reads at once, and sees only committed data."""
    import sqlite3
    import time

    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    writer, reader = Ledger.open(url), Ledger.open(url)
    writer.seed_sample()
    cid = writer.customer_ids()[0]
    before = reader.customer(cid)
    with writer.write() as conn:  # holds the write lock until the block ends
        conn.exec_driver_sql("UPDATE customers SET used_fen = used_fen + 100 WHERE customer_id = ?", (cid,))
        t0 = time.perf_counter()
        during = reader.customer(cid)
        assert reader.has_customer(cid.lower())
        assert time.perf_counter() - t0 < 5  # the busy timeout is 30 s: a read that waited for the lock would show
        assert during == before  # the uncommitted write is not seen
        probe = sqlite3.connect(tmp_path / "l.sqlite3", timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            probe.execute("BEGIN IMMEDIATE")  # the write lock really was held meanwhile
        probe.close()
    assert reader.customer(cid).credit_line.used == before.credit_line.used + 1
