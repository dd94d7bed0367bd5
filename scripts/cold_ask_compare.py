"""Cold `riskdesk ask` of two source trees side by side: each run is a new process started inside its own tree
(PYTHONPATH=tree, cwd=tree, so `python -m console` runs that tree's code), alternated, with a home per tree that
a first run already filled (as `riskdesk bench` does). Prints the median wall time and the median user+sys CPU
of each tree, their ratio, the core count and the load average.

    python scripts/cold_ask_compare.py /work/wt/c18base /work/wt/c18 --runs 7

With --floor, each round also starts the LangGraph floor of a cold process (LANGGRAPH_FLOOR below: import
LangGraph and its SQLite saver, compile five no-op nodes, run one turn): what any process that runs a turn
through LangGraph pays on this machine at that minute, before any work of its own.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "What's C1001's available credit?"
LANGGRAPH_FLOOR = """
import sqlite3
from typing import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.checkpoint.sqlite import SqliteSaver
class S(TypedDict, total=False):
    msg: str
    reply: str
g, prev = StateGraph(S), START
for name in ("planner", "tools", "retrieve", "compose", "guard"):
    g.add_node(name, lambda s: {})
    g.add_edge(prev, name)
    prev = name
g.add_edge(prev, END)
app = g.compile(checkpointer=SqliteSaver(sqlite3.connect(":memory:", check_same_thread=False)))
app.invoke({"msg": "hello"}, {"configurable": {"thread_id": "t"}}, durability="exit")
"""


def floor() -> tuple[float, float]:
    """Wall ms and user+sys CPU ms of one cold LangGraph floor process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", LANGGRAPH_FLOOR], check=True, capture_output=True)
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def one(tree: Path, home: str, question: str) -> tuple[float, float, str]:
    """Wall ms, user+sys CPU ms of the child, and its stdout."""
    env = {**os.environ, "PYTHONPATH": str(tree), "RISKDESK_HOME": home}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "console", "ask", question, "--json", "--ledger",
                           str(tree / "tools" / "data" / "sample_ledger.json")],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--floor", action="store_true", help="also time the cold LangGraph floor, alternated")
    args = ap.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    with tempfile.TemporaryDirectory() as tmp:
        homes = {k: str(Path(tmp) / k) for k in trees}
        answers = {}
        for k, tree in trees.items():  # warm-up: fills the home (stores, caches) and writes the bytecode
            answers[k] = one(tree, homes[k], args.question)[2]
        walls: dict[str, list[float]] = {k: [] for k in (*trees, "floor")}
        cpus: dict[str, list[float]] = {k: [] for k in (*trees, "floor")}
        for i in range(args.runs):
            for k in (("old", "new") if i % 2 == 0 else ("new", "old")):
                wall, cpu, _ = one(trees[k], homes[k], args.question)
                walls[k].append(wall)
                cpus[k].append(cpu)
            if args.floor:
                wall, cpu = floor()
                walls["floor"].append(wall)
                cpus["floor"].append(cpu)
    print(f"cold `riskdesk ask {args.question!r} --json --ledger tools/data/sample_ledger.json`, "
          f"{args.runs} runs each, alternated; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    for k in trees:
        print(f"  {k} ({trees[k]}): wall median {statistics.median(walls[k]):.0f} ms "
              f"(min {min(walls[k]):.0f}, max {max(walls[k]):.0f}); user+sys CPU median "
              f"{statistics.median(cpus[k]):.0f} ms")
    if args.floor:
        print(f"  LangGraph floor (a cold process: import, compile five no-op nodes, one turn): wall median "
              f"{statistics.median(walls['floor']):.0f} ms; user+sys CPU median {statistics.median(cpus['floor']):.0f} ms")
    print(f"  new / old: wall {statistics.median(walls['new']) / statistics.median(walls['old']):.2f}, "
          f"CPU {statistics.median(cpus['new']) / statistics.median(cpus['old']):.2f}")
    strip = ("trace_id", "thread_id", "timings_ms", "created_at")
    same = all({k: v for k, v in json.loads(answers[t]).items() if k not in strip} ==
               {k: v for k, v in json.loads(answers["old"]).items() if k not in strip} for t in trees)
    print(f"  same answer (ids and timings aside): {same}")


if __name__ == "__main__":
    main()
