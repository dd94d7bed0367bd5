"""Flat as the knowledge base grows: each question's per-clause dense similarities are kept per mirror
(knowledge/similarity_cache.py). A search answered from them gives exactly the hits and scores of a full scan,
at every as-of date and mode; a write to the store drops them; the cache stays within its bounds. And the growth
benchmark's knowledge-base rows (agents/bench_growth.py), cached and scanned afresh, on a small store."""
import datetime as dt
import textwrap

import numpy as np
import pytest

from knowledge import KnowledgeBase
from knowledge.bench import load_queries
from knowledge.similarity_cache import SimilarityCache

D = dt.date(2026, 11, 23)
QUESTIONS = ["What is the cap on a temporary quota?", "信用修复要交钱给中介吗", "临额最多多少",
             "What is the financing cost cap for consumer finance companies from 2026?",
             "repayment reminders rule 17", "第3号还款提醒事项", "can an agent charge for credit repair"]


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """The shipped policy plus 60 synthetic clauses (the growth benchmark's generator), sentence-chunked."""
    from agents.bench_growth import synthetic_clauses
    docs = tmp_path_factory.mktemp("synthetic-docs")
    synthetic_clauses(docs, 60, per_doc=30)
    kb = KnowledgeBase.open(tmp_path_factory.mktemp("chroma-grown"))
    kb.ingest()
    kb.ingest(docs)
    return kb


def _hits(kb, q, as_of, mode="hybrid", k=10):
    return [(h.clause_id, h.score) for h in kb.search(q, as_of, k=k, mode=mode)]


def _questions():
    return QUESTIONS + [r["query"] for r in load_queries()[:24]]


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_a_cached_search_is_the_scan_exactly(grown, mode, monkeypatch):
    grown.forget_queries(embeddings=False)
    scanned = {q: _hits(grown, q, D, mode) for q in _questions()}
    assert len(grown._similarities) == len(set(_questions()))
    import knowledge.embedding as embedding

    def no_scan(_texts):  # a cached question neither embeds nor scans
        raise AssertionError("scanned although the question's similarities were kept")
    with monkeypatch.context() as m:
        m.setattr(embedding, "embed", no_scan)
        cached = {q: _hits(grown, q, D, mode) for q in _questions()}
    assert cached == scanned
    grown.forget_queries(embeddings=False)
    assert len(grown._similarities) == 0
    assert {q: _hits(grown, q, D, mode) for q in _questions()} == scanned


def test_kept_similarities_are_masked_per_as_of(grown):
    """The kept array is every clause's best cosine; the clauses not in force are masked per search, on a copy."""
    early = dt.date(2019, 6, 1)  # before the synthetic clauses (2020-01-01) and before most of the policy
    grown.forget_queries(embeddings=False)
    fresh_early = {q: _hits(grown, q, early) for q in QUESTIONS}
    grown.forget_queries(embeddings=False)
    for q in QUESTIONS:
        _hits(grown, q, D)  # kept at today's date first
    assert {q: _hits(grown, q, early) for q in QUESTIONS} == fresh_early
    assert sum(len(h) for h in fresh_early.values()) > 0  # the 2017 documents are in force
    for q in QUESTIONS:
        assert all(not cid.startswith("SYN-") for cid, _ in fresh_early[q])
        kept = grown._similarities.get(q)
        assert kept is not None and not kept.flags.writeable and np.isfinite(kept).all()


def test_a_write_drops_the_kept_similarities(tmp_path):
    doc = textwrap.dedent("""\
        ---
        doc_id: PETS
        title: 测试文件 / Test document
        issuer: 测试机构 / Test issuer
        source: unit test
        effective_from: 2026-01-01
        effective_to: open
        version: "1"
        language: zh+en
        ---
        ## PETS-DOG · 养狗 / Dogs
        zh: 住户可以养一只小型犬，需要登记。
        en: Residents may keep one small dog, which must be registered.
        """)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "pets.md").write_text(doc, encoding="utf-8")
    kb = KnowledgeBase.open(tmp_path / "chroma")
    kb.ingest()
    kb.ingest(tmp_path / "docs")
    q = "may I keep a parrot on the balcony"
    before = kb.search(q, D, k=3, mode="dense")
    assert "PETS-BIRD" not in [h.clause_id for h in before] and kb._similarities.get(q) is not None
    (tmp_path / "docs" / "pets.md").write_text(doc + textwrap.dedent("""
        ## PETS-BIRD · 养鸟 / Birds
        zh: 鹦鹉等鸟类可以养在阳台的笼子里。
        en: Parrots and other birds may be kept in a cage on the balcony.
        """), encoding="utf-8")
    kb.ingest(tmp_path / "docs")
    assert kb._similarities.get(q) is None  # a new mirror, a new cache
    after = kb.search(q, D, k=3, mode="dense")
    assert after[0].clause_id == "PETS-BIRD"
    kb.forget_queries(embeddings=False)
    assert [(h.clause_id, h.score) for h in kb.search(q, D, k=3, mode="dense")] == \
        [(h.clause_id, h.score) for h in after]


def test_similarity_cache_bounds():
    c = SimilarityCache(budget_bytes=4 * 100 * 3, max_entries=5)  # three arrays of 100 float32
    arrays = {f"q{i}": np.full(100, i, dtype=np.float32) for i in range(4)}
    for k, v in list(arrays.items())[:3]:
        assert c.put(k, v) is v and not v.flags.writeable
    assert len(c) == 3 and c.nbytes == 1200
    assert c.get("q0") is arrays["q0"]  # q0 is now the most recent: q1 goes first
    c.put("q3", arrays["q3"])
    assert c.get("q1") is None and c.get("q0") is not None and c.get("q3") is not None and len(c) == 3
    assert (c.hits, c.misses) == (3, 1)
    c.put("q3", np.zeros(100, dtype=np.float32))  # replacing an entry does not count its bytes twice
    assert c.nbytes == 1200 and float(c.get("q3")[0]) == 0.0
    big = np.zeros(1000, dtype=np.float32)
    assert c.put("big", big) is big and c.get("big") is None and len(c) == 3  # larger than the budget: not kept
    few = SimilarityCache(max_entries=2)
    for i in range(4):
        few.put(str(i), np.zeros(3, dtype=np.float32))
    assert len(few) == 2 and few.get("0") is None and few.get("3") is not None
    c.clear()
    assert len(c) == 0 and c.nbytes == 0


def test_growth_bench_knowledge_rows(tmp_path, monkeypatch):
    """Both knowledge-base groups of `riskdesk bench --growth`, on a small store: a row per size, the sizes in
    the notes, and the afresh rows really scan (their similarities are forgotten before every timed turn)."""
    from agents import bench_growth
    scanned, forgotten = [], []
    real_forget = KnowledgeBase.forget_queries
    monkeypatch.setattr(KnowledgeBase, "forget_queries",
                        lambda self, embeddings=True: (forgotten.append(embeddings), real_forget(self, embeddings)))
    for afresh in (False, True):
        forgotten.clear()
        rows = bench_growth.kb_size(tmp_path / "base", tmp_path / "data", (0, 40), turns=12, afresh=afresh)
        assert forgotten == ([False] * 24 if afresh else [])  # 12 turns on each of the two desks
        assert [r["setting"] for r in rows] == ["knowledge base: policy alone", "knowledge base: policy + 40 clauses"]
        assert rows[0]["note"].startswith("22 clauses") and rows[1]["note"].startswith("62 clauses")
        assert all(r["n"] == 12 and 0 < r["p50_ms"] <= r["p95_ms"] and 0 <= r["cpu_p50_ms"] <= r["cpu_p95_ms"]
                   for r in rows)
        scanned.append(rows)
    text = bench_growth.render({"turns": 12, "groups": {"knowledge base size": [
        {**r, "vs_small_p50": 1.0, "vs_small_p95": 1.0, "vs_small_cpu": 1.0, "vs_small_cpu_p95": 1.0}
        for r in scanned[1]]}})
    assert "CPU p95" in text and "policy + 40 clauses" in text
