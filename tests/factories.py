"""Build one-customer ledgers for boundary tests."""
from __future__ import annotations

import json
from typing import Any

from tools.ledger import Ledger, parse_ledger


def customer(cid: str = "T1", **over: Any) -> dict[str, Any]:
    c = {"customer_id": cid, "name": "测试", "id_number": "110101199003071234", "phone": "13800138000",
         "occupation": "tester", "risk_tier": "A", "kyc_verified": True, "opened_on": "2024-01-01",
         "status": "active", "credit_line": {"limit": 3000, "used": 0}, "temp_quotas": [], "overdue_records": []}
    c.update(over)
    return c


def record(rid: str = "R1", amount: float | str = 800, since: str = "2023-03-05", repaid: str | None = "2025-10-15",
           product: str = "credit_card") -> dict[str, Any]:
    return {"record_id": rid, "institution": "某银行", "product": product, "amount": amount,
            "overdue_since": since, "repaid_on": repaid}


def ledger_with(*customers: dict[str, Any], url: str = "sqlite://") -> Ledger:
    led = Ledger.open(url)
    led.load(parse_ledger(json.dumps({"customers": list(customers)}, ensure_ascii=False)))
    return led


def free_port() -> int:
    """A loopback port nobody listens on (for a test server)."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
