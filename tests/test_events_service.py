"""Decision events end to end through `riskdesk serve` (its own process, loopback): SSE at /v1/events filtered by
role and resumable with Last-Event-ID; webhooks from the service's own dispatcher to a receiver that is down
for a while; and `kill -9` of the service between the commit and the delivery loses nothing."""
from __future__ import annotations

import signal
import subprocess
import time

import httpx
import pytest
from factories import free_port
from receiver import Receiver
from served import serve

from console.events_http import parse_sse
from tools.events import events_after
from tools.ledger import SAMPLE_LEDGER, Ledger, parse_ledger
from tools.webhooks import add_webhook, deliveries, verify

KEYS = {"k-view": ("vera", "viewer"), "k-op": ("alice", "operator"), "k-sup": ("bob", "supervisor")}


def _serve(home, port: int) -> subprocess.Popen:  # noqa: ANN001
    return serve(home, port, KEYS, {"RISKDESK_WEBHOOK_INTERVAL": "0.2", "RISKDESK_WEBHOOK_BASE": "0.2",
                                    "RISKDESK_WEBHOOK_MAX_ATTEMPTS": "1000"})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("events-home")
    ledger = Ledger.open(f"sqlite:///{home / 'ledger.sqlite3'}")
    ledger.load(parse_ledger(SAMPLE_LEDGER.read_bytes()))
    rx_port = free_port()  # nobody listens there yet: the receiver is down
    hook, secret = add_webhook(ledger, f"http://127.0.0.1:{rx_port}/hook", role="operator")
    port = free_port()
    proc = _serve(home, port)
    w = {"home": home, "ledger": ledger, "rx_port": rx_port, "secret": secret, "port": port, "proc": proc,
         "url": f"http://127.0.0.1:{port}"}
    yield w
    for p in (w["proc"],):
        if p.poll() is None:
            p.terminate()
            p.wait(20)


def _ask(w, key: str, message: str) -> dict:  # noqa: ANN001
    r = httpx.post(w["url"] + "/v1/ask", json={"message": message}, headers={"X-API-Key": key}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _sse(w, key: str, n: int, last_event_id: str | None = None) -> list[dict]:  # noqa: ANN001
    headers = {"X-API-Key": key, "Accept": "text/event-stream", **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    lines: list[str] = []
    with httpx.stream("GET", w["url"] + "/v1/events", headers=headers, timeout=20) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            lines.append(line)
            if len(parse_sse(lines + [""])) == n and not line.strip():
                break
    return parse_sse(lines + [""])


def test_sse_is_filtered_by_role_and_resumable(world):
    a = _ask(world, "k-op", "给C1002申请4000元临时额度，买电动车送外卖")
    b = _ask(world, "k-op", "C1003 temp quota 8000 for medical treatment")
    c = _ask(world, "k-op", "C1009 temp quota 3000 for a laptop for work")
    assert (a["outcome"], b["outcome"], c["outcome"]) == ("approved", "needs_approval", "approved")
    op = _sse(world, "k-op", 3)
    assert [e["event"] for e in op] == ["quota.granted", "approval.requested", "quota.granted"]
    assert [e["data"]["customer_id"] for e in op] == ["C1002", "C1003", "C1009"]
    assert op[1]["data"]["data"]["approval_id"] == b["approval_id"] and op[1]["data"]["data"]["amount"] == "8000.00"
    viewer = _sse(world, "k-view", 2)  # a viewer never sees an approval
    assert [e["data"]["customer_id"] for e in viewer] == ["C1002", "C1009"]
    resumed = _sse(world, "k-op", 2, last_event_id=op[0]["id"])
    assert [e["id"] for e in resumed] == [op[1]["id"], op[2]["id"]]
    bad = httpx.get(world["url"] + "/v1/events?types=approval.requested", headers={"X-API-Key": "k-view"}, timeout=10)
    assert bad.status_code == 422 and "may not see" in bad.json()["detail"]
    assert httpx.get(world["url"] + "/v1/events", timeout=10).status_code == 401
    polled = httpx.get(world["url"] + f"/v1/events?after={op[0]['id']}", headers={"X-API-Key": "k-view"}, timeout=10)
    assert [e["customer_id"] for e in polled.json()] == ["C1009"]  # JSON without the event-stream Accept


def test_kill_9_between_commit_and_delivery_loses_nothing(world):
    # the receiver has been down all along: the service's dispatcher keeps retrying
    time.sleep(1)
    assert deliveries(world["ledger"]) and {d.status for d in deliveries(world["ledger"])} == {"pending"}
    pending = [a for a in httpx.get(world["url"] + "/v1/approvals", headers={"X-API-Key": "k-sup"}, timeout=20).json()]
    approval_id = pending[0]["approval_id"]
    r = httpx.post(world["url"] + f"/v1/approvals/{approval_id}/approve", headers={"X-API-Key": "k-sup"}, timeout=60)
    assert r.status_code == 200, r.text
    world["proc"].send_signal(signal.SIGKILL)  # right after the commit, before any delivery could succeed
    world["proc"].wait(20)
    stored = {e.event_id for e in events_after(world["ledger"])}
    assert len(stored) == 4  # grant, request, grant, approved: all committed with their changes
    rx = Receiver(world["rx_port"]).start()
    try:
        world["proc"] = _serve(world["home"], free_port())  # the service comes back; so does the receiver
        deadline = time.monotonic() + 60
        while set(rx.unique()) != stored and time.monotonic() < deadline:
            time.sleep(0.2)
        assert set(rx.unique()) == stored  # every change, exactly one event after dedup
        assert all(verify(world["secret"], body, h["X-Riskdesk-Signature"]) for h, body in rx.calls)
        time.sleep(1)
        assert {d.status for d in deliveries(world["ledger"])} == {"delivered"}
    finally:
        rx.stop()
