"""Opening a large embedded store from its snapshot (knowledge/snapshot.py): the same clauses and the same
search results as reading Chroma, never a stale or damaged snapshot, rewritten after every write; and the BM25
index saved and loaded by LexicalIndex with identical scores."""
import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge import KnowledgeBase, snapshot
from knowledge.library import add
from knowledge.lexical import LexicalIndex

D = dt.date(2026, 11, 23)
QUERIES = ["临时额度可以用来做什么", "temporary quota purpose", "tempoary limt for a fridge", "征信修复 逾期记录",
           "how long is the cooling-off period"]
DOCS = ["临时额度不得用于购房、股票投资。", "Temporary quota may not be used for a house down payment.",
        "逾期记录的信用修复范围", "Cooling-off period of seven days", "征信 报送 机构"]


def top(kb, query, k=3):
    return [(h.clause_id, h.score) for h in kb.search(query, D, k=k)]


def test_lexical_index_saved_and_loaded_scores_the_same(tmp_path):
    index = LexicalIndex(DOCS)
    index.save(tmp_path / "lexical")
    back = LexicalIndex.load(tmp_path / "lexical")
    assert back.n == index.n == len(DOCS)
    for q in QUERIES + ["house downpaymnet"]:
        np.testing.assert_array_equal(back.scores(q), index.scores(q))
        assert back.query_tokens(q) == index.query_tokens(q)
    assert back.correct("tempoary") == index.correct("tempoary") == "temporary"  # typo targets kept too


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "SNAPSHOT_MIN", 1)  # the shipped 22 clauses stand for a large store
    kb = KnowledgeBase.open(tmp_path / "chroma")
    kb.ingest()
    return kb


def _no_chroma_reads(monkeypatch):
    from chromadb.api.models.Collection import Collection

    def refuse(*args, **kwargs):
        raise AssertionError("the mirror was read from Chroma")
    monkeypatch.setattr(Collection, "get", refuse)


def test_a_store_reopens_from_its_snapshot_with_the_same_results(store, monkeypatch):
    path = Path(store.location)
    meta = json.loads((path / snapshot.SNAPSHOT_DIR / "meta.json").read_text(encoding="utf-8"))
    assert meta["generation"] == store._generation and meta["chunks"] == store._col.count() > len(store)
    want = [top(store, q) for q in QUERIES]
    with monkeypatch.context() as m:
        _no_chroma_reads(m)
        again = KnowledgeBase.open(path)
        assert [top(again, q) for q in QUERIES] == want
    assert [c.model_dump() for c in again.clauses()] == [c.model_dump() for c in store.clauses()]


def test_a_write_rewrites_the_snapshot_and_a_stale_one_is_never_read(store, tmp_path, monkeypatch):
    path = Path(store.location)
    snap = path / snapshot.SNAPSHOT_DIR
    shutil.copytree(snap, tmp_path / "before-add")
    memo = tmp_path / "memo.md"
    memo.write_text("# 额度备忘\n\n第一条 临时额度到期后自动失效，不再续期。\n\n第二条 额度冻结期间不得提额。\n",
                    encoding="utf-8")
    outcomes, _ = add(store, [memo])
    assert [o.error for o in outcomes] == [None] and store.get("MEMO-1") is not None
    after = json.loads((snap / "meta.json").read_text(encoding="utf-8"))
    assert after["generation"] == store._generation and after["chunks"] == store._col.count()
    # the snapshot of the generation before the write, put back: stale, so the store is read from Chroma
    shutil.rmtree(snap)
    shutil.copytree(tmp_path / "before-add", snap)
    reopened = KnowledgeBase.open(path)
    assert reopened.get("MEMO-1") is not None and len(reopened) == len(store)
    assert json.loads((snap / "meta.json").read_text(encoding="utf-8"))["generation"] == store._generation
    with monkeypatch.context() as m:  # ... and the snapshot written then is the current one
        _no_chroma_reads(m)
        assert KnowledgeBase.open(path).get("MEMO-2") is not None


def test_a_damaged_snapshot_is_only_a_slower_open(store):
    path = Path(store.location)
    emb = path / snapshot.SNAPSHOT_DIR / "embeddings.npy"
    size = emb.stat().st_size
    emb.write_bytes(emb.read_bytes()[: size // 3])
    want = [top(store, q) for q in QUERIES]
    again = KnowledgeBase.open(path)
    assert [top(again, q) for q in QUERIES] == want
    assert emb.stat().st_size == size  # written afresh from the store


def test_small_stores_write_no_snapshot(tmp_path):
    kb = KnowledgeBase.open(tmp_path / "chroma")
    kb.ingest()
    assert len(kb) < snapshot.SNAPSHOT_MIN and not (tmp_path / "chroma" / snapshot.SNAPSHOT_DIR).exists()


def test_a_replica_is_published_page_by_page(tmp_path, monkeypatch):
    """The read-only replica of `serve --workers N` reads the store in pages as the store does (one get of every
    chunk fails past SQLite's variable limit): tiny pages give the same chunks and the same results."""
    from knowledge import store as store_module
    from knowledge.replica import Replica, publish
    kb = KnowledgeBase.open(tmp_path / "chroma")
    kb.ingest()
    monkeypatch.setattr(store_module, "RELOAD_PAGE", 7)
    ids, metas, emb = kb.read_chunks()
    assert len(ids) == len(metas) == emb.shape[0] == kb._col.count() > 7 * 3 and len(set(ids)) == len(ids)
    replica = Replica.open(publish(kb, tmp_path / "kb-replica.npz"))
    assert [top(replica, q) for q in QUERIES] == [top(kb, q) for q in QUERIES]
