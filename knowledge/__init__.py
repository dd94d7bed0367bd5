"""The credit-policy knowledge base (the agent's "experience"): bilingual clauses in Chroma, hybrid retrieval
(BM25 via jieba + USE multilingual embeddings, z-score fusion), filtered by the date a rule is read as of."""
from knowledge.corpus import CORPUS_DIR, CorpusError, load_corpus, parse_document
from knowledge.models import Clause, ClauseHit, IngestReport
from knowledge.store import KnowledgeBase, ShippedFirst, default_kb, default_path

__all__ = ["CORPUS_DIR", "Clause", "ClauseHit", "CorpusError", "IngestReport", "KnowledgeBase", "ShippedFirst", "default_kb",
           "default_path", "load_corpus", "parse_document"]
