"""A real webhook receiver on loopback for the event tests: records every POST, answers 200 (or `status`),
and drops duplicates by event id the way a receiver should."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, port: int, status: int = 200):
        self.port, self.status = port, status
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> "Receiver":
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with me._lock:
                    me.calls.append(({**dict(self.headers), "_path": self.path}, body))
                self.send_response(me.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_a) -> None:  # noqa: ANN002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def unique(self) -> dict[str, dict]:
        """Event id -> event, duplicates dropped (what a receiver keeps)."""
        with self._lock:
            return {json.loads(b)["event_id"]: json.loads(b) for _, b in self.calls}
