"""Resources (issue 14 §5): what one client could cost the running service.

Attacks, each against `riskdesk serve` in its own process on 127.0.0.1 (bounded loops, bounded time):
- a 300 MB body without a key was read whole before the 401 (memory 390 MB -> 1.28 GB; four at once 2.4 GB);
- a body over any sane size, with a key, declared or chunked, was read whole too;
- 20,400 connections that never finished their headers stayed open for ever, the file descriptors ran out
  and /healthz died;
- no rate limits at all.
"""
from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from console.loadtest import start_service

MIB = 1 << 20
CAP = 65536  # the default body cap
KEYS = {"k-big": ("mallory", "operator"), "k-flood": ("flood", "operator"), "k-other": ("alice", "operator"),
        "k-view": ("val", "viewer")}
# A: short header and keep-alive timeouts, a small per-key budget; the default body cap and connection cap.
A_FLAGS = ["--header-timeout", "1", "--keep-alive", "1", "--rate-per-key", "20/minute", "--rate-per-address",
           "300/minute"]
# B: a small connection cap and a header timeout long enough that only the cap closes anything.
B_FLAGS = ["--max-connections", "50", "--header-timeout", "30"]


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """Both services, started side by side (each takes ~15 s to open its desk)."""
    homes = [tmp_path_factory.mktemp("svc-a"), tmp_path_factory.mktemp("svc-b")]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start_service, homes[0], KEYS, extra=A_FLAGS),
                   pool.submit(start_service, homes[1], KEYS, extra=B_FLAGS)]
        started = [f.result() for f in futures]
    yield {"a": started[0], "b": started[1]}
    for proc, _ in started:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except Exception:  # noqa: BLE001
            proc.kill()


@pytest.fixture(scope="module")
def a(services):
    return services["a"]


@pytest.fixture(scope="module")
def b(services):
    return services["b"]


# ------------------------------------------------------------------ helpers

def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def address(url: str) -> tuple[str, int]:
    u = urlsplit(url)
    return u.hostname, u.port


def connect(url: str, source: str | None = None) -> socket.socket:
    return socket.create_connection(address(url), timeout=5, source_address=(source, 0) if source else None)


def _answer(buf: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """A complete HTTP response in buf (status, headers, body), else None."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if len(body) < int(headers.get("content-length", 0)):
        return None
    return int(lines[0].split()[1]), headers, body


def push_until_answered(url: str, head: bytes, chunk: bytes, max_bytes: int = 64 * MIB,
                        timeout: float = 10.0) -> dict:
    """Send `head`, then `chunk` again and again (up to max_bytes) until the server answers, as a client
    that streams a big body would. Returns the status (None: no answer), the body bytes sent before the
    answer came, and the seconds it took."""
    s = connect(url)
    s.sendall(head)
    s.setblocking(False)
    sent, buf, got, t0 = 0, b"", None, time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            readable, writable, _ = select.select([s], [s] if sent < max_bytes else [], [], 0.05)
            if readable:
                data = s.recv(65536)
                if not data:
                    break
                buf += data
                if got := _answer(buf):
                    break
            elif writable:
                try:
                    sent += s.send(chunk)
                except BlockingIOError:
                    pass
    except (ConnectionResetError, BrokenPipeError):
        got = _answer(buf)
    finally:
        s.close()
    return {"status": got[0] if got else None, "headers": got[1] if got else {}, "body": got[2] if got else b"",
            "sent": sent, "seconds": time.monotonic() - t0}


def post_head(path: str, key: str | None, length: int | None = None, chunked: bool = False) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if key:
        lines.append(f"X-API-Key: {key}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def closed_by_server(s: socket.socket, within: float) -> bool:
    """True if the server closes this connection within `within` seconds (EOF or reset)."""
    s.settimeout(max(within, 0.01))
    try:
        while True:
            if not s.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (socket.timeout, TimeoutError):
        return False


def healthz_seconds(url: str) -> float:
    t0 = time.monotonic()
    r = httpx.get(url + "/healthz", timeout=2)
    assert r.status_code == 200
    return time.monotonic() - t0


# ------------------------------------------------------------------ bodies

def test_a_huge_body_without_a_key_is_401_before_the_body_is_read(a):
    """Four clients at once each declare a 300 MB body and stream it: each gets 401 at once, and the
    service's memory does not grow by the bodies."""
    proc, url = a
    before = rss_kib(proc.pid)
    head = post_head("/v1/ask", None, length=300 * 1000 * 1000)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: push_until_answered(url, head, b"x" * MIB), range(4)))
    grown = rss_kib(proc.pid) - before
    for r in results:
        assert r["status"] == 401, f"no 401 before {r['sent'] / MIB:.0f} MiB of body were sent: {r}"
        assert r["seconds"] < 2 and r["sent"] < 16 * MIB, r
        assert r["headers"]["www-authenticate"] == "Bearer" and b"API key is required" in r["body"]
    assert grown < 8 * 1024, f"the service grew by {grown / 1024:.0f} MiB answering 401s"


def test_a_huge_declared_body_with_a_key_is_413_before_it_is_read(a):
    proc, url = a
    before = rss_kib(proc.pid)
    r = push_until_answered(url, post_head("/v1/ask", "k-big", length=300 * 1000 * 1000), b"x" * MIB)
    assert r["status"] == 413, f"no 413 before {r['sent'] / MIB:.0f} MiB of body were sent: {r}"
    assert r["seconds"] < 2 and r["sent"] < 16 * MIB, r
    assert b"at most 65536 bytes" in r["body"]
    assert rss_kib(proc.pid) - before < 8 * 1024


def test_a_chunked_body_is_413_as_soon_as_it_passes_the_cap(a):
    """No Content-Length to refuse up front: the bytes are counted as they come."""
    proc, url = a
    piece = b"x" * 16384
    frame = b"%x\r\n%s\r\n" % (len(piece), piece)
    r = push_until_answered(url, post_head("/v1/ask", "k-big", chunked=True), frame)
    assert r["status"] == 413, f"no 413 before {r['sent'] / MIB:.0f} MiB of chunked body were sent: {r}"
    assert r["seconds"] < 2 and r["sent"] < 16 * MIB, r
    assert b"more than 65536 bytes" in r["body"]


def test_an_ordinary_client_reads_the_413_and_the_largest_message_fits(a):
    proc, url = a
    with httpx.Client(base_url=url, headers={"X-API-Key": "k-big"}, timeout=10) as c:
        r = c.post("/v1/ask", content=(b"x" * 2048 for _ in range(100)), headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and "at most 65536 bytes" in r.json()["detail"]
        # 4,000 characters outside the BMP, \\u-escaped by the client: about 48 KB, under the cap
        body = json.dumps({"message": "C1001的额度 " + "😀" * 3990}).encode()  # ensure_ascii: 12 bytes a character
        r = c.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
        assert len(body) > 47000 and r.status_code != 413, r.text


# ------------------------------------------------------------------ connections

def test_half_open_connections_are_closed_after_the_header_timeout_and_healthz_answers(a):
    """300 connections that never finish their headers (half send nothing, half part of a request line and
    a header): /healthz keeps answering, and the service closes every one after the 1 s header timeout."""
    proc, url = a
    base = open_fds(proc.pid)
    socks = []
    for i in range(300):
        s = connect(url)
        if i % 2:
            s.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
        socks.append(s)
    opened = time.monotonic()
    try:
        while open_fds(proc.pid) < base + 250 and time.monotonic() < opened + 0.5:
            time.sleep(0.01)
        assert open_fds(proc.pid) >= base + 250  # they are open on the service's side
        waits = [healthz_seconds(url) for _ in range(5)]
        assert max(waits) < 1.0, waits
        still_open = [i for i, s in enumerate(socks) if not closed_by_server(s, opened + 5 - time.monotonic())]
        assert not still_open, f"{len(still_open)} of 300 half-open connections still open 5 s after a 1 s timeout"
        deadline = time.monotonic() + 3
        while open_fds(proc.pid) > base + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert open_fds(proc.pid) <= base + 5
    finally:
        for s in socks:
            s.close()


def test_a_slow_header_and_an_idle_keep_alive_are_closed(a):
    proc, url = a
    slow = connect(url)
    t0, closed = time.monotonic(), False
    for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40:  # one byte every 0.1 s
        try:
            slow.sendall(bytes([byte]))
        except OSError:
            closed = True
            break
        if closed_by_server(slow, 0.1):
            closed = True
            break
    assert closed and time.monotonic() - t0 < 3, "a header sent one byte at a time kept its connection open"
    slow.close()
    idle = connect(url)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert idle.recv(4096).startswith(b"HTTP/1.1 200")
    assert closed_by_server(idle, 3), "an idle keep-alive connection stayed open past its 1 s timeout"
    idle.close()


def test_past_the_connection_cap_the_oldest_waiting_connection_is_closed(b):
    """Cap 50: 300 idle connections do not take 300 descriptors; the oldest go first; /healthz and a
    keyed request still answer while they are held open."""
    proc, url = b
    base = open_fds(proc.pid)
    socks = [connect(url) for _ in range(300)]
    try:
        waits = [healthz_seconds(url) for _ in range(5)]
        assert max(waits) < 1.0, waits
        r = httpx.get(url + "/v1/me", headers={"X-API-Key": "k-other"}, timeout=2)
        assert r.status_code == 200 and r.json()["name"] == "alice"
        assert open_fds(proc.pid) <= base + 50 + 5, f"{open_fds(proc.pid) - base} connections held"
        assert all(closed_by_server(s, 2) for s in socks[:100]), "the oldest idle connections were not shed"
        assert not any(closed_by_server(s, 0.05) for s in socks[-20:]), "the newest connections were shed"
    finally:
        for s in socks:
            s.close()


# ------------------------------------------------------------------ rate limits

def test_one_key_flooding_gets_429_while_another_key_and_healthz_are_unaffected(a):
    """A key spends its budget (20 turns a minute), then eight clients on it send turns as fast as they can
    for 1.5 s: every one is 429 with Retry-After, and /healthz, timed on its own keep-alive connection
    meanwhile, stays fast (a refused request costs the service next to nothing)."""
    proc, url = a
    codes, retry_after, waits, stop = [], set(), [], threading.Event()
    clients = [httpx.Client(base_url=url, headers={"X-API-Key": "k-flood"}, timeout=5) for _ in range(8)]
    for c in clients:
        assert c.get("/healthz").status_code == 200  # connected before the clock starts
    spent = [clients[0].post("/v1/ask", json={"message": "What's C1001's available credit?"}).status_code
             for _ in range(20)]
    assert spent == [200] * 20

    deadline = time.monotonic() + 1.5

    def flood(c: httpx.Client) -> None:
        while time.monotonic() < deadline:
            r = c.post("/v1/ask", json={"message": "What's C1001's available credit?"})
            codes.append(r.status_code)
            if r.status_code == 429:
                retry_after.add(r.headers.get("retry-after"))
                assert "at most 20 per 1 minute" in r.json()["detail"]

    def probe() -> None:
        s = connect(url)
        while not stop.is_set():
            t0 = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            buf = b""
            while not _answer(buf):
                buf += s.recv(4096)
            assert _answer(buf)[0] == 200
            waits.append(time.monotonic() - t0)
            time.sleep(0.005)
        s.close()

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(flood, clients))
    finally:
        stop.set()
        prober.join()
        for c in clients:
            c.close()
    # a sliding window: a minute boundary during the flood may let one or two more through
    assert codes.count(200) <= 2 and codes.count(429) == len(codes) - codes.count(200) >= 100, sorted(set(codes))
    assert retry_after and all(v is not None and v.isdigit() and 1 <= int(v) <= 60 for v in retry_after), retry_after
    assert len(waits) >= 5 and max(waits) < 0.5, f"/healthz took up to {max(waits):.2f} s during the flood ({waits})"
    r = httpx.get(url + "/v1/me", headers={"X-API-Key": "k-other"}, timeout=2)
    assert r.status_code == 200 and r.json()["name"] == "alice"  # another key, same address: its own budget


def test_one_address_without_keys_gets_429_and_probes_are_never_limited(a):
    """Another source address on loopback (127.0.0.7): its own budget of 300 a minute, any key or none."""
    proc, url = a
    transport = httpx.HTTPTransport(local_address="127.0.0.7")
    with httpx.Client(base_url=url, transport=transport, timeout=5) as c:
        codes = [c.get("/v1/me").status_code for _ in range(310)]
        assert set(codes) == {401, 429} and 300 <= codes.index(429) <= 302, (codes.count(401), codes.count(429))
        refused = c.get("/v1/me", headers={"X-API-Key": "k-view"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "client address 127.0.0.7" in refused.json()["detail"]
        assert all(c.get(p).status_code == 200 for p in ("/healthz", "/readyz") for _ in range(50))


# ------------------------------------------------------------------ the middleware itself, in process

def _guard(limits):
    from console.limits_http import HttpGuard
    from console.service import ApiKey, _err, _State
    state = _State(None, {"k-op": ApiKey(name="alice", role="operator")})
    reached = []

    async def app(scope, receive, send):  # noqa: ANN001
        reached.append(scope["path"])
        while (await receive()).get("more_body"):  # the whole body, as FastAPI reads it
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
    return HttpGuard(app, limits=limits, authenticate=state.caller, reply=_err), reached


def _call(guard, headers, path="/v1/ask"):  # noqa: ANN001
    """One request through the guard; returns (status, headers, body bytes, how often the body was read)."""
    import asyncio
    reads, sent = [], []

    async def receive():  # a 200 KiB body in 1 KiB pieces
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": len(reads) < 200}

    async def send(message):  # noqa: ANN001
        sent.append(message)
    scope = {"type": "http", "method": "POST", "path": path, "client": ("203.0.113.9", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(guard(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict((k.decode(), v.decode()) for k, v in start["headers"]), body, len(reads)


def test_early_answers_never_read_a_byte_of_the_body():
    from console.limits_http import HttpLimits
    guard, reached = _guard(HttpLimits(rate_per_key="2/minute", rate_per_address="off"))
    status, headers, body, reads = _call(guard, {"Content-Length": "300000000"})
    assert (status, reads) == (401, 0) and headers["www-authenticate"] == "Bearer"
    assert json.loads(body) == {"detail": "an API key is required: send X-API-Key: KEY or Authorization: Bearer KEY",
                                "errors": []}  # the service's own ErrorBody
    assert _call(guard, {"X-API-Key": "wrong", "Content-Length": "10"})[::3] == (401, 0)
    assert _call(guard, {"X-API-Key": "k-op", "Content-Length": "300000000"})[::3] == (413, 0)
    status, _, _, reads = _call(guard, {"X-API-Key": "k-op", "Transfer-Encoding": "chunked"})
    assert (status, reads) == (413, 65)  # counted as it came: refused at the first 1 KiB past 64 KiB
    status, headers, body, reads = _call(guard, {"X-API-Key": "k-op", "Content-Length": "10"})
    assert (status, reads) == (429, 0) and int(headers["retry-after"]) >= 1 and b"API key 'alice'" in body
    assert reached == ["/v1/ask"]  # only the chunked request reached the app (and it sent nothing after the 413)
    assert _call(guard, {}, path="/healthz")[0] == 200  # probes pass straight through


def test_an_embedded_app_caps_bodies_and_rate_limits_only_when_told(monkeypatch):
    from fastapi.testclient import TestClient

    from console.service import create_app
    monkeypatch.delenv("RISKDESK_RATE_PER_KEY", raising=False)
    with TestClient(create_app(None, {"k-op": ("alice", "operator")}, open_desk=lambda: None, web=False)) as c:
        assert {c.get("/v1/me", headers={"X-API-Key": "k-op"}).status_code for _ in range(30)} == {200}
        r = c.post("/v1/ask", content=b"x" * (CAP + 1), headers={"X-API-Key": "k-op"})
        assert r.status_code == 413 and "at most 65536 bytes" in r.json()["detail"]
    monkeypatch.setenv("RISKDESK_RATE_PER_KEY", "5/minute")
    with TestClient(create_app(None, {"k-op": ("alice", "operator")}, open_desk=lambda: None, web=False)) as c:
        codes = [c.get("/v1/me", headers={"X-API-Key": "k-op"}).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2


# ------------------------------------------------------------------ settings

@pytest.mark.parametrize("args, words", [
    (["--max-body", "10"], "--max-body: Input should be greater than or equal to 1024"),
    (["--rate-per-key", "lots"], "--rate-per-key: 'lots' is not a rate limit"),
    (["--rate-per-address", "0/second"], "each limit allows at least 1"),
    (["--header-timeout", "0"], "--header-timeout: Input should be greater than 0"),
    (["--max-connections", "2"], "--max-connections: Input should be greater than or equal to 8"),
])
def test_bad_limit_settings_are_refused_before_the_service_starts(args, words):
    from console.cli import app
    r = CliRunner().invoke(app, ["serve", "--port", "0", *args])
    assert r.exit_code == 2 and words in r.output, r.output


def test_the_connection_cap_fits_under_the_open_file_limit():
    """Each connection is a descriptor: the cap raises the soft limit when the hard one allows, else it is
    lowered to leave room for the service's own files (in a child process: limits cannot be raised back)."""
    import subprocess
    import sys
    code = ("import resource; from console.limits_http import HttpLimits\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (300, 4000))\n"
            "fit, warning = HttpLimits(max_connections=1000).fit_descriptors()\n"
            "print(fit.max_connections, resource.getrlimit(resource.RLIMIT_NOFILE)[0], warning)\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (600, 600))\n"
            "fit, warning = HttpLimits(max_connections=1000).fit_descriptors()\n"
            "print(fit.max_connections, resource.getrlimit(resource.RLIMIT_NOFILE)[0], warning)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert out[0] == "1000 1256 None"                  # soft limit raised to the cap plus 256 of reserve
    assert out[1].startswith("344 600 the open-file limit is 600: at most 344 connections")
