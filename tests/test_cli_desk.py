"""The command line as operators hit it: a not-found customer exits 1, a bad amount is named before a
missing --purpose, piped tables are plain lines with nothing cut, codes are shown in words, and
`riskdesk audit show` takes any unique prefix of a trace id."""
import json

from typer.testing import CliRunner

from console.cli import app
from tools.ledger import SAMPLE_LEDGER

L = ["--ledger", str(SAMPLE_LEDGER)]
runner = CliRunner()


def test_limit_not_found_exits_1_in_the_operators_language(monkeypatch):
    r = runner.invoke(app, ["limit", "C9999", *L])
    assert r.exit_code == 1 and "Customer C9999 not found" in r.output and "未找到" not in r.output
    monkeypatch.setenv("RISKDESK_LANG", "zh")
    r = runner.invoke(app, ["limit", "C9999", *L])
    assert r.exit_code == 1 and "未找到客户C9999" in r.output


def test_quota_names_the_bad_amount_first():
    r = runner.invoke(app, ["quota", "C1002", "abc", *L])
    assert r.exit_code == 2 and "amount" in r.output and "'abc'" in r.output and "--purpose" not in r.output
    r = runner.invoke(app, ["quota", "C1002", "300", *L])
    assert r.exit_code == 2 and "--purpose is required" in r.output


def test_piped_tables_are_plain_and_whole():
    r = runner.invoke(app, ["repair", "C1022", "--as-of", "2026-01-15", *L])
    assert r.exit_code == 0
    assert "│" not in r.output and "partially_eligible" not in r.output and "partially eligible" in r.output
    assert "overdue since: 2021-03-01" in r.output and "hidden from / repay by: 2026-01-01" in r.output
    q = runner.invoke(app, ["quota", "C1003", "8000", "--purpose", "laptop", "--as-of", "2026-11-23", *L])
    assert "amount_over_5000" not in q.output and "amount above ¥5,000" in q.output and "│" not in q.output


def test_audit_show_takes_a_unique_prefix():
    r = runner.invoke(app, ["ask", "What's C1001's available credit?", "--json", "--as-of", "2026-11-23"])
    assert r.exit_code == 0, r.output
    trace = json.loads(r.stdout)["trace_id"]
    shown = runner.invoke(app, ["audit", "show", trace[:12], "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["trace_id"] == trace
    assert runner.invoke(app, ["audit", "show", trace[:3]]).exit_code == 2          # too short to be unique
    assert runner.invoke(app, ["audit", "show", "ffffffffffff0000"]).exit_code == 2
