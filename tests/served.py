"""`riskdesk serve` in its own process on loopback, for end-to-end tests (events, MCP over HTTP)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest


def serve(home, port: int, keys: dict[str, tuple[str, str]], env: dict[str, str] | None = None,  # noqa: ANN001
          timeout: float = 180) -> subprocess.Popen:
    """Start the service with RISKDESK_HOME=home, these keys (key -> (name, role)) and RISKDESK_TODAY=2026-11-23;
    return once /readyz answers 200 (the test fails, with the service's stderr, otherwise)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("RISKDESK_")}
    full |= {"RISKDESK_HOME": str(home), "RISKDESK_TODAY": "2026-11-23",
             "RISKDESK_API_KEYS": ",".join(f"{k}:{n}:{r}" for k, (n, r) in keys.items()), **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "console", "serve", "--port", str(port), "--log-level", "warning"],
                            env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("the service exited: " + proc.stderr.read().decode(errors="replace"))
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail("the service did not become ready")
