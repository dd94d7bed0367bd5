"""Where a cold `riskdesk ask` spends its time, phase by phase, in one new process per run: the imports in
the order the command meets them, opening the desk, the first turn (which loads the encoder, reads the
message, runs the graph and, for a policy question, opens the knowledge base), then a second turn for
comparison. Run inside a tree with PYTHONPATH=tree; --home is reused, so run once to fill it first.

    PYTHONPATH=$PWD python scripts/cold_ask_phases.py --runs 3 --home /tmp/ph-home
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r'''
import json, sys, time
T0, C0 = time.perf_counter(), time.process_time()
marks = []
def mark(name):
    marks.append((name, (time.perf_counter() - T0) * 1000, (time.process_time() - C0) * 1000))
import console.cli; mark("console.cli: Typer, rich, every command module")
import pydantic; mark("pydantic")
import sqlalchemy; mark("SQLAlchemy")
import langgraph.graph, langgraph.types; mark("LangGraph (langchain_core, langsmith, langgraph_sdk)")
import numpy; mark("numpy")
from tools.policy import active; active(); mark("tools, storage, the policy file (old: Alembic)")
from agents import Desk; mark("agents: the desk, graph, reader, composer, guard")
desk = Desk.open(ledger_file=sys.argv[2]); mark("Desk.open: the --ledger sandbox, audit log, checkpointer, graph")
desk.ask(sys.argv[1]); mark("first turn: encoder, reading, graph run (policy: knowledge base, jieba)")
desk.ask(sys.argv[1]); mark("second turn (warm)")
print(json.dumps(marks))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--home", required=True)
    ap.add_argument("--question", default="What's C1001's available credit?")
    args = ap.parse_args()
    env = {**os.environ, "RISKDESK_HOME": args.home}
    ledger = os.path.join(os.getcwd(), "tools", "data", "sample_ledger.json")
    runs = []
    for _ in range(args.runs):
        done = subprocess.run([sys.executable, "-c", CHILD, args.question, ledger], env=env, capture_output=True,
                              text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{args.question!r}: median of {args.runs} new processes; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"| phase | wall ms | user+sys CPU ms |\n|---|---|---|")
    prev_w = [0.0] * len(runs)
    prev_c = [0.0] * len(runs)
    for i, (name, _, _) in enumerate(runs[0]):
        w = statistics.median(r[i][1] - p for r, p in zip(runs, prev_w))
        c = statistics.median(r[i][2] - p for r, p in zip(runs, prev_c))
        prev_w, prev_c = [r[i][1] for r in runs], [r[i][2] for r in runs]
        print(f"| {name} | {w:.0f} | {c:.0f} |")
    print(f"| to the end of the first turn | {statistics.median(r[-2][1] for r in runs):.0f} | "
          f"{statistics.median(r[-2][2] for r in runs):.0f} |")


if __name__ == "__main__":
    main()
