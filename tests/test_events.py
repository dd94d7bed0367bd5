"""Decision events (tools/events.py) and their webhook delivery (tools/webhooks.py), on a real SQLite file store
and a real HTTP receiver on loopback: one event per change, written with the change or not at all; delivered
signed, retried, dead-lettered and redelivered; a receiver that is down for a while gets everything."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from factories import customer, free_port, ledger_with
from receiver import Receiver

from tools import ToolInputError, approve, list_approvals, reject, temp_quota
from tools.events import events_after
from tools.webhooks import Dispatcher, add_webhook, deliveries, redeliver, verify

D = dt.date(2026, 11, 23)


CUSTOMERS = (customer("T1"), customer("T2", risk_tier="C"), customer("T3", risk_tier="C"),
             customer("T4", risk_tier="C", name="张三丰"))


@pytest.fixture
def led(tmp_path):
    return ledger_with(*CUSTOMERS, url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")


def _changes(led) -> None:  # noqa: ANN001
    """A grant, three approvals requested, one approved, one rejected, one expired."""
    assert temp_quota(led, "T1", 1000, "work_tools", D, requested_by="op").outcome == "approved"
    a2 = temp_quota(led, "T2", 1000, "medical", D, requested_by="op").approval_id
    a3 = temp_quota(led, "T3", 1000, "medical", D, requested_by="op").approval_id
    temp_quota(led, "T4", 1000, "给妈妈看病，电话13900030021", D - dt.timedelta(days=40), requested_by="op")
    approve(led, a2, "sup", D)
    reject(led, a3, "sup", "no payslip", D)
    list_approvals(led, today=D)  # the 40-day-old request lapses


def test_every_change_is_exactly_one_event_and_a_rollback_none(store_url):
    led = ledger_with(*CUSTOMERS, url=store_url)  # a SQLite file, then PostgreSQL
    _changes(led)
    evs = events_after(led)
    assert Counter(e.type for e in evs) == {"quota.granted": 1, "approval.requested": 3, "approval.approved": 1,
                                            "approval.rejected": 1, "approval.expired": 1}
    assert [e.seq for e in evs] == sorted(e.seq for e in evs) and len({e.event_id for e in evs}) == len(evs)
    # repeats that change nothing write nothing: a replayed key, approving twice, rejecting twice
    temp_quota(led, "T1", 1000, "work_tools", D + dt.timedelta(days=60), idempotency_key="k1")
    n = len(events_after(led))
    temp_quota(led, "T1", 1000, "work_tools", D + dt.timedelta(days=60), idempotency_key="k1")
    approve(led, evs[1].data["approval_id"], "sup", D)
    reject(led, evs[2].data["approval_id"], "sup", "again", D)
    assert len(events_after(led)) == n
    # a change that rolls back leaves no event: the key reused for another customer fails after the decision
    with pytest.raises(ToolInputError):
        temp_quota(led, "T2", 1000, "work_tools", D + dt.timedelta(days=60), idempotency_key="k1")
    assert len(events_after(led)) == n


def test_events_carry_the_decision_with_personal_data_masked(led):
    _changes(led)
    by_type = {e.type: e for e in events_after(led)}
    g = by_type["quota.granted"]
    assert g.data["amount"] == "1000.00" and g.data["expires_on"] == "2026-12-22" and g.data["deciding_rule"] == "TQ5"
    assert by_type["approval.approved"].data["decided_by"] == "sup"
    expired = by_type["approval.expired"]
    text = json.dumps(expired.model_dump(mode="json"), ensure_ascii=False)
    assert "13900030021" not in text and "139****0021" in text and expired.data["decided_by"] == "system"


def _drain(d: Dispatcher, rounds: int = 5) -> None:
    for _ in range(rounds):
        d.run_once()


def test_webhook_delivery_signed_deduplicable_and_role_filtered(led):
    rx = Receiver(free_port()).start()
    try:
        hook, secret = add_webhook(led, rx.url, role="operator")
        viewer, _ = add_webhook(led, rx.url.replace("/hook", "/viewer"), role="viewer")
        _changes(led)
        _drain(Dispatcher(led, base=0))
        got = rx.unique()
        stored = {e.event_id: e for e in events_after(led)}
        op = [(h, b) for h, b in rx.calls if h["_path"] == "/hook"]
        seen_by_viewer = [json.loads(b)["type"] for h, b in rx.calls if h["_path"] == "/viewer"]
        assert set(got) == set(stored) and len(op) == len(stored) == 7  # the operator's hook: every event, once
        assert seen_by_viewer == ["quota.granted"]  # the viewer's: only what a viewer may see
        headers, body = op[0]
        assert verify(secret, body, headers["X-Riskdesk-Signature"])
        assert not verify(secret, body.replace(b"1000.00", b"9000.00"), headers["X-Riskdesk-Signature"])  # tampered
        assert not verify("whsec_wrong", body, headers["X-Riskdesk-Signature"])
        assert {d.status for d in deliveries(led)} == {"delivered"}
    finally:
        rx.stop()


def test_a_receiver_down_for_a_while_gets_everything_when_it_comes_back(led):
    port = free_port()
    add_webhook(led, f"http://127.0.0.1:{port}/hook")
    _changes(led)
    d = Dispatcher(led, base=0, max_attempts=50)
    _drain(d, 3)  # nobody listens: connection refused, retried
    assert {x.status for x in deliveries(led)} == {"pending"} and all(x.attempts == 3 for x in deliveries(led))
    rx = Receiver(port).start()
    try:
        _drain(d, 2)
        assert set(rx.unique()) == {e.event_id for e in events_after(led)}
        assert len(rx.calls) == len(events_after(led))  # each delivered once it could be
    finally:
        rx.stop()


def test_backoff_dead_letters_and_redelivery(led):
    rx = Receiver(free_port(), status=500).start()
    try:
        add_webhook(led, rx.url)
        temp_quota(led, "T1", 1000, "work_tools", D)
        clock = [1000.0]
        d = Dispatcher(led, base=10, max_attempts=3, clock=lambda: clock[0])
        d.run_once()
        assert [x.attempts for x in deliveries(led)] == [1]
        d.run_once()  # not due yet: backoff 10 s
        assert [x.attempts for x in deliveries(led)] == [1]
        clock[0] += 10
        d.run_once()
        clock[0] += 20
        d.run_once()
        dead = deliveries(led, "dead")
        assert len(dead) == 1 and dead[0].attempts == 3 and dead[0].last_error == "HTTP 500"
        rx.status = 200
        assert redeliver(led) == 1
        d.run_once()
        assert deliveries(led, "dead") == [] and deliveries(led)[0].status == "delivered"
        assert len(rx.unique()) == 1 and len(rx.calls) == 4
    finally:
        rx.stop()


def test_bad_webhook_arguments_are_refused(led):
    for args, words in ((("ftp://x",), "not an http"), (("http://127.0.0.1:1/h", ["nope"]), "unknown event type"),
                        (("http://127.0.0.1:1/h", ["approval.requested"], "viewer"), "may not see")):
        with pytest.raises(ToolInputError, match=words):
            add_webhook(led, *args)
