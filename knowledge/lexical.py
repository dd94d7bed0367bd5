"""Lexical retrieval: jieba (with the domain dictionary) for Chinese, lower-cased lightly stemmed words for
English, BM25 (bm25s) over the clauses, built in memory at open time. An English query word the index has
never seen is read as a typo of the nearest indexed word (Damerau-Levenshtein, see LexicalIndex.correct)."""
from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

DOMAIN_DICT = Path(__file__).resolve().parent / "domain_dict.txt"
_CJK = re.compile(r"[\u3400-\u9fff]")
_SEGMENT = re.compile(r"[\u3400-\u9fff]+|[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_lock = threading.Lock()

# Function words only. Adverbial particles (up, down, out, over, under, off) are kept: in this domain they are
# half of a term ("down payment", "cash out", "pay off", "over 20%") and BM25's IDF already discounts them.
EN_STOP = frozenset("""a an the of to in on for and or is are was were be been being by with as at from that this
these those it its if can could do does did i me my we our you your he she they them his her their what which who
whom how when where why there here will would should shall may might must not no nor so than then too very just
about into any all each some such only own same other more most also still yet get got has have had having am
please tell let know want need""".split())
ZH_STOP = frozenset("的 了 吗 呢 吧 啊 是 在 和 与 及 或 也 都 就 还 又 被 把 对 从 到 让 给 我 你 他 她 它 我们 你们 "
                    "他们 这 那 这个 那个 什么 怎么 怎么样 如何 哪些 一下 一个 有 没 会 能 可以 要 吗？ 呀 嘛 个 请问 "
                    "请 想 知道 多少 几 时候 之 其 等 以及 而 但 并 为 以".split())


@lru_cache(maxsize=1)
def _jieba():  # noqa: ANN202
    import jieba
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    try:  # jieba's prefix-dictionary cache with ours ($RISKDESK_CACHE_DIR, else $RISKDESK_HOME/cache), not in /tmp
        from knowledge.model_cache import cache_root
        cache = cache_root()
        cache.mkdir(parents=True, exist_ok=True)
        tok.tmp_dir = str(cache)
    except OSError:
        pass  # jieba then uses the system's temporary directory, as before
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


def tokenize(text: str, fix: Callable[[str], str] | None = None) -> list[str]:
    """Tokens for BM25: Chinese words from jieba's search mode plus single characters (robust to typos and
    unseen words), English lower-cased stemmed words without stop words, numbers without separators.
    ``fix`` rewrites a lower-cased English word first (typo correction of queries)."""
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
            if fix is not None:
                w = fix(w)
            if w not in EN_STOP and len(w) > 1:
                out.append(_stem(w))
                if w in ALIASES:
                    out.append(_stem(ALIASES[w]))
    return out


def _deletes(word: str, depth: int) -> set[str]:
    """``word`` and every string made from it by deleting up to ``depth`` letters."""
    out, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein distance (optimal string alignment: a swap of two neighbours is one edit),
    or ``limit + 1`` as soon as it is known to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], before[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        before, prev = prev, cur
    return prev[-1]


class LexicalIndex:
    """BM25 over documents given as plain strings; ``scores`` returns one score per document.

    ``known(word)`` (optional) tells a real English word from a typo: a query word it knows is never
    corrected, even when the index does not contain it (so "change" is not read as "charge")."""

    MIN_TYPO_LEN = 5

    def __init__(self, texts: list[str], k1: float = 1.5, b: float = 0.75,
                 known: Callable[[str], bool] | None = None, tokens: list[list[str]] | None = None):
        import bm25s
        self.n = len(texts)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        # ``tokens``: tokenize(text) of each text, when the caller kept them (segmenting tens of thousands of
        # clauses is most of the cost of building the index)
        corpus = [t or ["\u2205"] for t in tokens] if tokens is not None else [tokenize(t) or ["\u2205"] for t in texts]
        if self.n:
            self._bm25.index(corpus, show_progress=False)
        self._vocab = self._bm25.vocab_dict if self.n else {}
        # Surface English words of the index (by document frequency): the targets of typo correction.
        df: Counter[str] = Counter()
        for t in texts:
            df.update({w.lower() for w in _WORD.findall(t)})
        self._typo_targets({w: n for w, n in df.items() if len(w) >= self.MIN_TYPO_LEN - 1 and w not in EN_STOP},
                           known)

    def _typo_targets(self, words: dict[str, int], known: Callable[[str], bool] | None) -> None:
        self._words = words
        # Symmetric-delete index (SymSpell): two words within 2 edits share a string reachable from each by
        # at most 2 deletions, so a query word only meets the few candidates worth measuring.
        self._by_delete: dict[str, set[str]] = {}
        for w in self._words:
            for d in _deletes(w, 2):
                self._by_delete.setdefault(d, set()).add(w)
        self._known = known
        self._fixes: dict[str, str] = {}

    WORDS_FILE = "riskdesk.words.json"

    def save(self, directory: str | Path) -> None:
        """Write the index to ``directory``: bm25s's own files (scores matrix, vocabulary, parameters) and the
        English words that typo correction aims at. LexicalIndex.load reads it back without segmenting."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.n:
            self._bm25.save(str(directory), show_progress=False)
        (directory / self.WORDS_FILE).write_text(json.dumps({"n": self.n, "words": self._words}, ensure_ascii=False),
                                                 encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path, known: Callable[[str], bool] | None = None) -> "LexicalIndex":
        """An index written by save(): the same scores for every query, without tokenizing the texts again."""
        import bm25s
        directory = Path(directory)
        stored = json.loads((directory / cls.WORDS_FILE).read_text(encoding="utf-8"))
        self = cls.__new__(cls)
        self.n = int(stored["n"])
        self._bm25 = bm25s.BM25.load(str(directory), show_progress=False) if self.n else bm25s.BM25()
        self._vocab = self._bm25.vocab_dict if self.n else {}
        self._typo_targets({str(w): int(n) for w, n in stored["words"].items()}, known)
        return self

    def correct(self, word: str) -> str:
        """``word`` (lower-case) if the index has it (or its stem), is a stop word, is shorter than
        MIN_TYPO_LEN or is a known word; else the nearest indexed word within 1 edit (5 letters) or 2 edits
        (6 letters or more), ties to the word in more documents; else ``word``."""
        if (len(word) < self.MIN_TYPO_LEN or word in EN_STOP or word in self._words
                or _stem(word) in self._vocab or not word.isascii()):
            return word
        if word in self._fixes:
            return self._fixes[word]
        fixed = word
        if self._known is None or not self._known(word):
            limit = 1 if len(word) <= self.MIN_TYPO_LEN else 2
            best: tuple[int, int, str] | None = None
            candidates = set().union(*(self._by_delete.get(d, ()) for d in _deletes(word, limit)))
            for cand in candidates:
                d, n = edit_distance(word, cand, limit), self._words[cand]
                if d <= limit and (best is None or (d, -n, cand) < best):
                    best = (d, -n, cand)
            fixed = best[2] if best else word
        if len(self._fixes) < 10000:
            self._fixes[word] = fixed
        return fixed

    def query_tokens(self, query: str) -> list[str]:
        return tokenize(query, fix=self.correct)

    def scores(self, query: str) -> np.ndarray:
        ids = [self._vocab[t] for t in self.query_tokens(query) if t in self._vocab]
        if not ids or not self.n:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(ids), dtype=np.float32)
