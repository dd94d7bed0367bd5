"""The metamorphic suite's transformations, checked without running the agent: a renamed fixture
still loads, an amount rewrite denotes the same value and a date rewrite the same date (read back
by parsers written here, independent of evals/notations.py), a typo is one edit of one keyword,
and the invariance score counts what it claims."""
from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from decimal import Decimal

import pytest

from evals import metamorphic as MM
from evals import notations as N
from evals.cases import load_suite
from evals.compare import compare, slim
from evals.invariance import invariance, original_of, renamed_back, transformation
from evals.report import render
from evals.results import CaseResult, RunMeta, RunResults, TurnResult
from evals.runner import load_cases, suite_report
from tools.ledger import parse_ledger

FORMATS = {"digits": r"\d{10}", "cus": r"CUS-\d{6}", "zx": r"ZX20\d\d-\d{4}", "m": r"m_\d{5}", "fullwidth": r"CUS-\d{6}"}


@pytest.fixture(scope="module")
def core():
    return load_suite("core")


@pytest.fixture(scope="module")
def suite(core):
    return MM.build(core)


def by_kind(suite, prefix):
    return [c for c in suite if (transformation(c.tags) or "").startswith(prefix)]


def originals(suite):
    return {c.id: c for c in suite if "meta:original" in c.tags}


# ---------------------------------------------------------------- independent readers
CN = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNIT = {"十": 10, "百": 100, "千": 1000}


def read_chinese(s: str) -> int:
    total, section, digit = 0, 0, 0
    for ch in s:
        if ch in CN:
            digit = CN[ch]
        elif ch in CN_UNIT:
            section += (digit or 1) * CN_UNIT[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit) * 10000
            section = digit = 0
        else:
            raise ValueError(ch)
    return total + section + digit


AMOUNT_RX = r"(?:¥|RMB )?\d[\d,]*(?:\.\d+)?(?:k|千|万)?(?:元|块| yuan)?|[零一二两三四五六七八九十百千万]+元"


def read_amount(s: str) -> Decimal:
    s = s.strip().removesuffix("元").removesuffix("块").removesuffix(" yuan").strip()
    s = s.removeprefix("¥").removeprefix("RMB").strip().replace(",", "")
    if s and all(ch in CN or ch in CN_UNIT or ch == "万" for ch in s):
        return Decimal(read_chinese(s))
    for suffix, scale in (("千", 1000), ("k", 1000), ("万", 10000)):
        if s.endswith(suffix):
            return Decimal(s[:-1]) * scale
    return Decimal(s)


MONTH = {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}


def read_date(s: str) -> dt.date:
    for rx, order in ((r"(\d{4})年(\d{1,2})月(\d{1,2})日", "ymd"), (r"(\d{4})-(\d{2})-(\d{2})", "ymd"),
                      (r"(\d{4})/(\d{1,2})/(\d{1,2})", "ymd"), (r"(\d{1,2})/(\d{1,2})/(\d{4})", "dmy"),
                      (r"([A-Z][a-z]{2}) (\d{1,2}), (\d{4})", "mdy"), (r"(\d{1,2}) ([A-Z][a-z]+) (\d{4})", "dmy")):
        m = re.search(rx, s)
        if m:
            a, b, c = m.groups()
            if order == "ymd":
                return dt.date(int(a), int(b), int(c))
            if order == "mdy":
                return dt.date(int(c), MONTH[a[:3].lower()], int(b))
            month = MONTH[b[:3].lower()] if b.isalpha() else int(b)
            assert int(a) > 12 or b.isalpha(), f"ambiguous day-first date written: {s}"
            return dt.date(int(c), month, int(a))
    raise ValueError(f"no date in {s!r}")


# ---------------------------------------------------------------- the suite as a whole
def test_suite_is_big_deterministic_and_linked(suite, core):
    variants = [c for c in suite if transformation(c.tags)]
    assert len(variants) >= 600
    again = MM.build(core)
    assert [c.model_dump(mode="json") for c in again] == [c.model_dump(mode="json") for c in suite]
    ids = [c.id for c in suite]
    assert len(ids) == len(set(ids))
    origs = originals(suite)
    assert all(original_of(v.tags) in origs for v in variants)
    families = {transformation(v.tags).split(":")[0] for v in variants}
    assert families == {"id", "amount", "date", "lang", "filler", "typo", "order"}
    assert all(c.suite == "metamorphic" for c in suite)
    assert [c.id for c in load_cases("metamorphic")] == ids
    # every core case that names a customer gets every id format
    named = [c for c in core if any(re.search(re.escape(t.expect.customer_id or "\0"), t.say or "") for t in c.turns)]
    for c in named:
        got = {transformation(v.tags) for v in variants if original_of(v.tags) == c.id}
        assert {f"id:{f}" for f in N.ID_FORMATS} <= got, c.id


def test_renamed_fixtures_load_and_ids_differ_per_customer(suite):
    sample_ids = {c["customer_id"] for c in json.loads(load_suite("core")[0].ledger_json())["customers"]}
    for fmt, rx in FORMATS.items():
        cases = by_kind(suite, f"id:{fmt}")
        assert cases
        fixture = parse_ledger(cases[0].ledger_json(), f"id:{fmt}")
        new = [c.customer_id for c in fixture.customers]
        assert len(new) == len(set(new)) == len(sample_ids)
        assert all(re.fullmatch(rx, i) for i in new), new[:5]
        assert not set(new) & sample_ids
        # one renaming per fixture: every case of this format holds the same ledger
        assert len({c.ledger_json() for c in cases}) == 1
        for c in cases:
            back = renamed_back(c.tags)
            for t in c.turns:
                if t.say is None:
                    continue
                assert not any(re.search(rf"(?<![A-Za-z0-9]){old}(?![0-9])", t.say) for old in back.values()), t.say
                if t.expect.customer_id and t.expect.customer_id in back:
                    typed = unicodedata.normalize("NFKC", t.say)
                    if fmt == "cus" and t.expect.customer_id in new:
                        assert t.expect.customer_id.lower() in t.say and t.expect.customer_id not in t.say
                    if fmt == "fullwidth" and t.expect.customer_id in new:
                        assert t.expect.customer_id not in t.say and t.expect.customer_id in typed
    a, b = N.id_map(sorted(sample_ids), "zx"), N.id_map(sorted(sample_ids), "zx", seed=14)
    assert a == N.id_map(sorted(sample_ids), "zx") and a != b


def test_unknown_customer_stays_unknown(suite):
    for c in suite:
        if transformation(c.tags) and transformation(c.tags).startswith("id:") and "unknown-customer" in c.tags:
            ledger_ids = {x.customer_id for x in parse_ledger(c.ledger_json()).customers}
            expected = {t.expect.customer_id for t in c.turns if t.expect.customer_id}
            assert expected - ledger_ids, c.id


def test_amount_rewrites_denote_the_same_value(suite):
    origs = originals(suite)
    seen = set()
    for v in by_kind(suite, "amount:"):
        o = origs[original_of(v.tags)]
        for tv, to in zip(v.turns, o.turns):
            if tv.say == to.say:
                continue
            amount = Decimal(str(next(c.args["amount"] for c in to.expect.tool_calls if "amount" in c.args)))
            rest = tv.say.replace(to.expect.customer_id, " ")
            found = re.findall(AMOUNT_RX, rest)
            assert len(found) == 1, (v.id, found)
            assert read_amount(found[0]) == amount, (v.id, found[0])
            seen.add(transformation(v.tags))
    assert seen == {f"amount:{n}" for n in N.AMOUNT_NOTATIONS}
    assert N.hanzi(4000) == "四千" and N.hanzi(20001) == "两万零一" and N.hanzi(25000) == "两万五千"
    assert N.hanzi(5001) == "五千零一" and N.hanzi(2500) == "两千五百" and N.hanzi(15000) == "一万五千"
    assert all(read_chinese(N.hanzi(n)) == n for n in (1, 10, 101, 1010, 9001, 10010, 20500, 99999, 120000))
    # only exact notations: 5,001 has no k / 千 / 万 form
    assert N.rewrite_amount("C1 temp quota 5001 for x", Decimal(5001), "k", "en") is None
    assert N.rewrite_amount("C1 temp quota 5001 for x", Decimal(5001), "wan", "en") is None
    # an amount inside a longer number or an id is not rewritten
    assert N.amount_span("C14000 要40000元", Decimal(4000)) is None


def test_date_rewrites_parse_to_the_same_date(suite):
    origs = originals(suite)
    seen = set()
    for v in by_kind(suite, "date:"):
        o = origs[original_of(v.tags)]
        msg_v, msg_o = v.turns[0].say, o.turns[0].say
        try:
            asked = read_date(msg_o)  # the original already wrote a date: the rewrite keeps it
            assert v.as_of == o.as_of
        except ValueError:
            asked = o.as_of  # the date was written in; the session moved to a day the rules decide differently
            assert v.as_of != o.as_of
            assert re.search(r"截至|截止|as of|as at", msg_v)
        assert read_date(msg_v) == asked, (v.id, msg_v)
        seen.add(transformation(v.tags))
    assert seen == {f"date:{n}" for n in N.DATE_NOTATIONS}
    assert N.DATE_NOTATIONS["dmy"][1](dt.date(2026, 3, 1)) is None  # 01/03 is ambiguous: never written


def test_typo_is_one_edit_in_one_keyword(suite):
    origs = originals(suite)
    cases = by_kind(suite, "typo")
    assert cases
    for v in cases:
        o = origs[original_of(v.tags)]
        diffs = [(a.say, b.say) for a, b in zip(o.turns, v.turns) if a.say != b.say]
        assert len(diffs) == 1
        wa, wb = re.findall(r"\S+", diffs[0][0]), re.findall(r"\S+", diffs[0][1])
        changed = [(x, y) for x, y in zip(wa, wb) if x != y]
        assert len(wa) == len(wb) and len(changed) == 1, (v.id, diffs)
        x, y = (re.sub(r"[^A-Za-z]", "", s) for s in changed[0])
        assert x.lower() in MM.KEYWORDS
        swapped = len(x) == len(y) and sorted(x) == sorted(y) and sum(p != q for p, q in zip(x, y)) == 2
        dropped = len(y) == len(x) - 1 and any(x[:i] + x[i + 1:] == y for i in range(len(x)))
        assert swapped or dropped, (x, y)


def test_order_moves_the_customer_and_lang_switches_language(suite):
    origs = originals(suite)
    for v in by_kind(suite, "order"):
        o = origs[original_of(v.tags)]
        cid = o.turns[0].expect.customer_id
        msg = v.turns[0].say
        assert msg != o.turns[0].say
        assert re.search(rf"(customer |客户){cid}\W*$", msg) or msg.startswith(f"{cid}:"), msg
    for v in by_kind(suite, "lang:"):
        o = origs[original_of(v.tags)]
        assert v.language != o.language
        says = [t.say for t in v.turns if t.say]
        assert all(bool(re.search(r"[\u4e00-\u9fff]", s)) == (v.language == "zh") for s in says), says
        if transformation(v.tags) == "lang:glossary":
            assert [t.expect for t in v.turns] == [t.expect for t in o.turns]
            assert v.end_state == o.end_state


def test_filler_keeps_the_message_inside(suite):
    origs = originals(suite)
    for v in by_kind(suite, "filler"):
        o = origs[original_of(v.tags)]
        first = next(t.say for t in o.turns if t.say)
        assert first in v.turns[0].say and v.turns[0].say != first


# ---------------------------------------------------------------- the score
def _result(case_id, tags, passed=True, outcome="approved", customer="C1", lang="zh", grants=None):
    turn = TurnResult(index=0, kind="say", message="m", role="operator", as_of="2026-11-23", intent="temp_quota",
                      outcome=outcome, customer_id=customer,
                      tool_calls=[{"tool": "temp_quota", "args": {}, "result": {"outcome": outcome, "deciding_rule": "TQ5"}}])
    return CaseResult(case_id=case_id, suite="metamorphic", tags=tags, language=lang, intent="temp_quota", passed=passed,
                      turns=[turn], end_state={"grants": grants or [], "approvals": []})


def test_invariance_counts_pass_and_agreement():
    g = [{"customer_id": "C1", "amount": 4000.0, "granted_on": "2026-11-23", "expires_on": "2026-12-22"}]
    g2 = [{**g[0], "customer_id": "4402198812"}]
    res = [
        _result("a", ["meta:original"], grants=g),
        _result("a--filler", ["meta:filler", "meta_of:a"], grants=g),                                    # invariant
        _result("a--id-digits", ["meta:id:digits", "meta_of:a", "meta_rename:C1>4402198812"],
                customer="4402198812", grants=g2),                                                         # invariant (renamed back)
        _result("a--id-m", ["meta:id:m", "meta_of:a", "meta_rename:C1>m_1"], customer="C1", grants=g),   # wrong customer
        _result("a--typo", ["meta:typo", "meta_of:a"], passed=False, grants=g),                         # agreed, failed a check
        _result("a--order", ["meta:order", "meta_of:a"], outcome="needs_approval"),                      # other outcome
        _result("b--filler", ["meta:filler", "meta_of:b"]),                                              # original not run
    ]
    rates, detail = invariance(res)
    assert rates["id:digits"].value == 1.0 and rates["id:m"].value == 0.0
    assert (rates["filler"].num, rates["filler"].n) == (1, 2)
    assert rates["typo"].value == 0.0 and rates["order"].value == 0.0
    assert (rates["id"].num, rates["id"].n) == (1, 2) and (rates["all"].num, rates["all"].n) == (2, 6)
    assert detail["counts"]["typo"]["agreed"] == 1 and detail["counts"]["all@zh"]["variants"] == 6
    reasons = {b["variant"]: b["reason"] for b in detail["broken"]}
    assert "customer" in reasons["a--id-m"] and "outcome" in reasons["a--order"] and "not run" in reasons["b--filler"]
    assert detail["broken_total"] == 4

    rep = suite_report("metamorphic", res)
    assert rep.summary.invariance == rates and rep.invariance["broken_total"] == 4
    plain = suite_report("core", [_result("a", [])])
    assert plain.summary.invariance == {} and plain.invariance is None
    page = render(RunResults(meta=RunMeta(created_at="t", planner="rules"), suites={"metamorphic": rep, "core": plain},
                             cases=res))
    assert page.count("<h3>Invariance (metamorphic)</h3>") == 1
    assert "<td>id:m</td><td>1</td><td>1</td><td>0</td><td class=bad>0.0% (0/1)</td>" in page
    assert "4 variants not invariant" in page and "a--id-m" in page

    # the baseline gate compares the invariance rates: a drop is a regression
    def run(reps):
        return {"meta": {}, "suites": {"metamorphic": reps.model_dump(mode="json")}, "cases": []}
    base = slim(run(rep))
    worse = suite_report("metamorphic", [r if r.case_id != "a--filler" else r.model_copy(update={"passed": False})
                                         for r in res])
    cmp = compare(base, slim(run(worse)))
    assert any(r.regression and r.metric == "metamorphic.invariance.filler" for r in cmp.rows)
    assert not any(r.regression for r in compare(base, base).rows)
