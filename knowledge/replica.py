"""Read replicas of the knowledge base, for the worker processes of `riskdesk serve --workers N`.

Chroma's embedded PersistentClient belongs to one process. With several workers the parent process
stays the owner: it opens the store (ingesting the shipped corpus on first use), then publishes a
snapshot of the store's chunks (the ids, metadata and embeddings Chroma holds) as one file. Each
worker searches a read-only replica built from that file by the same mirror code as the store, so
its results are the store's results. Ingest goes through the owner (`riskdesk kb ingest`); restart
the service to publish again.

    publish(default_kb(), home / "kb-replica.npz")
    kb = Replica.open(home / "kb-replica.npz")
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.store import KnowledgeBase

FORMAT = "riskdesk-kb-replica/1"


class ReplicaError(RuntimeError):
    """A replica file is missing, unreadable or of another format; or a write was asked of a replica."""


def publish(kb: KnowledgeBase, path: str | Path) -> Path:
    """Write the store's chunks to ``path`` atomically (a temporary file, then a rename): a reader sees
    the old snapshot or the new one, never half of one."""
    path = Path(path)
    ids, metas, emb = kb.read_chunks()  # in pages, as the store reads itself (one get fails past ~40,000 chunks)
    header = {"format": FORMAT, "ids": ids, "metadatas": metas,
              "collection": dict(kb._col.metadata or {}), "source": kb.location}
    raw = np.frombuffer(json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, header=raw, embeddings=emb.reshape(len(ids), -1) if len(ids) else emb)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


class Replica(KnowledgeBase):
    """A read-only KnowledgeBase over a published snapshot: search() and get() as the store's; no ingest."""

    def __init__(self, path: Path, header: dict[str, Any], emb: np.ndarray):  # use Replica.open
        self.location = f"replica of {header.get('source')} ({path})"
        self.dense_backend = "memory"
        self._client = self._col = None
        self._collection_meta = header.get("collection", {})
        self._lock = threading.RLock()
        self._mirror(header["ids"], header["metadatas"], emb if len(header["ids"]) else np.zeros((0, 512)))

    @classmethod
    def open(cls, path: str | Path) -> "Replica":  # type: ignore[override]
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(z["header"].tobytes().decode("utf-8"))
                emb = np.asarray(z["embeddings"], dtype=np.float32)
        except (OSError, KeyError, ValueError) as e:
            raise ReplicaError(f"{path}: not a readable knowledge-base replica ({e})") from None
        if header.get("format") != FORMAT:
            raise ReplicaError(f"{path}: replica format {header.get('format')!r}, expected {FORMAT!r}")
        if len(header["ids"]) != len(header["metadatas"]) or emb.shape[0] != len(header["ids"]):
            raise ReplicaError(f"{path}: {len(header['ids'])} chunk ids, {len(header['metadatas'])} metadata rows "
                               f"and {emb.shape[0]} embeddings do not match")
        return cls(path, header, emb)

    def digest(self, origin: str = "builtin") -> str | None:
        return self._collection_meta.get(f"digest:{origin}")

    def ingest(self, *_: Any, **__: Any) -> Any:
        raise ReplicaError("this knowledge base is a read-only replica: ingest with `riskdesk kb ingest` "
                           "(the store's owner), then restart the service")

    def _reload(self) -> None:  # a replica changes only by being opened again
        return None
