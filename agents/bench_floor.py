"""What LangGraph itself costs on this machine, now: the floor under a turn's graph overhead.

`riskdesk bench` times, in the same process right after the turns, two graphs of no-op nodes in a line:

  turn shape   as many state channels as TurnState and as many steps as the median turn, on the same
               checkpointer (SQLite, one checkpoint per run: durability "exit") and the same kind of config
  five nodes   the reference floor exactly as it was measured on the machine the speed goals were set on
               (2.05 ms p50): five no-op nodes returning nothing over six channels, `invoke` on a SQLite
               checkpoint with durability "exit", a new thread each turn, the same input

The first says how much of a turn's graph overhead is LangGraph's own stepping for this shape; the second how
fast this machine runs today against the reference (a shared VM drifts by 2x within a day).
"""
from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

REFERENCE_FIVE_NODES_MS = 2.05  # five no-op nodes, SqliteSaver, durability "exit", on the goals' machine


def _line(channels: int, steps: int, saver: Any):
    from langgraph.graph import END, START, StateGraph

    state = TypedDict("FloorState", {f"c{i}": Any for i in range(channels)}, total=False)  # type: ignore[misc]
    g = StateGraph(state)
    prev = START
    for k in range(steps):
        keys = [f"c{(k * 3 + j) % channels}" for j in range(3)]  # each node writes three channels, like a member

        def node(_s: Any, keys: list[str] = keys, k: int = k) -> dict:
            return {key: k for key in keys}
        g.add_node(f"n{k}", node)
        g.add_edge(prev, f"n{k}")
        prev = f"n{k}"
    g.add_edge(prev, END)
    return g.compile(checkpointer=saver)


def _time(app: Any, turns: int, config: dict) -> float:
    samples = []
    for i in range(turns + 20):
        cfg = {"configurable": {**config, "thread_id": f"floor-{i}"}}
        t0 = time.perf_counter()
        for _ in app.stream({"c0": "x" * 200}, cfg, stream_mode=["updates", "values"], durability="exit"):
            pass
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples[20:])


class _Five(TypedDict, total=False):
    msg: str
    plan: dict
    results: list
    clauses: list
    reply: str
    guard: dict


def _five_nodes(saver: Any):
    from langgraph.graph import END, START, StateGraph

    g = StateGraph(_Five)
    prev = START
    for name in ("planner", "tools", "retrieve", "compose", "guard"):
        g.add_node(name, lambda _s: {})
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile(checkpointer=saver)


def _time_five(app: Any, turns: int) -> float:
    samples = []
    for i in range(turns + 20):
        t0 = time.perf_counter()
        app.invoke({"msg": "hello " * 20, "results": [{"a": 1}] * 3, "clauses": [{"text": "x" * 500}] * 3},
                   {"configurable": {"thread_id": f"x{i}"}}, durability="exit")
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples[20:])


def measure(channels: int, steps: int, turns: int = 200, config: dict | None = None) -> dict[str, float]:
    """p50 ms of a run of `steps` no-op nodes over `channels` channels, and of the reference's five nodes."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    with tempfile.TemporaryDirectory() as d:
        conn = sqlite3.connect(Path(d) / "floor.sqlite3", check_same_thread=False)
        try:
            saver = SqliteSaver(conn)
            shape = _time(_line(channels, steps, saver), turns, config or {})
            five = _time_five(_five_nodes(saver), turns)
        finally:
            conn.close()
    return {"turn_shape_ms": shape, "five_nodes_ms": five, "channels": channels, "steps": steps,
            "machine_vs_reference": five / REFERENCE_FIVE_NODES_MS}
