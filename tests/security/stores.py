"""The persistent store the trust-boundary tests run on (not a fixture-file sandbox): the sample customers in a
SQLite ledger in tmp_path, and a desk over it with its own audit log and thread store, dated by a fixed clock."""
from __future__ import annotations

from agents import Desk
from agents.audit import AuditLog
from tools import Ledger
from tools.ledger import SAMPLE_LEDGER, parse_ledger

TODAY = "2026-11-23"


def persistent_store(tmp_path) -> str:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    Ledger.open(url).load(parse_ledger(SAMPLE_LEDGER.read_bytes()))
    return url


def open_desk(kb, tmp_path, store, today=TODAY) -> Desk:  # noqa: ANN001
    """A desk over the persistent stores in tmp_path; a second call is the service after a restart."""
    ledger = Ledger.open(store)
    assert not ledger.sandbox
    return Desk(ledger, kb, audit=AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}"),
                threads_path=tmp_path / "threads.sqlite3", clock=today)
