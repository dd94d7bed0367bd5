"""Each question's dense similarity to every clause, computed once per in-memory mirror.

A clause's dense score is the best cosine of its chunks, so a hybrid search scans every chunk embedding: at
10,000 policy clauses (about 40,000 sentence chunks, 80 MB of float32) that one product is a few milliseconds,
the whole growth of a policy turn with the knowledge base's size. The z-scores of the fusion need every
clause's score and that score is a maximum over chunks, so neither an approximate prefilter nor the moments of
the embeddings give the same scores without the scan. What can be kept is its result: the per-clause best
cosines of one query text depend only on that text (its embedding) and on the mirror, so they are kept here, by
text, until the mirror is rebuilt (every ingest, reload or refresh makes a new cache). The same question asked
again (a desk's canned questions, an operator's repeat) then skips the scan; a new question pays it once.

The values are the scan's own float32 array, stored read-only: a hit returns exactly what the scan returned.
Bounded by entries and by bytes (``budget_bytes``): least recently used first out.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

BUDGET_BYTES = 32 << 20  # 32 MB: ~800 questions at 10,000 clauses, ~300 at 26,000 (the statutes)
MAX_ENTRIES = 4096  # as the process's cache of one-text embeddings (knowledge/embedding.py)


class SimilarityCache:
    """query text -> read-only float32 array of per-clause best cosines (least recently used out first)."""

    def __init__(self, budget_bytes: int = BUDGET_BYTES, max_entries: int = MAX_ENTRIES):
        self.budget_bytes, self.max_entries = budget_bytes, max_entries
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            got = self._items.get(text)
            if got is None:
                self.misses += 1
                return None
            self._items.move_to_end(text)
            self.hits += 1
            return got

    def put(self, text: str, scores: np.ndarray) -> np.ndarray:
        """Keep ``scores`` (made read-only; not copied) for ``text``; returns them."""
        scores.setflags(write=False)
        if scores.nbytes > self.budget_bytes:
            return scores
        with self._lock:
            old = self._items.pop(text, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[text] = scores
            self._bytes += scores.nbytes
            while self._items and (self._bytes > self.budget_bytes or len(self._items) > self.max_entries):
                _, gone = self._items.popitem(last=False)
                self._bytes -= gone.nbytes
        return scores

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes
