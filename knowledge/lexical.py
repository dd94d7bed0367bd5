"""Lexical retrieval: jieba (with the domain dictionary) for Chinese, lower-cased lightly stemmed words for
English, BM25 (bm25s) over the clauses, built in memory at open time."""
from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

DOMAIN_DICT = Path(__file__).resolve().parent / "domain_dict.txt"
_CJK = re.compile(r"[\u3400-\u9fff]")
_SEGMENT = re.compile(r"[\u3400-\u9fff]+|[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:[.,]\d+)*")
_lock = threading.Lock()

EN_STOP = frozenset("""a an the of to in on for and or is are was were be been being by with as at from that this
these those it its if can could do does did i me my we our you your he she they them his her their what which who
whom how when where why there here will would should shall may might must not no nor so than then too very just
about into over under up down out any all each some such only own same other more most also still yet get got has
have had having am please tell let know want need any""".split())
ZH_STOP = frozenset("的 了 吗 呢 吧 啊 是 在 和 与 及 或 也 都 就 还 又 被 把 对 从 到 让 给 我 你 他 她 它 我们 你们 "
                    "他们 这 那 这个 那个 什么 怎么 怎么样 如何 哪些 一下 一个 有 没 会 能 可以 要 吗？ 呀 嘛 个 请问 "
                    "请 想 知道 多少 几 时候 之 其 等 以及 而 但 并 为 以".split())


@lru_cache(maxsize=1)
def _jieba():  # noqa: ANN202
    import jieba
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.load_userdict(str(DOMAIN_DICT))
    return tok


def segment(text: str) -> list[str]:
    """Chinese word segmentation with the domain dictionary (shared by the rules planner)."""
    with _lock:
        return _jieba().lcut(text)


# Common short forms in the trade, indexed and queried as their full form too.
ALIASES = {"临额": "临时额度", "消金": "消费金融", "央行": "人民银行", "征信修复": "信用修复", "temp": "temporary",
           "pboc": "central", "apr": "annualised"}


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202
    import snowballstemmer
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: Chinese words from jieba's search mode plus single characters (robust to typos and
    unseen words), English lower-cased stemmed words without stop words, numbers without separators."""
    out: list[str] = []
    for m in _SEGMENT.finditer(text):
        piece = m.group(0)
        if _CJK.match(piece):
            with _lock:
                words = list(_jieba().cut_for_search(piece))
            out.extend(w for w in words if w not in ZH_STOP and len(w) > 1)
            out.extend(ALIASES[w] for w in words if w in ALIASES)
            out.extend(ch for ch in piece if ch not in ZH_STOP)
        elif piece[0].isdigit():
            out.append(piece.replace(",", ""))
        else:
            w = piece.lower()
            if w not in EN_STOP and len(w) > 1:
                out.append(_stem(w))
                if w in ALIASES:
                    out.append(_stem(ALIASES[w]))
    return out


class LexicalIndex:
    """BM25 over documents given as plain strings; ``scores`` returns one score per document."""

    def __init__(self, texts: list[str], k1: float = 1.5, b: float = 0.75):
        import bm25s
        self.n = len(texts)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        corpus = [tokenize(t) or ["\u2205"] for t in texts]
        if self.n:
            self._bm25.index(corpus, show_progress=False)
        self._vocab = self._bm25.vocab_dict if self.n else {}

    def scores(self, query: str) -> np.ndarray:
        ids = [self._vocab[t] for t in tokenize(query) if t in self._vocab]
        if not ids or not self.n:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(ids), dtype=np.float32)
