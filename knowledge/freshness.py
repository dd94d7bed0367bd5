"""Keeping a knowledge base fresh and quick to open: the generation a write bumps (so another process's
search reloads without a restart), and the BM25 tokens kept by clause hash (so a reload segments only what
changed). A mixin of knowledge.store.KnowledgeBase, which provides _client, _col, _url, location, _lock,
_hashes, _reload() and _open_client()."""
from __future__ import annotations

import hashlib
import json
import os
import time
from functools import lru_cache
from pathlib import Path

GENERATION_FILE = "riskdesk-kb.generation"  # beside an embedded store: bumped by every write
TOKEN_FILE = "riskdesk-kb.tokens.json"  # beside an embedded store: BM25 tokens by clause hash (a cache)
TOKEN_FILE_MIN = 1000  # clauses: below this, segmenting is quicker than reading a file
SERVER_CHECK_SECONDS = 1.0  # a Chroma server's generation is asked at most this often


class Freshness:
    """Generation checks and the BM25 token cache of a KnowledgeBase."""

    def _marker(self) -> Path | None:
        return None if self._client is None or self._url else Path(self.location) / GENERATION_FILE

    def _bump(self) -> None:
        """Tell other processes that the store changed: a new generation beside an embedded store, and in the
        collection's metadata (what a Chroma server's other clients read)."""
        import uuid
        gen = uuid.uuid4().hex
        marker = self._marker()
        if marker is not None:
            tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
            tmp.write_text(gen, encoding="utf-8")
            os.replace(tmp, marker)
        meta = dict(self._col.metadata or {})
        meta["generation"] = gen
        self._col.modify(metadata=meta)
        self._generation = gen

    def _current_generation(self) -> str | None:
        marker = self._marker()
        if marker is not None:
            try:
                return marker.read_text(encoding="utf-8").strip() or None
            except OSError:
                return None
        col = self._client.get_collection(self._col.name, embedding_function=self._col._embedding_function)
        return (col.metadata or {}).get("generation")

    def refresh(self, force: bool = False) -> bool:
        """Reload if another process changed the store since this one read it (``kb add`` while the service
        runs); True if it reloaded. Embedded: one stat of the generation file per call; server: one request
        at most every SERVER_CHECK_SECONDS."""
        if self._client is None:
            return False
        marker = self._marker()
        if marker is not None:
            try:
                stamp = marker.stat().st_mtime_ns
            except OSError:
                stamp = None
            if stamp == self._stamp and not force:
                return False
            self._stamp = stamp
        elif not force:
            now = time.monotonic()
            if now - self._checked < SERVER_CHECK_SECONDS:
                return False
            self._checked = now
        gen = self._current_generation()
        if gen == self._generation and not force:
            return False
        with self._lock:
            if marker is not None:  # embedded Chroma caches one system per path: open it afresh from disk
                from chromadb.api.shared_system_client import SharedSystemClient
                SharedSystemClient._identifier_to_system.pop(str(self.location), None)
                self._client = self._open_client()
            self._col = self._client.get_collection(self._col.name, embedding_function=self._col._embedding_function)
            self._generation = gen
            self._reload()
        return True

    def _tokens(self, order: list[str], texts: list[str]) -> list[list[str]]:
        """BM25 tokens of every clause, kept by clause hash: in memory across reloads, and in a file beside an
        embedded store across processes, so a reload after adding one document segments only that document."""
        from knowledge.lexical import tokenize
        cache = getattr(self, "_token_cache", None)
        path = self._token_file()
        if cache is None:
            cache = {}
            if path is not None and path.is_file():
                try:
                    stored = json.loads(path.read_text(encoding="utf-8"))
                    cache = stored["tokens"] if stored.get("schema") == _token_schema(self.SCHEMA) else {}
                except (OSError, ValueError, KeyError):
                    cache = {}
        out, fresh = [], {}
        for c, text in zip(order, texts):
            h = self._hashes[c]
            got = cache.get(h)
            if got is None:
                got = tokenize(text)
            fresh[h] = got
            out.append(got)
        if path is not None and (len(fresh) != len(cache) or fresh.keys() != cache.keys()) and len(order) >= TOKEN_FILE_MIN:
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(json.dumps({"schema": _token_schema(self.SCHEMA), "tokens": fresh}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        self._token_cache = fresh
        return out

    def _token_file(self) -> Path | None:
        return None if getattr(self, "_client", None) is None or getattr(self, "_url", None) \
            else Path(self.location) / TOKEN_FILE


@lru_cache(maxsize=1)
def _token_schema(schema: str) -> str:
    """What the cached tokens depend on: the store schema, the tokenizer's code and the domain dictionary."""
    from knowledge import lexical
    h = hashlib.sha256(Path(lexical.__file__).read_bytes() + lexical.DOMAIN_DICT.read_bytes()).hexdigest()[:16]
    return f"{schema}:{h}"
