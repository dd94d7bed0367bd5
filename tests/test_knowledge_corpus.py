"""The shipped corpus: required clause ids, dates, and the validator's errors on malformed documents."""
import datetime as dt
import textwrap

import pytest

from knowledge import CorpusError, load_corpus, parse_document
from tools.rules import RULE_CLAUSES

REQUIRED = {"PBOC-REPAIR-SCOPE", "PBOC-REPAIR-R1", "PBOC-REPAIR-R2", "PBOC-REPAIR-R3", "PBOC-REPAIR-R4",
            "FINCOST-CAP-2026", "FINCOST-CAP-24", "LENDER-LIMIT-LOOKUP", "SUBSIDY-2025", "MATERIALS-LIMIT-INCREASE",
            *{f"LENDER-TQ-TQ{i}" for i in range(1, 8)}}

GOOD = textwrap.dedent("""\
    ---
    doc_id: T-DOC
    title: 测试 / Test
    issuer: 测试 / Test
    source: test
    effective_from: 2026-01-01
    effective_to: open
    version: "1"
    language: zh+en
    ---
    ## T-ONE · 一 / One
    zh: 第一条。
    en: Clause one.
    """)


@pytest.fixture(scope="module")
def clauses():
    return {c.clause_id: c for d in load_corpus() for c in d.clauses}


def test_required_clause_ids_exist(clauses):
    assert REQUIRED <= set(clauses)
    assert set(RULE_CLAUSES.values()) <= set(clauses)  # every clause a tool cites


def test_every_clause_is_bilingual_and_dated(clauses):
    for c in clauses.values():
        assert c.text_zh and c.text_en and c.title and c.version and c.source
        assert c.effective_to is None or c.effective_from <= c.effective_to


def test_some_clauses_are_not_always_in_force(clauses):
    assert clauses["FINCOST-CAP-24"].effective_to == dt.date(2025, 12, 31)
    assert clauses["FINCOST-CAP-36"].effective_to < dt.date(2021, 1, 1)
    assert clauses["FINCOST-CAP-2026"].effective_from == dt.date(2026, 1, 1)
    assert clauses["PBOC-REPAIR-R2"].effective_from == dt.date(2025, 12, 22) and clauses["PBOC-REPAIR-R2"].effective_to is None


def test_key_facts_are_carried(clauses):
    assert "10,000" in clauses["PBOC-REPAIR-R2"].text_en and "no cap" in clauses["PBOC-REPAIR-R2"].text_en
    assert "2026" in clauses["PBOC-REPAIR-R3"].text_zh and "5年" in clauses["PBOC-REPAIR-R3"].text_zh
    assert "min(20,000, max(5,000, 2 x base limit))" in clauses["LENDER-TQ-TQ3"].text_en
    assert "2026-12-21" in clauses["LENDER-TQ-TQ6"].text_en
    assert "11.56%" in clauses["FINCOST-2025-FIGURES"].text_zh


def test_good_document_parses(tmp_path):
    p = tmp_path / "t.md"
    p.write_text(GOOD, encoding="utf-8")
    [c] = parse_document(p).clauses
    assert (c.clause_id, c.doc_id, c.text_zh, c.text_en, c.effective_to) == ("T-ONE", "T-DOC", "第一条。", "Clause one.", None)
    assert c.title == "一 / One"


@pytest.mark.parametrize("mutate, problem", [
    (lambda s: s.replace("issuer: 测试 / Test\n", ""), "missing field(s): issuer"),
    (lambda s: s.replace("effective_from: 2026-01-01", "effective_from: 2026-02-30"), "effective_from must be YYYY-MM-DD"),
    (lambda s: s.replace("effective_to: open", "effective_to: someday"), "effective_to must be YYYY-MM-DD or open"),
    (lambda s: s + "\n## T-ONE · again / Again\nzh: 又一条。\nen: Again.\n", "duplicate clause_id T-ONE"),
    (lambda s: s.replace("zh: 第一条。\n", ""), "clause T-ONE has no zh text"),
    (lambda s: s.replace("zh: 第一条。\nen: Clause one.\n", ""), "clause T-ONE has no zh text"),
    (lambda s: s.replace("---\ndoc_id", "doc_id", 1), "missing YAML front matter"),
    (lambda s: s.replace("en: Clause one.", "en: Clause one.\n\nstray paragraph"), "unexpected line"),
    (lambda s: s.replace("language: zh+en", "language: fr"), "language must be one of"),
])
def test_malformed_documents_name_the_file_and_problem(tmp_path, mutate, problem):
    p = tmp_path / "bad.md"
    p.write_text(mutate(GOOD), encoding="utf-8")
    with pytest.raises(CorpusError) as e:
        parse_document(p)
    assert "bad.md" in str(e.value) and problem in str(e.value)


def test_duplicate_clause_across_files(tmp_path):
    (tmp_path / "a.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.md").write_text(GOOD.replace("T-DOC", "T-DOC2"), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"b\.md: duplicate clause_id T-ONE \(also in .*a\.md\)"):
        load_corpus(tmp_path)
