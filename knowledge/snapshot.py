"""A snapshot of a knowledge base's in-memory mirror beside an embedded store, so that opening a store of tens
of thousands of clauses reads a few files instead of paging every chunk (metadata and embedding) out of Chroma
and segmenting and indexing every clause for BM25 again.

The snapshot is written after the mirror was rebuilt from Chroma (at open, and after every write), for stores
of at least SNAPSHOT_MIN clauses. It is read only when it was written for the store's current generation (the
one every write bumps, see knowledge/freshness.py), with the same number of chunks in Chroma, the same store
schema and the same lexical code and domain dictionary; anything else, or a file that cannot be read, and the
mirror is rebuilt from Chroma as before (and the snapshot written afresh). A Chroma server has no directory
beside it: its stores are always read from the server.

Files (``riskdesk-kb.snapshot/``): ``meta.json`` (generation, chunk count, schema), ``chunks.json`` (chunk ids
and metadata), ``embeddings.npy`` (float32, as Chroma returned them) and ``lexical/`` (LexicalIndex.save).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("riskdesk.knowledge")
SNAPSHOT_DIR = "riskdesk-kb.snapshot"
SNAPSHOT_MIN = 1000  # clauses: below this, rebuilding from Chroma takes well under a second
FORMAT = "riskdesk-kb-snapshot/1"


def directory(kb: Any) -> Path | None:
    """Where the snapshot of ``kb`` lives: beside an embedded store; None for a Chroma server."""
    if getattr(kb, "_client", None) is None or getattr(kb, "_url", None):
        return None
    return Path(kb.location) / SNAPSHOT_DIR


def _key(kb: Any) -> dict[str, Any]:
    from knowledge.freshness import _token_schema
    return {"format": FORMAT, "schema": _token_schema(kb.SCHEMA), "generation": kb._generation}


def load(kb: Any) -> tuple[list[str], list[dict], np.ndarray, Any] | None:
    """(chunk ids, metadata, embeddings, lexical index) of the snapshot if it is the store's current state."""
    d = directory(kb)
    if d is None or kb._generation is None or not (d / "meta.json").is_file():
        return None
    try:
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        if any(meta.get(k) != v for k, v in _key(kb).items()) or meta.get("chunks") != kb._col.count():
            return None
        return read_mirror(d, meta["chunks"], mmap=True)
    except Exception as e:  # noqa: BLE001 - a damaged snapshot is only a slower open
        log.warning("knowledge-base snapshot %s unusable (%s); reading the store", d, e)
        return None


def read_mirror(d: Path, chunks: int, mmap: bool = False) -> tuple[list[str], list[dict], np.ndarray, Any] | None:
    """The parts write_mirror wrote in `d` (chunk ids, metadata, embeddings, lexical index); None unless they
    hold `chunks` chunks each. Errors reading them are the caller's to handle (a damaged copy)."""
    from knowledge.embedding import known_word
    from knowledge.lexical import LexicalIndex
    parts = json.loads((d / "chunks.json").read_text(encoding="utf-8"))
    ids, metas = parts["ids"], parts["metadatas"]
    emb = np.load(d / "embeddings.npy", mmap_mode="r" if mmap else None)
    if not (len(ids) == len(metas) == emb.shape[0] == chunks):
        return None
    return ids, metas, emb, LexicalIndex.load(d / "lexical", known=known_word)


def save(kb: Any, ids: list[str], metas: list[dict], emb: np.ndarray) -> bool:
    """Write the snapshot of the mirror just rebuilt (atomically: a reader sees the old one or the new one)."""
    d = directory(kb)
    if d is None or kb._generation is None or len(kb) < SNAPSHOT_MIN:
        return False
    return write_mirror(d, kb, ids, metas, emb, {**_key(kb), "chunks": len(ids)}, "snapshot")


def write_mirror(d: Path, kb: Any, ids: list[str], metas: list[dict], emb: np.ndarray, meta: dict[str, Any],
                 what: str) -> bool:
    """The mirror's parts (chunks and metadata, embeddings, the BM25 index, `meta`) written to directory `d`
    atomically: a reader sees the old directory or the new one, never half of one. Shared by the snapshot of
    a large store and the seal of a small one (knowledge/sealed.py). False (logged) when it could not be written."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{d.name}.", dir=d.parent))
    try:
        tmp.chmod(d.parent.stat().st_mode & 0o777)  # as the store's directory, not mkdtemp's owner-only mode
        (tmp / "chunks.json").write_text(json.dumps({"ids": ids, "metadatas": metas}, ensure_ascii=False),
                                         encoding="utf-8")
        np.save(tmp / "embeddings.npy", np.ascontiguousarray(emb, dtype=np.float32))
        kb._lexical.save(tmp / "lexical")
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        old = d.with_name(f".{d.name}.old.{os.getpid()}")
        if d.exists():
            os.replace(d, old)
        os.replace(tmp, d)
        shutil.rmtree(old, ignore_errors=True)
        return True
    except Exception as e:  # noqa: BLE001 - none then: the next open reads the store
        log.warning("knowledge-base %s %s not written (%s)", what, d, e)
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove(kb: Any) -> None:
    d = directory(kb)
    if d is not None:
        shutil.rmtree(d, ignore_errors=True)
