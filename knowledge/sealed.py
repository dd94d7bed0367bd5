"""A small embedded knowledge base opened without Chroma: its seal.

Importing chromadb, opening its PersistentClient and segmenting every clause for BM25 again is most of a cold
`riskdesk ask` that searches the policy (22 clauses: seconds, for a mirror that a few files hold). So after the
mirror of a store below snapshot.SNAPSHOT_MIN clauses was rebuilt from Chroma (at open, after every write), the
same parts the large-store snapshot keeps are written beside the store: the chunk ids and metadata, their
embeddings, the BM25 index and the collection's metadata (``riskdesk-kb.seal/``). The process-wide default
store (store.default_kb) opens from the seal when it is the store's current state, and opens Chroma only when
something needs it: a write, or another process's write (the generation file changed). Search results are the
mirror's, the same as after reading Chroma.

A seal is read only when it was written for the store's current generation (the one every write bumps, see
knowledge/freshness.py), with the same store schema and the same lexical code and domain dictionary, as the
snapshot is. The snapshot also compares its chunk count with Chroma's; here Chroma is not opened, so a write
removes the seal before it touches Chroma instead: a write that stops half-way leaves no seal, and the next open
reads Chroma (and seals again). Anything unreadable or inconsistent, and the store opens from Chroma as before
(a damaged seal is removed first, so the reload seals the store again). A Chroma server has no seal.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.freshness import GENERATION_FILE, TOKEN_FILE, _token_schema
from knowledge.store import SCHEMA, KnowledgeBase

log = logging.getLogger("riskdesk.knowledge")
SEAL_DIR = "riskdesk-kb.seal"
FORMAT = "riskdesk-kb-seal/1"


def _embedded(kb: Any) -> Path | None:
    """The directory of an embedded store (None for a Chroma server), without opening Chroma."""
    if isinstance(kb, SealedKnowledgeBase):
        return Path(kb.location)
    if kb.__dict__.get("_client") is None or kb.__dict__.get("_url"):
        return None
    return Path(kb.location)


def _key(generation: str | None) -> dict[str, Any]:
    return {"format": FORMAT, "schema": _token_schema(SCHEMA), "generation": generation}


def save(kb: Any, ids: list[str], metas: list[dict], emb: np.ndarray) -> bool:
    """Seal the mirror just rebuilt from Chroma (small embedded stores; atomically: a reader sees the old seal
    or the new one). Nothing is written when the seal there is already this generation's."""
    from knowledge.snapshot import SNAPSHOT_MIN, write_mirror
    where = _embedded(kb)
    if where is None or kb._generation is None or len(kb) >= SNAPSHOT_MIN:
        return False
    d = where / SEAL_DIR
    try:
        if json.loads((d / "meta.json").read_text(encoding="utf-8")).get("generation") == kb._generation:
            return False
    except (OSError, ValueError):
        pass
    try:
        emb = np.asarray(emb, dtype=np.float32).reshape(len(ids), 512)
    except ValueError as e:
        log.warning("knowledge-base seal %s not written (%s)", d, e)
        return False
    return write_mirror(d, kb, ids, metas, emb, {**_key(kb._generation), "chunks": len(ids),
                                                 "collection": dict(kb._col.metadata or {})}, "seal")


def remove(kb: Any) -> None:
    """Before a write touches Chroma: whatever happens next, no seal says the store is as it was."""
    where = _embedded(kb)
    if where is not None and (where / SEAL_DIR).exists():
        gone = where / f".{SEAL_DIR}.gone.{os.getpid()}.{threading.get_ident()}"
        try:
            os.replace(where / SEAL_DIR, gone)
        except OSError:
            return
        shutil.rmtree(gone, ignore_errors=True)


def open_sealed(path: str | Path) -> "SealedKnowledgeBase | None":
    """The embedded store at ``path`` from its seal, if the seal is the store's current state; else None."""
    from knowledge.snapshot import read_mirror
    path = Path(path).expanduser()
    d, marker = path / SEAL_DIR, path / GENERATION_FILE
    if not (d / "meta.json").is_file():
        return None
    try:
        stamp = marker.stat().st_mtime_ns
        generation = marker.read_text(encoding="utf-8").strip() or None
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        if generation is None or any(meta.get(k) != v for k, v in _key(generation).items()):
            return None
        parts = read_mirror(d, meta["chunks"])
        if parts is None:
            return None
        ids, metas, emb, lexical = parts
        # the seal read is still the one of this generation (a write in another process replaces it)
        if json.loads((d / "meta.json").read_text(encoding="utf-8")).get("generation") != generation:
            return None
        return SealedKnowledgeBase(str(path), generation, stamp, meta.get("collection") or {}, ids, metas, emb,
                                   lexical)
    except Exception as e:  # noqa: BLE001 - a damaged seal is only a slower open, and the next reload seals again
        log.warning("knowledge-base seal %s unusable (%s); reading the store", d, e)
        gone = path / f".{SEAL_DIR}.gone.{os.getpid()}.{threading.get_ident()}"
        try:
            os.replace(d, gone)
        except OSError:
            pass
        shutil.rmtree(gone, ignore_errors=True)
        return None


class SealedKnowledgeBase(KnowledgeBase):
    """An embedded KnowledgeBase opened from its seal. Searches, get() and clauses() run on the mirror as the
    store's do; the Chroma client and collection (``_client``, ``_col``) open on first use: a write, a reload
    after another process wrote, the Chroma dense backend."""

    def __init__(self, location: str, generation: str, stamp: int, collection: dict[str, Any], ids: list[str],
                 metas: list[dict], emb: np.ndarray, lexical: Any):  # use open_sealed()
        self.location = location
        self.dense_backend = "memory"
        self._lock = threading.RLock()
        self._url = None
        self._checked = time.monotonic()
        self._stamp, self._generation = stamp, generation
        self._sealed_collection = collection
        self._mirror(ids, metas, emb, lexical)

    def __getattr__(self, name: str) -> Any:
        if name in ("_client", "_col"):  # only called while they are not set: Chroma opens now
            with self._lock:
                if "_col" not in self.__dict__:
                    self._attach()
            return self.__dict__[name]
        raise AttributeError(name)

    def _attach(self) -> None:
        from knowledge.store import _client
        client = _client(self.location, None)[0]
        self.__dict__["_client"] = client
        self.__dict__["_col"] = self._collection(client)

    @property
    def attached(self) -> bool:
        """True once Chroma was opened."""
        return "_col" in self.__dict__

    def _marker(self) -> Path | None:
        return Path(self.location) / GENERATION_FILE

    def _token_file(self) -> Path | None:
        return Path(self.location) / TOKEN_FILE

    def digest(self, origin: str = "builtin") -> str | None:
        if not self.attached:
            return self._sealed_collection.get(f"digest:{origin}")
        return super().digest(origin)

    def refresh(self, force: bool = False) -> bool:
        if not self.attached:
            try:
                stamp = self._marker().stat().st_mtime_ns
            except OSError:
                stamp = None
            if stamp == self._stamp and not force:
                return False
            with self._lock:  # another process wrote: read the store as an opened one does
                if not self.attached:
                    self._attach()
        return super().refresh(force)
