"""The knowledge base: clauses chunked per language in a Chroma collection (the store), with an in-memory
mirror (clauses, embeddings, BM25) rebuilt at open time and after every ingest so queries stay in-process.

Chroma's PersistentClient is owned by one process: open a store from one process at a time (use
``url=``/RISKDESK_CHROMA_URL and a Chroma server to share one)."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable, Literal
from urllib.parse import urlparse

import numpy as np

from knowledge.corpus import CORPUS_DIR, Document, CorpusError, corpus_digest, load_corpus
from knowledge.freshness import Freshness
from knowledge.models import Clause, ClauseHit, IngestReport, date_int, int_date
from tools.home import riskdesk_home

COLLECTION = "riskdesk_clauses"
SCHEMA = "riskdesk-kb/3"  # bump when chunking or embedding changes: every stored hash then changes
BUILTIN = "builtin"
LANGS = ("zh", "en")
RRF_K = 60  # rank scores of the single-retriever modes
UNSEEN_LEXICAL = 0.25  # a clause BM25 cannot see: this fraction of its dense z-score stands for its lexical one
MIN_UNSEEN = 100  # this many clauses BM25 cannot see: lexical scores are standardised over the ones it can
LEXICAL_WEIGHT = 0.5  # hybrid = w * z(BM25) + (1 - w) * z(best cosine), z-scored over the clauses in force
_CJK = re.compile(r"[\u3400-\u9fff]")
Mode = Literal["hybrid", "dense", "lexical"]
RELOAD_PAGE = 5000  # chunks per get when the in-memory mirror is rebuilt
# Origins of documents added one by one (`kb add`, `kb add-statutes`): each clause is embedded as one chunk
# (its context header and text), so tens of thousands of clauses stay one matrix product per query.
WHOLE_CLAUSE_ORIGINS = ("doc:", "statute:")
EMBED_CHARS = 600  # a sentence encoder: the head of a long clause carries its topic; BM25 reads it all


def default_path() -> Path:
    """RISKDESK_CHROMA_PATH, else $RISKDESK_HOME/chroma, else ~/.riskdesk/chroma."""
    if os.environ.get("RISKDESK_CHROMA_PATH"):
        return Path(os.environ["RISKDESK_CHROMA_PATH"]).expanduser()
    return riskdesk_home() / "chroma"


def query_language(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def _split_title(title: str) -> dict[str, str]:
    parts = re.split(r"\s*/\s*", title, maxsplit=1)
    return {"zh": parts[0], "en": parts[1] if len(parts) > 1 else parts[0]}


def context_title(doc_title: str) -> str:
    """The document title as a clause's context header: without parenthetical remarks (versions, notes)."""
    return re.sub(r"\s*[（(][^（()）]*[)）]", "", doc_title).strip()


def clause_hash(clause: Clause, doc_title: str = "") -> str:
    return hashlib.sha256((SCHEMA + doc_title + "\0" + clause.model_dump_json()).encode("utf-8")).hexdigest()


def sentences(text: str) -> list[str]:
    """Split a clause text into sentence-sized pieces (USE is a sentence encoder)."""
    parts = re.split(r"(?<=[。；;！？!?])|(?<=\.)\s+|[：:]", text)
    return [p.strip() for p in parts if p and len(p.strip()) > 3]


def _chunks(clause: Clause, origin: str, doc_title: str = "") -> list[tuple[str, str, dict]]:
    """(id, text to embed, metadata): per language, the document and clause titles ("Temporary quota policy /
    Purpose": the context a clause's own text may leave unsaid), then each sentence prefixed by the clause
    title. A clause's dense score is its best chunk's similarity."""
    titles, h = _split_title(clause.title), clause_hash(clause, doc_title)
    context = _split_title(context_title(doc_title)) if doc_title else None
    out = []
    for lang in LANGS:
        text = clause.text_zh if lang == "zh" else clause.text_en
        if not text:
            continue
        meta = {"clause_id": clause.clause_id, "doc_id": clause.doc_id, "lang": lang, "title": clause.title,
                "issuer": clause.issuer, "version": clause.version, "source": clause.source, "text": text,
                "effective_from": date_int(clause.effective_from), "effective_to": date_int(clause.effective_to),
                "hash": h, "origin": origin, "doc_title": doc_title}
        head = f"{context[lang]} / {titles[lang]}" if context else titles[lang]
        if origin.startswith(WHOLE_CLAUSE_ORIGINS):  # added documents and statutes: one chunk per clause
            pieces = [f"{head}: {text[:EMBED_CHARS]}"]
        else:
            pieces = [head] + [f"{titles[lang]}: {s}" for s in sentences(text) or [text]]
        out.extend((f"{clause.clause_id}#{lang}#{n}", piece, meta) for n, piece in enumerate(pieces))
    return out


def _client(path: str | Path | None, url: str | None):  # noqa: ANN202
    import chromadb
    from chromadb.config import Settings
    settings = Settings(anonymized_telemetry=False)
    url = url or os.environ.get("RISKDESK_CHROMA_URL")
    if url:
        u = urlparse(url if "://" in url else f"http://{url}")
        return chromadb.HttpClient(host=u.hostname or "localhost", port=u.port or (443 if u.scheme == "https" else 8000),
                                   ssl=u.scheme == "https", settings=settings), url
    p = Path(path).expanduser() if path is not None else default_path()
    p.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(p), settings=settings), str(p)


class KnowledgeBase(Freshness):
    """Bilingual policy clauses with as-of-aware hybrid (BM25 + USE multilingual) retrieval."""

    def __init__(self, client, location: str, dense_backend: Literal["memory", "chroma"] = "memory",  # noqa: ANN001
                 url: str | None = None):
        self.location = location
        self.dense_backend = dense_backend
        self._client = client
        self._col = self._collection(client)
        self._lock = threading.RLock()
        self._url = url
        self._checked = time.monotonic()
        marker = self._marker()
        self._stamp = marker.stat().st_mtime_ns if marker is not None and marker.exists() else None
        self._generation = self._current_generation()
        self._reload()

    SCHEMA = SCHEMA

    @staticmethod
    def _collection(client):  # noqa: ANN001, ANN205
        from knowledge.embedding import UsemEmbeddingFunction
        return client.get_or_create_collection(COLLECTION, embedding_function=UsemEmbeddingFunction(),
                                               configuration={"hnsw": {"space": "cosine"}})

    def _open_client(self):  # noqa: ANN202 (embedded: the directory opened afresh)
        return _client(self.location, None)[0]

    @classmethod
    def open(cls, path: str | Path | None = None, url: str | None = None, **kw) -> "KnowledgeBase":  # noqa: ANN003
        """Embedded Chroma at ``path`` (default: see default_path()), or a Chroma server at ``url``
        (or RISKDESK_CHROMA_URL)."""
        client, location = _client(path, url)
        server = bool(url or os.environ.get("RISKDESK_CHROMA_URL"))
        return cls(client, location, url=location if server else None, **kw)

    # ------------------------------------------------------------------ state
    def _reload(self) -> None:
        from knowledge import sealed, snapshot
        snap = snapshot.load(self)  # an embedded store's snapshot of its current generation, if there is one
        if snap is not None:
            ids, metas, emb, lexical = snap
            self._mirror(ids, metas, emb, lexical)
            return
        ids, metas, emb = self.read_chunks()
        self._mirror(ids, metas, emb)
        snapshot.save(self, ids, metas, emb)
        sealed.save(self, ids, metas, emb)  # a small store: the next process opens it without Chroma

    def read_chunks(self) -> tuple[list[str], list[dict], np.ndarray]:
        """Every chunk of the store: ids, metadata and (n, 512) float32 embeddings, in pages: one get of every
        chunk fails past SQLite's variable limit ("too many SQL variables", ~40,000 chunks: 10,000 clauses of
        two sentences in two languages)."""
        ids: list[str] = []
        metas: list[dict] = []
        embs: list[np.ndarray] = []
        while True:
            got = self._col.get(include=["metadatas", "embeddings"], limit=RELOAD_PAGE, offset=len(ids))
            ids += got["ids"]
            metas += got["metadatas"] or []
            if got["embeddings"] is not None and len(got["ids"]):
                embs.append(np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), 512))
            if len(got["ids"]) < RELOAD_PAGE:
                break
        return ids, metas, np.concatenate(embs) if embs else np.zeros((0, 512), dtype=np.float32)

    def _mirror(self, ids: list[str], metas: list[dict], emb: np.ndarray, lexical=None) -> None:  # noqa: ANN001
        """Rebuild the in-memory mirror (clauses, chunk embeddings, BM25) from the store's chunks; ``lexical``:
        the BM25 index of these chunks' clauses when a snapshot gave it."""
        from knowledge.embedding import known_word
        from knowledge.lexical import LexicalIndex
        from knowledge.similarity_cache import SimilarityCache
        self._similarities = SimilarityCache()  # per query text, kept only as long as this mirror
        parts: dict[str, dict[str, dict]] = {}
        for cid, meta in zip(ids, metas):
            parts.setdefault(meta["clause_id"], {})[meta["lang"]] = meta
        clauses: dict[str, Clause] = {}
        for clause_id, by_lang in sorted(parts.items()):
            m = next(iter(by_lang.values()))
            clauses[clause_id] = Clause(
                clause_id=clause_id, doc_id=m["doc_id"], title=m["title"], issuer=m["issuer"],
                text_zh=by_lang.get("zh", {}).get("text", ""), text_en=by_lang.get("en", {}).get("text", ""),
                effective_from=int_date(m["effective_from"]), effective_to=int_date(m["effective_to"]),
                version=m["version"], source=m["source"])
        order = list(clauses)
        pos = {c: i for i, c in enumerate(order)}
        self._clauses, self._order = clauses, order
        self._origins = {m["clause_id"]: m["origin"] for m in metas}
        self._hashes = {m["clause_id"]: m["hash"] for m in metas}
        self._doc_titles = {m["clause_id"]: m.get("doc_title", "") for m in metas}
        chunk_clause = np.array([pos[m["clause_id"]] for m in metas], dtype=np.int64)
        by_clause = np.argsort(chunk_clause, kind="stable")
        self._chunk_ids = [ids[i] for i in by_clause]
        self._chunk_clause = chunk_clause[by_clause]
        self._chunk_starts = np.flatnonzero(np.r_[True, self._chunk_clause[1:] != self._chunk_clause[:-1]]) \
            if len(ids) else np.zeros(0, dtype=np.int64)
        self._chunk_groups = self._chunk_clause[self._chunk_starts]
        self._emb = np.ascontiguousarray(np.asarray(emb, dtype=np.float32).reshape(len(ids), 512)[by_clause])
        self._from = np.array([date_int(clauses[c].effective_from) for c in order], dtype=np.int64)
        self._to = np.array([date_int(clauses[c].effective_to) for c in order], dtype=np.int64)
        self._has_zh = np.array([bool(clauses[c].text_zh) for c in order], dtype=bool)
        self._has_en = np.array([bool(clauses[c].text_en) for c in order], dtype=bool)
        if lexical is not None and lexical.n == len(order):
            self._lexical = lexical
            return
        texts = [self._lexical_text(clauses[c], self._doc_titles[c]) for c in order]
        self._lexical = LexicalIndex(texts, known=known_word, tokens=self._tokens(order, texts))

    @staticmethod
    def _lexical_text(c: Clause, doc_title: str = "") -> str:
        """The clause as BM25 sees it: id, document title (context header), clause title, both texts."""
        return f"{c.clause_id.replace('-', ' ')}\n{context_title(doc_title)}\n{c.title}\n{c.text_zh}\n{c.text_en}"

    def __len__(self) -> int:
        return len(self._clauses)

    def clauses(self) -> list[Clause]:
        return [self._clauses[c] for c in self._order]

    def get(self, clause_id: str) -> Clause | None:
        return self._clauses.get(clause_id)

    def digest(self, origin: str = BUILTIN) -> str | None:
        return (self._col.metadata or {}).get(f"digest:{origin}")

    # ------------------------------------------------------------------ ingest
    def ingest(self, directory: str | Path | None = None,
               progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Validate every document of ``directory`` (default: the shipped corpus), then upsert changed clauses
        and delete clauses that left this directory's documents. Nothing is written if any document is bad."""
        if directory is not None and Path(directory).expanduser().resolve() == Path(CORPUS_DIR).resolve():
            directory = None  # the shipped corpus, named by its path, is still the shipped corpus
        origin = BUILTIN if directory is None else str(Path(directory).expanduser().resolve())
        docs = load_corpus(CORPUS_DIR if directory is None else directory)
        with self._lock:
            return self._apply(docs, origin, progress)

    def _apply(self, docs: list[Document], origin: str, progress: Callable[[int, int], None] | None) -> IngestReport:
        return self.replace({origin: docs}, progress)

    def replace(self, groups: dict[str, list[Document]],
                progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Make each origin of ``groups`` hold exactly its documents' clauses: upsert new and changed clauses
        (content hash), delete the origin's clauses that left; other origins are left alone. All checks run
        before the first write."""
        new: dict[str, tuple[Clause, Document, str]] = {}
        for origin, docs in groups.items():
            for d in docs:
                for c in d.clauses:
                    other = new[c.clause_id][2] if c.clause_id in new else self._origins.get(c.clause_id)
                    if other is not None and other != origin:
                        raise CorpusError(d.path, f"clause_id {c.clause_id} already exists in the store from {other}")
                    new[c.clause_id] = (c, d, origin)
        old = {cid: h for cid, h in self._hashes.items() if self._origins.get(cid) in groups}
        report = IngestReport(documents=sum(len(docs) for docs in groups.values()), clauses=len(new))
        ids, texts, metas = [], [], []
        for clause_id, (clause, doc, origin) in new.items():
            if clause_id not in old:
                report.added += 1
            elif old[clause_id] != clause_hash(clause, doc.title):
                report.updated += 1
            else:
                report.unchanged += 1
                continue
            for cid, text, meta in _chunks(clause, origin, doc.title):
                ids.append(cid), texts.append(text), metas.append(meta)
        keep = {cid for clause, doc, origin in new.values() for cid, _, _ in _chunks(clause, origin, doc.title)}
        stale = [cid for cid in self._chunk_ids if self._origins_of_chunk(cid) in groups and cid not in keep]
        report.deleted = len(set(old) - set(new))
        if ids or stale or BUILTIN in groups or any(not o.startswith(WHOLE_CLAUSE_ORIGINS) for o in groups):
            from knowledge import sealed
            sealed.remove(self)  # before Chroma changes: a write that stops half-way leaves no seal
        batch = 64
        for i in range(0, len(ids), batch):
            self._col.upsert(ids=ids[i:i + batch], documents=texts[i:i + batch], metadatas=metas[i:i + batch])
            if progress:
                progress(min(i + batch, len(ids)), len(ids))
        for i in range(0, len(stale), 5000):
            self._col.delete(ids=stale[i:i + 5000])
        if BUILTIN in groups or any(not o.startswith(WHOLE_CLAUSE_ORIGINS) for o in groups):
            meta = dict(self._col.metadata or {})
            for origin, docs in groups.items():
                meta[f"digest:{origin}"] = corpus_digest(docs) + ":" + SCHEMA
            self._col.modify(metadata=meta)
        if ids or stale:
            self._bump()
            self._reload()
        return report

    def remove_documents(self, doc_ids: list[str]) -> int:
        """Delete every clause of these documents (added documents and statutes); the number deleted."""
        with self._lock:
            gone = {c for c, clause in self._clauses.items() if clause.doc_id in doc_ids}
            stale = [cid for cid in self._chunk_ids if cid.split("#", 1)[0] in gone]
            if stale:
                from knowledge import sealed
                sealed.remove(self)  # before Chroma changes (knowledge/sealed.py)
            for i in range(0, len(stale), 5000):
                self._col.delete(ids=stale[i:i + 5000])
            if stale:
                self._bump()
                self._reload()
            return len(gone)

    def origin_of(self, clause_id: str) -> str | None:
        return self._origins.get(clause_id)

    def doc_title(self, clause_id: str) -> str:
        return self._doc_titles.get(clause_id, "")

    def _origins_of_chunk(self, chunk_id: str) -> str | None:
        return self._origins.get(chunk_id.split("#", 1)[0])

    # ------------------------------------------------------------------ search
    def _in_force(self, as_of: dt.date) -> np.ndarray:
        d = date_int(as_of)
        return (self._from <= d) & (d <= self._to)

    def _dense_scores(self, query: str, mask: np.ndarray) -> np.ndarray:
        """Per clause, the best cosine of its chunks (-inf for a clause not in force)."""
        from knowledge.embedding import embed
        if not len(self._chunk_ids) or not mask.any():
            return np.full(len(self._order), -np.inf, dtype=np.float32)
        if self.dense_backend == "chroma":
            best = np.full(len(self._order), -np.inf, dtype=np.float32)
            q = embed([query])[0]
            d = date_int(self._as_of)
            res = self._col.query(query_embeddings=[q], n_results=len(self._chunk_ids), include=["distances", "metadatas"],
                                  where={"$and": [{"effective_from": {"$lte": d}}, {"effective_to": {"$gte": d}}]})
            for meta, dist in zip(res["metadatas"][0], res["distances"][0]):
                i = self._order.index(meta["clause_id"])
                best[i] = max(best[i], 1.0 - dist)
        else:
            best = self._similarities.get(query)
            if best is None:  # the scan, once per query text and mirror (knowledge/similarity_cache.py)
                best = np.full(len(self._order), -np.inf, dtype=np.float32)
                with _one_blas_thread():  # 2 cores: a second BLAS thread only contends with the other requests
                    sims = self._emb @ embed([query])[0]  # chunks are grouped by clause (see _mirror): one max per group
                best[self._chunk_groups] = np.maximum.reduceat(sims, self._chunk_starts) if len(sims) else best[:0]
                best = self._similarities.put(query, best)
            best = best.copy()
        best[~mask] = -np.inf
        return best

    def forget_queries(self, embeddings: bool = True) -> None:
        """Empty the per-query caches (benchmarks): this mirror's similarities, so every query scans the chunks
        afresh, and with ``embeddings`` the process's one-text embeddings, so every query is embedded afresh."""
        from knowledge import embedding
        self._similarities.clear()
        if embeddings:
            getattr(getattr(embedding, "_embed_one", None), "cache_clear", lambda: None)()

    def _dense_ranking(self, query: str, mask: np.ndarray) -> list[int]:
        """Clause indices in force, best first (a clause scores by its best language chunk)."""
        best = self._dense_scores(query, mask)
        return [int(i) for i in np.argsort(-best, kind="stable") if np.isfinite(best[i])]

    def _lexical_ranking(self, query: str, mask: np.ndarray) -> list[int]:
        scores = self._lexical.scores(query)
        idx = np.flatnonzero(mask & (scores > 0))
        return [int(i) for i in idx[np.argsort(-scores[idx], kind="stable")]]

    def ranking(self, query: str, as_of: dt.date, mode: Mode = "hybrid", top: int | None = None) -> list[tuple[int, float]]:
        """(clause index, score) of the clauses in force, best first; the first ``top`` only when given."""
        mask = self._in_force(as_of)
        self._as_of = as_of
        if mode == "dense":
            r = self._dense_ranking(query, mask)
            return [(i, 1.0 / (RRF_K + n + 1)) for n, i in enumerate(r)]
        if mode == "lexical":
            r = self._lexical_ranking(query, mask)
            return [(i, 1.0 / (RRF_K + n + 1)) for n, i in enumerate(r)]
        idx = np.flatnonzero(mask)
        if not len(idx):
            return []
        # Score fusion: each retriever's scores standardised over the clauses in force (z-scores), then
        # averaged. Unlike rank fusion, a clear BM25 winner is not pulled down by a flat dense ranking.
        dense = self._dense_scores(query, mask)[idx].astype(np.float64)
        lexical = self._lexical.scores(query)[idx].astype(np.float64)
        zd = _standardise(dense)
        # BM25 cannot see a clause that has no text in the query's language. In a small corpus its lexical
        # score is imputed with its dense score, so it does not lose to every clause BM25 can see. At size (an
        # English question among the Chinese-only statutes) BM25 is standardised over the clauses it can see,
        # so thousands of unseen zeros do not inflate the few it scores, and an unseen clause is imputed a
        # fraction of its dense score: imputing all of it let 26,000 statutes outvote the English policy.
        seen = (self._has_zh if query_language(query) == "zh" else self._has_en)[idx]
        if (~seen).sum() >= MIN_UNSEEN and seen.any():
            zl = np.zeros_like(lexical)
            zl[seen] = _standardise(lexical[seen])
            zl = np.where(seen, zl, UNSEEN_LEXICAL * zd)
        else:  # few unseen clauses: over every clause in force, the unseen ones imputed their whole dense score
            zl = np.where(seen, _standardise(lexical), zd)
        fused = LEXICAL_WEIGHT * zl + (1.0 - LEXICAL_WEIGHT) * zd
        return [(int(idx[j]), float(fused[j])) for j in _best_first(fused, top)]

    def search(self, query: str, as_of: dt.date, k: int = 5, mode: Mode = "hybrid") -> list[ClauseHit]:
        """Clauses in force on ``as_of`` (effective_from <= as_of <= effective_to), best first, at most k.
        Text and language follow the query's language. By default the z-score fusion of BM25 and dense."""
        if isinstance(as_of, str):
            as_of = dt.date.fromisoformat(as_of)
        if k <= 0 or not query.strip():
            return []
        self.refresh()
        lang = query_language(query)
        with self._lock:
            ranked = self.ranking(query, as_of, mode, top=k)[:k]
            hits = []
            for i, score in ranked:
                c = self._clauses[self._order[i]]
                text = (c.text_zh if lang == "zh" else c.text_en) or c.text_zh or c.text_en
                used = lang if (c.text_zh if lang == "zh" else c.text_en) else ("zh" if c.text_zh else "en")
                hits.append(ClauseHit(clause_id=c.clause_id, doc_id=c.doc_id, title=c.title, text=text, language=used,
                                      score=round(score, 6), effective_from=c.effective_from,
                                      effective_to=c.effective_to))
        return hits


@lru_cache(maxsize=1)
def _controller():  # noqa: ANN202
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def _one_blas_thread():  # noqa: ANN202
    return _controller().limit(limits=1, user_api="blas")


def _best_first(scores: np.ndarray, top: int | None) -> np.ndarray:
    """Positions by descending score, ties in position order (a stable sort); only the first ``top`` when given,
    found by a partition first (tens of thousands of clauses: a full sort per query costs milliseconds)."""
    if top is None or top >= len(scores):
        return np.argsort(-scores, kind="stable")
    kth = np.partition(-scores, top - 1)[top - 1]
    near = np.flatnonzero(-scores <= kth)  # every position tied with the top-th too, so ties stay stable
    return near[np.argsort(-scores[near], kind="stable")][:top]


def _standardise(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std; all zeros when x is constant (a retriever that cannot tell the clauses apart)."""
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


_default: KnowledgeBase | None = None
_default_lock = threading.Lock()


def default_kb() -> KnowledgeBase:
    """The process-wide knowledge base at the default store; ingests the shipped corpus on first use or when
    the shipped corpus changed (content hash), so a fresh clone needs no setup step."""
    global _default
    with _default_lock:
        if _default is None:
            kb = None
            if not os.environ.get("RISKDESK_CHROMA_URL"):  # an embedded store: from its seal, if current
                from knowledge.sealed import open_sealed
                kb = open_sealed(default_path())
            kb = kb or KnowledgeBase.open()
            docs = load_corpus(CORPUS_DIR)
            if kb.digest(BUILTIN) != corpus_digest(docs) + ":" + SCHEMA:
                kb._apply(docs, BUILTIN, None)
            _default = kb
        return _default


class ShippedFirst:
    """default_kb() without the wait, for one-shot processes: the shipped corpus answers get() straight
    from its Markdown files (a few ms); the store (Chroma, embeddings, BM25) opens on the first search
    or any other use, from its seal without Chroma when the seal is current (knowledge/sealed.py). The tools
    cite only shipped clauses, so a limit lookup never waits for it."""

    def __init__(self) -> None:
        self._shipped = {c.clause_id: c for doc in load_corpus(CORPUS_DIR) for c in doc.clauses}

    def get(self, clause_id: str) -> Clause | None:
        if _default is None and clause_id in self._shipped:
            return self._shipped[clause_id]
        return default_kb().get(clause_id)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(default_kb(), name)


def reset_default() -> None:
    """Forget the process-wide instance (tests)."""
    global _default
    with _default_lock:
        _default = None
