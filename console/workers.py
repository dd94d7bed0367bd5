"""The worker processes of `riskdesk serve --workers N`.

Each worker binds the port itself with SO_REUSEPORT, so the kernel spreads new connections over the
workers by a hash of the connection. (With one shared accept socket, an idle worker takes a whole
burst of new connections at once: 32 keep-alive clients could all land on one worker.) The parent
keeps its own bound, non-listening socket to hold the port, restarts a worker that dies, and on
SIGTERM or Ctrl-C stops them all (each finishes the requests it has, up to 5 s).
"""
from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time

log = logging.getLogger("riskdesk.workers")
RESTARTS_PER_MINUTE = 5
_peers = None  # in a worker: the barrier all first-generation workers pass before they listen


def wait_for_peers() -> None:
    """Called by a worker once its desk is open: wait for the other workers, so that they all start
    listening together and the first burst of connections spreads over all of them."""
    if _peers is not None:
        try:
            _peers.wait(timeout=300)
        except Exception:  # noqa: BLE001 - a peer died or timed out: serve anyway (the parent restarts it)
            log.warning("not every worker became ready; serving anyway")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, log_level: str, peers: object = None) -> None:
    global _peers
    _peers = peers
    import uvicorn
    config = uvicorn.Config("console.service:worker_app", factory=True, log_level=log_level,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[bind(host, port)])


def run(host: str, port: int, workers: int, log_level: str, on_port: object = None) -> int:
    """Start `workers` processes serving host:port; returns when they have stopped (exit status)."""
    holder = bind(host, port)  # holds the port (and resolves port 0) without taking connections
    port = holder.getsockname()[1]
    if callable(on_port):
        on_port(port)
    ctx = multiprocessing.get_context("spawn")
    stopping = False
    restarts: list[float] = []

    peers = ctx.Barrier(workers)

    def start(i: int, first: bool = False) -> multiprocessing.process.BaseProcess:
        p = ctx.Process(target=_worker, args=(host, port, log_level, peers if first else None),
                        name=f"riskdesk-worker-{i}", daemon=False)
        p.start()
        return p

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    procs = [start(i, first=True) for i in range(workers)]
    status = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for i, p in enumerate(procs):
                if p.exitcode is None or stopping:
                    continue
                now = time.monotonic()
                restarts[:] = [t for t in restarts if now - t < 60] + [now]
                if len(restarts) > RESTARTS_PER_MINUTE:
                    log.error("workers keep dying (%d restarts within a minute); stopping", len(restarts) - 1)
                    stopping, status = True, 1
                    break
                log.warning("worker %d exited with %s; starting another", i, p.exitcode)
                procs[i] = start(i)
    finally:
        for p in procs:
            if p.exitcode is None:
                p.terminate()
        deadline = time.monotonic() + 10
        for p in procs:
            p.join(max(0.1, deadline - time.monotonic()))
            if p.exitcode is None:
                p.kill()
                p.join(1)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        holder.close()
    return status
