"""A desk's turn runs LangGraph's background work in its own thread.

LangGraph runs each graph run's background work (with durability "exit": the one checkpoint save at the
end of the turn, and any writes) on a thread pool that it creates for the run and joins before the run
returns. For a turn of a few milliseconds that is a thread start, two hand-offs between threads (under
one GIL) and a join per turn, about a tenth of a warm turn's CPU, for work the turn waits for anyway.

A run whose config carries `INLINE` (agents/desk.py sets it on every turn) gets an executor that runs
each submitted call at once, in the calling thread, and hands back a finished future: the same calls in
the same order, the checkpoint written before the run returns, exactly as before. Our graph has one task
per step, so nothing that could run side by side is serialised. Every other run (another graph in the
process, LangGraph's async API) keeps LangGraph's own pool.

The hook is LangGraph's `get_executor_for_config` as its executor module imports it (langgraph 1.x);
`install()` checks that the name is there and says so if it is not (tests/test_speed.py fails then,
rather than the turn silently keeping the per-run pool).
"""
from __future__ import annotations

import concurrent.futures
from contextlib import contextmanager
from typing import Any, Callable, Iterator

INLINE = "riskdesk_inline_executor"  # a configurable key: this run's background work runs in its own thread


class InlineExecutor(concurrent.futures.Executor):
    """Runs each call when it is submitted; the future it returns is already done."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the waiter, as a pool thread would
            future.set_exception(e)
        return future


_installed: list[Callable[..., Any]] = []


def install() -> bool:
    """Route runs marked INLINE to an InlineExecutor (idempotent). False when this LangGraph has no such hook."""
    if _installed:
        return True
    from langgraph.pregel import _executor
    original = getattr(_executor, "get_executor_for_config", None)
    if original is None:
        return False

    @contextmanager
    def get_executor_for_config(config: Any) -> Iterator[concurrent.futures.Executor]:
        if ((config or {}).get("configurable") or {}).get(INLINE):
            yield InlineExecutor()
        else:
            with original(config) as executor:
                yield executor

    _executor.get_executor_for_config = get_executor_for_config
    _installed.append(original)
    return True


def installed() -> bool:
    """True while runs marked INLINE get an InlineExecutor."""
    from langgraph.pregel import _executor
    return bool(_installed) and _executor.get_executor_for_config is not _installed[0]
