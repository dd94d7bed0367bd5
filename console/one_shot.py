"""What a one-shot command (`riskdesk ask`) does to start quicker.

Such a command imports most of its libraries (LangGraph, the agent), builds a few hundred pydantic models and
runs one turn in about a second. At the default thresholds Python's cyclic garbage collector runs some 370
collections meanwhile, re-scanning the same young module objects: about 0.1 s of CPU for almost nothing to
free. While the command sets up and runs its turn, collections are fewer; the thresholds are put back after,
so nothing long-running (chat, serve) collects any differently.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

FIRST_GENERATION = 50_000  # allocations between two young collections (default 700)


@contextmanager
def fewer_collections() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(max(FIRST_GENERATION, saved[0]), max(20, saved[1]), max(100, saved[2]))
    try:
        yield
    finally:
        gc.set_threshold(*saved)
