import json
from decimal import Decimal

from typer.testing import CliRunner

from console.cli import app
from tools.ledger import SAMPLE_LEDGER

runner = CliRunner()
L = ["--ledger", str(SAMPLE_LEDGER)]


def run_json(*args):
    r = runner.invoke(app, [*args, "--json", *L])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_limit_quota_repair_json():
    d = run_json("limit", "C1001", "--as-of", "2026-11-23")
    assert d["total_available"] == "4300.00" and d["temp_quota"]["expires_on"] == "2026-11-30"  # money: decimal strings
    q = run_json("quota", "C1002", "4000", "--purpose", "电动车送外卖", "--as-of", "2026-11-23")
    assert q["outcome"] == "approved" and q["grant"]["expires_on"] == "2026-12-22"
    r = run_json("repair", "C1001", "--as-of", "2026-01-15")
    assert r["outcome"] == "eligible" and r["records"][0]["hidden_from"] == "2026-01-01"


def test_unknown_customer_is_answered():
    assert run_json("limit", "C9999")["outcome"] == "not_found"


def test_bad_arguments_exit_nonzero_with_message():
    for args in (["quota", "C1002", "abc", "-p", "x"], ["limit", "C1001", "--as-of", "2026-13-01"],
                 ["quota", "C1002", "0", "-p", "x"], ["approvals", "approve", "AP-NONE", "--by", "s"]):
        r = runner.invoke(app, [*args, *L])
        assert r.exit_code == 2 and "error:" in r.output, (args, r.output)


def test_approvals_roundtrip_on_default_store(monkeypatch):
    # the persistent store dates writes by the deployment's clock; the CLI decides as a configured identity
    monkeypatch.setenv("RISKDESK_TODAY", "2026-11-23")
    r = runner.invoke(app, ["quota", "C1003", "8000", "-p", "laptop for work", "--as-of", "2026-11-23", "--json"])
    ap = json.loads(r.stdout)["approval_id"]
    listed = json.loads(runner.invoke(app, ["approvals", "list", "--json"]).stdout)
    assert ap in [a["approval_id"] for a in listed]
    monkeypatch.setenv("RISKDESK_OPERATOR", "sup:supervisor")
    ok = runner.invoke(app, ["approvals", "approve", ap, "--as-of", "2026-11-23", "--json"])
    assert Decimal(json.loads(ok.stdout)["grant"]["amount"]) == 8000
