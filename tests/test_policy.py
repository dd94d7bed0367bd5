"""The policy file (tools/policy.py): versions by date, load errors, export, `policy check` against the clauses,
and a version effective 2027-01-01 deciding through the tools, the CLI, the desk and the HTTP API."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from agents.policy_check import check_policy
from agents.policy_text import states
from knowledge.corpus import load_corpus
from tools import policy as pol
from tools.ledger import SAMPLE_LEDGER, Ledger
from tools.policy import PolicyError, SHIPPED_POLICY, load_policy
from tools.temp_quota import decide, what_if

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "policy" / "policy_2027.toml"
EXAMPLE_CORPUS = ROOT / "examples" / "policy" / "corpus"
SHIPPED_TEXT = SHIPPED_POLICY.read_text(encoding="utf-8")
D26, D27 = dt.date(2026, 12, 31), dt.date(2027, 1, 2)


def clauses(*dirs: Path):
    found = {c.clause_id: c for d in [None, *dirs] for doc in (load_corpus() if d is None else load_corpus(d))
             for c in doc.clauses}
    return found.get


def later(tmp_path: Path, body: str, name: str = "p.toml") -> Path:
    """The shipped policy with one more version appended."""
    p = tmp_path / name
    p.write_text(SHIPPED_TEXT + "\n" + body, encoding="utf-8")
    return p


@pytest.fixture
def use_policy():
    """Put a policy file in force for one test; the shipped (or $RISKDESK_POLICY) one afterwards."""
    before = os.environ.get(pol.POLICY_ENV)
    yield pol.use
    if before is None:
        os.environ.pop(pol.POLICY_ENV, None)
    else:
        os.environ[pol.POLICY_ENV] = before
    pol.use(None)


# ------------------------------------------------------------------ the file

def test_shipped_policy_holds_todays_numbers_and_answers_every_date():
    p = load_policy(SHIPPED_POLICY)
    for day in (dt.date(2023, 6, 1), dt.date(2026, 11, 23), dt.date(2030, 1, 1)):  # before the first version too
        tq = p.in_force(day).temp_quota
        assert (tq.cap_ceiling, tq.cap_floor, tq.auto_approval_max, tq.validity_days) == (20000, 5000, 5000, 30)
    assert p.in_force(D26).repair.max_single_amount == Decimal("10000.00")
    assert p.in_force(D26).clause_for("validity_days") == "LENDER-TQ-TQ6"


def test_a_later_version_changes_only_what_it_lists_and_may_name_other_clauses(tmp_path):
    p = load_policy(later(tmp_path, '[[versions]]\nid = "2027-01"\neffective_from = 2027-01-01\n'
                                    '[versions.temp_quota]\nvalidity_days = 45\n'
                                    '[versions.temp_quota.clauses]\nvalidity_days = "X-TQ6"\n'))
    old, new = p.in_force(D26), p.in_force(D27)
    assert (old.id, new.id) == ("2026-01", "2027-01")
    assert (old.temp_quota.validity_days, new.temp_quota.validity_days) == (30, 45)
    assert new.temp_quota.cap_ceiling == 20000 and new.repair == old.repair  # carried over
    assert new.rule_clause("TQ6") == "X-TQ6" and new.rule_clause("TQ3") == "LENDER-TQ-TQ3"
    assert p.period(old) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31)) and p.period(new) == (dt.date(2027, 1, 1), None)


V27 = '[[versions]]\nid = "2027-01"\neffective_from = 2027-01-01\n'


@pytest.mark.parametrize("body, version, key, reason", [
    (V27 + "[versions.temp_quota]\ncap_celing = 30000\n", "2027-01", "temp_quota.cap_celing", "unknown key"),
    (V27 + "[versions.temp_quota]\nvalidity_days = \"forty\"\n", "2027-01", "temp_quota.validity_days", "whole number"),
    (V27 + "[versions.temp_quota]\ncap_ceiling = 30000.0\n", "2027-01", "temp_quota.cap_ceiling", "never a float"),
    (V27 + "[versions.temp_quota]\ncap_floor = 25000\n", "2027-01", "temp_quota.cap_floor", "above cap_ceiling"),
    (V27, "2027-01", None, "empty version"),
    ('[[versions]]\nid = "2026-07"\neffective_from = 2026-01-01\n[versions.temp_quota]\nvalidity_days = 45\n',
     "2026-07", "effective_from", "same effective_from"),
    (V27 + "[versions.repair]\nrepay_by = \"2026-03-31\"\n", "2027-01", "repair.repay_by", "a date is required"),
    (V27 + "[versions.temp_quota]\neligible_tiers = [\"A\", \"E\"]\n", "2027-01", "temp_quota.eligible_tiers", "A"),
])
def test_a_bad_file_fails_at_load_naming_file_version_key_and_reason(tmp_path, body, version, key, reason):
    path = later(tmp_path, body)
    with pytest.raises(PolicyError) as e:
        load_policy(path)
    assert e.value.path == str(path) and e.value.version == version and e.value.key == key
    assert reason in e.value.reason and str(path) in str(e.value)


def test_a_bad_file_leaves_the_policy_in_force_unchanged(tmp_path, use_policy):
    bad = later(tmp_path, V27 + "[versions.temp_quota]\nauto_approval_max = 8000.5\n")
    before = pol.active()
    with pytest.raises(PolicyError):
        use_policy(bad)
    assert pol.active() is before


def test_export_writes_every_version_in_the_file_format(tmp_path):
    p = load_policy(EXAMPLE)
    again = tmp_path / "exported.toml"
    again.write_text(pol.dump_toml(p), encoding="utf-8")
    q = load_policy(again)
    assert [v.model_dump(exclude={"changes"}) for v in q.versions] == [v.model_dump(exclude={"changes"}) for v in p.versions]
    assert set(q.versions[1].changes) == set(p.versions[1].changes)  # a later version still lists only its changes


# ------------------------------------------------------------------ policy check

@pytest.mark.parametrize("parameter, value, text", [
    ("validity_days", 30, "自发放之日起30天内有效"), ("validity_days", 30, "有效期三十天"),
    ("validity_days", 30, "valid for 30 days"), ("validity_days", 45, "valid for forty-five days"),
    ("cap_ceiling", Decimal(20000), "最高¥20,000"), ("cap_ceiling", Decimal(20000), "最高2万"),
    ("cap_ceiling", Decimal(20000), "at most 20,000 yuan"), ("cap_ceiling", Decimal(20000), "最高两万元"),
    ("ordinary_retention_years", 5, "kept for five years"), ("ordinary_retention_years", 5, "保存5年"),
    ("repay_by", dt.date(2026, 3, 31), "在2026年3月31日前还清"), ("repay_by", dt.date(2026, 3, 31), "by 31 March 2026"),
    ("eligible_tiers", ("A", "B", "C"), "风险等级为A、B或C"), ("cap_multiplier", Decimal(2), "两倍基础额度"),
])
def test_a_value_is_read_in_any_usual_notation(parameter, value, text):
    assert states(parameter, value, text)


@pytest.mark.parametrize("parameter, value, text", [
    ("validity_days", 45, "自发放之日起30天内有效"), ("cap_ceiling", Decimal(30000), "最高¥20,000"),
    ("eligible_tiers", ("A", "B"), "风险等级为A、B或C"), ("repay_by", dt.date(2026, 4, 30), "by 31 March 2026"),
])
def test_a_value_the_text_does_not_state_is_not_read_into_it(parameter, value, text):
    assert not states(parameter, value, text)


def test_the_shipped_policy_passes_the_check():
    assert check_policy(load_policy(SHIPPED_POLICY), clauses()) == []


def test_validity_45_against_a_clause_saying_30_fails_naming_both(tmp_path):
    p = load_policy(later(tmp_path, V27 + "[versions.temp_quota]\nvalidity_days = 45\n"))
    found = check_policy(p, clauses())
    assert {(m.version, m.parameter, m.clause_id, m.value, m.language) for m in found} == {
        ("2027-01", "validity_days", "LENDER-TQ-TQ6", "45", "zh"), ("2027-01", "validity_days", "LENDER-TQ-TQ6", "45", "en")}
    assert all(m.clause_says == ["30"] and "30" in m.line() and "45" in m.line() for m in found)


def test_moving_the_cap_ceiling_without_a_clause_stating_it_fails(tmp_path):
    p = load_policy(later(tmp_path, V27 + "[versions.temp_quota]\ncap_ceiling = 30000\n"))
    found = check_policy(p, clauses())
    assert {(m.parameter, m.clause_id, m.value) for m in found} == {("cap_ceiling", "LENDER-TQ-TQ3", "30000")}
    assert "20000" in found[0].clause_says


def test_a_clause_not_in_force_over_the_version_or_missing_fails(tmp_path):
    # the 2027 clauses named by a version that starts in 2026: not in force over its whole period
    body = V27.replace("2027-01-01", "2026-07-01") + \
        '[versions.temp_quota]\nvalidity_days = 45\n[versions.temp_quota.clauses]\nvalidity_days = "LENDER-TQ27-TQ6"\n'
    found = check_policy(load_policy(later(tmp_path, body)), clauses(EXAMPLE_CORPUS))
    assert [(m.parameter, m.reason) for m in found] == [("validity_days", "clause_not_in_force")]
    found = check_policy(load_policy(EXAMPLE), clauses())  # the example's 2027 clauses not in the knowledge base
    assert {m.reason for m in found} == {"clause_not_found"} and {m.version for m in found} == {"2027-01"}
    assert check_policy(load_policy(EXAMPLE), clauses(EXAMPLE_CORPUS)) == []


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300)


def test_policy_check_cli_exits_non_zero_on_drift_and_zero_on_the_shipped_policy(tmp_path):
    ok = _cli("policy", "check")
    assert ok.returncode == 0, ok.stderr
    bad = _cli("policy", "check", "--policy", str(later(tmp_path, V27 + "[versions.temp_quota]\nvalidity_days = 45\n")),
               "--json")
    assert bad.returncode == 1
    found = json.loads(bad.stdout)["mismatches"]
    assert {(m["parameter"], m["value"], tuple(m["clause_says"])) for m in found} == {("validity_days", "45", ("30",))}
    broken = _cli("quota", "C1003", "100", "-p", "work_tools", "--ledger", str(SAMPLE_LEDGER),
                  env={pol.POLICY_ENV: str(later(tmp_path, V27 + "[versions.temp_quota]\ncap_floor = 1.5\n", "b.toml"))})
    assert broken.returncode == 2 and "version 2027-01: temp_quota.cap_floor" in " ".join(broken.stderr.split())


def test_policy_show_and_export(tmp_path):
    shown = _cli("policy", "show", "--as-of", "2027-01-02", "--json", "--policy", str(EXAMPLE))
    data = json.loads(shown.stdout)
    assert data["version"] == "2027-01"
    row = {r["parameter"]: r for r in data["parameters"]}["validity_days"]
    assert row == {"table": "temp_quota", "parameter": "validity_days", "value": 45, "clause_id": "LENDER-TQ27-TQ6"}
    exported = _cli("policy", "export", "--policy", str(EXAMPLE))
    (tmp_path / "e.toml").write_text(exported.stdout, encoding="utf-8")
    assert [v.id for v in load_policy(tmp_path / "e.toml").versions] == ["2026-01", "2027-01"]


# ------------------------------------------------------------------ a version effective 2027-01-01 decides

def test_the_2027_version_changes_decisions_after_it_and_none_before(use_policy):
    led = Ledger.from_file(SAMPLE_LEDGER)
    c = led.customer("C1012")  # tier A, base limit 15,000: cap 20,000 -> 30,000
    shipped = {day: [decide(c, Decimal(a), "work_tools", day) for a in (7000, 25000)] for day in (D26, D27)}
    use_policy(EXAMPLE)
    now = {day: [decide(c, Decimal(a), "work_tools", day) for a in (7000, 25000)] for day in (D26, D27)}
    strip = {"policy_version"}
    assert [r.model_dump(exclude=strip) for r in now[D26]] == [r.model_dump(exclude=strip) for r in shipped[D26]]
    assert [r.outcome for r in shipped[D27]] == ["needs_approval", "denied"]
    approved, pending = now[D27]
    assert approved.outcome == "approved" and approved.grant.expires_on == dt.date(2027, 2, 15)  # 45 days
    assert pending.outcome == "needs_approval" and pending.cap == Decimal("30000") and pending.policy_version == "2027-01"
    assert what_if(led, "C1012", "7000", "work_tools", D27).outcome == "approved"


def test_quota_cli_with_policy_decides_by_the_version_of_as_of():
    def quota(day: str, *extra: str) -> dict:
        r = _cli("quota", "C1003", "7000", "-p", "work_tools", "--as-of", day, "--ledger", str(SAMPLE_LEDGER), "--json",
                 *extra)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    assert quota("2027-01-02")["outcome"] == "needs_approval"
    new = quota("2027-01-02", "--policy", str(EXAMPLE))
    assert (new["outcome"], new["grant"]["expires_on"]) == ("approved", "2027-02-15")
    assert quota("2026-12-31", "--policy", str(EXAMPLE))["outcome"] == "needs_approval"


@pytest.fixture(scope="module")
def kb2027(tmp_path_factory):
    """A knowledge base holding the shipped corpus and the lender's 2027 clauses."""
    from knowledge.store import KnowledgeBase
    kb = KnowledgeBase.open(tmp_path_factory.mktemp("kb2027"))
    kb.ingest()
    kb.ingest(EXAMPLE_CORPUS)
    return kb


def test_ask_and_http_decide_by_the_2027_version_and_cite_its_clauses(kb2027, tmp_path, use_policy):
    from fastapi.testclient import TestClient

    from agents import Desk
    from agents.audit import AuditLog
    from console.service import create_app
    use_policy(EXAMPLE)
    ledger = Ledger.from_file(SAMPLE_LEDGER, url=f"sqlite:///{tmp_path / 'l.sqlite3'}")
    desk = Desk(ledger, kb2027, audit=AuditLog(f"sqlite:///{tmp_path / 'a.sqlite3'}"),
                threads_path=tmp_path / "t.sqlite3")
    try:
        before = desk.ask("C1003 temp quota 7000 for work tools", as_of="2026-12-31")
        assert before.outcome == "needs_approval" and "LENDER-TQ-TQ5" in before.answer
        after = desk.ask("C1003 temp quota 7000 for work tools", as_of="2027-01-02")
        assert after.outcome == "approved" and after.guard.grounded, after.guard
        assert "2027-02-15" in after.answer and "[LENDER-TQ27-TQ6]" in after.answer
        keys = {"k-op": ("alice", "operator")}
        with TestClient(create_app(desk, keys)) as client:
            r = client.post("/v1/ask", json={"message": "C1007 临时额度25000 买电脑工作用", "as_of": "2027-01-02"},
                            headers={"X-API-Key": "k-op"}).json()
            assert r["outcome"] == "denied" and "¥8,000" not in r["answer"]  # C1007: cap 8,000 (2 x 4,000)
            r = client.post("/v1/ask", json={"message": "C1012 临时额度25000 买电脑工作用", "as_of": "2027-01-02"},
                            headers={"X-API-Key": "k-op"}).json()
            assert r["outcome"] == "needs_approval" and r["guard"]["grounded"], r  # cap 30,000 in 2027
            r = client.post("/v1/ask", json={"message": "C1012 临时额度25000 买电脑工作用", "as_of": "2026-12-31"},
                            headers={"X-API-Key": "k-op"}).json()
            assert r["outcome"] == "denied" and "¥20,000" in r["answer"]
    finally:
        desk.close()


# ------------------------------------------------------------------ text and parameter disagree

def test_a_reply_never_quotes_a_clause_as_support_for_a_number_it_contradicts(kb, tmp_path, use_policy):
    from agents import Desk
    from agents.audit import AuditLog
    from agents.guard import build_evidence, check
    drifted = later(tmp_path, V27 + "[versions.temp_quota]\nvalidity_days = 45\n")
    use_policy(drifted)
    ledger = Ledger.from_file(SAMPLE_LEDGER)
    desk = Desk(ledger, kb, audit=AuditLog(f"sqlite:///{tmp_path / 'a.sqlite3'}"), threads_path=tmp_path / "t.sqlite3")
    try:
        r = desk.ask("C1003 temp quota 3000 for work tools", as_of="2027-01-02")
        assert r.outcome == "approved" and r.guard.grounded, r.guard
        assert "disagree" in r.answer and "45" in r.answer and "[LENDER-TQ-TQ6]" in r.answer
        zh = desk.ask("给C1012申请3000元临时额度，买电脑工作用", as_of="2027-01-02")
        assert "不一致" in zh.answer and zh.guard.grounded
        # the same reply without the statement that they disagree: a silent contradiction, ungrounded
        result = next(c.result for c in r.tool_calls)
        clause = kb.get("LENDER-TQ-TQ6")
        ev = build_evidence([], [result], [{"clause_id": clause.clause_id, "title": clause.title, "text": clause.text_en}])
        silent = "\n".join(line for line in r.answer.splitlines() if "disagree" not in line)
        verdict, _ = check(silent, ev, require_complete=False)
        assert "silent_contradiction:LENDER-TQ-TQ6:validity_days" in verdict.ungrounded
        # before 2027 the shipped numbers apply and nothing is said
        old = desk.ask("C1011 temp quota 3000 for work tools", as_of="2026-12-31")
        assert old.outcome == "approved" and "disagree" not in old.answer and "2027-01-29" in old.answer
    finally:
        desk.close()


def test_serve_and_chat_warn_at_start_when_the_policy_and_its_clauses_disagree(tmp_path, capsys):
    from console.policy_cli import WARN_AT_START, warn_if_drift
    assert WARN_AT_START == {"chat", "serve"}
    warn_if_drift(load_policy(SHIPPED_POLICY))
    assert "warning" not in capsys.readouterr().err
    warn_if_drift(load_policy(later(tmp_path, V27 + "[versions.temp_quota]\nvalidity_days = 45\n")))
    said = " ".join(capsys.readouterr().err.split())
    assert "warning" in said and "disagree in 2 place(s)" in said and "validity_days = 45" in said
