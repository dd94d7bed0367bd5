"""Per-turn latency of the agent with the rules planner, split by team member.

    .venv/bin/riskdesk bench --turns 300

Prints p50/p95 per warm turn and per node (planner = supervisor, tools = risk_operator,
retrieval = policy_researcher, composer, guard = compliance_reviewer), LLM calls per turn, where the rest
of the turn goes (checkpoint read/write, (de)serialisation, audit masking and write, graph and desk
overhead: agents/bench_breakdown.py), and the cold start of a fresh `riskdesk ask` process.
`--growth` times turns against thread length, ledger, audit log and knowledge base size (agents/bench_growth.py).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

MIXED_TURNS = [
    "What's C1001's available credit?", "查一下C1003的额度", "C1022能做信用修复吗？截至2026年1月15日",
    "Is C1016 eligible for the one-time credit repair?", "信用修复要交钱给中介吗", "What is the cap on a temporary quota?",
    "C1041 temp quota 3000 for a fridge", "给C1038申请临时额度6000元，旅游", "Tell me a joke", "C1099的额度",
    "What is the financing cost cap for consumer finance companies from 2026?", "C1012 temporary quota 15000 to buy stocks",
]
NODES = ["supervisor", "risk_operator", "policy_researcher", "composer", "compliance_reviewer"]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def run(turns: int = 300, cold: bool = True) -> dict:
    from knowledge import store
    old_home, kb_was_open = os.environ.get("RISKDESK_HOME"), store._default is not None
    try:
        return _run(turns, cold)
    finally:  # the throwaway home is gone: nothing used after the bench may point at it
        if old_home is None:
            os.environ.pop("RISKDESK_HOME", None)
        else:
            os.environ["RISKDESK_HOME"] = old_home
        if not kb_was_open:  # the process-wide knowledge base the bench opened lived in that home
            store.reset_default()


def _run(turns: int, cold: bool) -> dict:
    from agents.bench_breakdown import probed, split
    from agents.desk import Desk
    from tools.ledger import SAMPLE_LEDGER

    with tempfile.TemporaryDirectory() as home:
        os.environ["RISKDESK_HOME"] = home
        desk = Desk.open(ledger_file=SAMPLE_LEDGER)
        for m in MIXED_TURNS:  # warm-up: imports, jieba, embeddings, first queries
            desk.ask(m, as_of="2026-11-23")
        totals, per_node, llm_calls, parts, cpu, steps = [], {n: [] for n in NODES}, [], [], [], []
        with probed(desk) as probe:  # agents/bench_breakdown.py: checkpoint, audit and graph time of each turn
            for i in range(turns):
                m = MIXED_TURNS[i % len(MIXED_TURNS)]
                probe.take()
                c0, t0 = time.process_time(), time.perf_counter()
                r = desk.ask(m, as_of="2026-11-23")
                totals.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                acc = probe.take()
                rec = desk.audit.get(r.trace_id)
                for n in NODES:
                    if n in rec.timings_ms:
                        per_node[n].append(rec.timings_ms[n])
                llm_calls.append(rec.llm_calls)
                steps.append(len(rec.agents) + 1)  # the timed members, and `deliver`
                parts.append(split(totals[-1], sum(rec.timings_ms.get(n, 0.0) for n in NODES), acc))
        result = {"turns": turns, "p50_ms": pct(totals, .5), "p95_ms": pct(totals, .95),
                  "nodes": {n: (pct(v, .5), pct(v, .95)) for n, v in per_node.items()},
                  "llm_calls_per_turn": statistics.mean(llm_calls), "planner": desk.llm_model or "rules",
                  "parts_p50_ms": {k: pct([p[k] for p in parts], .5) for k in parts[0]},
                  "cpu_p50_ms": pct(cpu, .5), "load_average": os.getloadavg()[0], "cores": os.cpu_count()}
        nodes = result["parts_p50_ms"]["nodes"]
        result["overhead_per_node"] = (result["p50_ms"] - nodes) / nodes if nodes else float("nan")
        desk.close()
        from agents.bench_floor import measure
        from agents.graph import TurnState
        from agents.turn_executor import INLINE
        result["floor"] = measure(len(TurnState.__annotations__), round(statistics.median(steps)), config={INLINE: True})
        if cold:
            # as a user's shell starts it: bytecode cached (an unmeasured first run writes what is missing; a shell
            # with PYTHONDONTWRITEBYTECODE would recompile every module of this tree on each start, ~0.2 s)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"RISKDESK_HOME": home}
            colds = []
            for i in range(4):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "console", "ask", "What's C1001's available credit?", "--json",
                                "--ledger", str(SAMPLE_LEDGER)], check=True, capture_output=True, env=env)
                if i:
                    colds.append((time.perf_counter() - t0) * 1000)
            result["cold_ask_ms"] = statistics.median(colds)
    return result


def render(result: dict) -> str:
    lines = [f"turns: {result['turns']} (planner: {result['planner']})",
             f"per warm turn: p50 {result['p50_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms"
             + (f" (CPU p50 {result['cpu_p50_ms']:.2f} ms; {result['cores']} cores, load average "
                f"{result['load_average']:.1f} at the end)" if "cpu_p50_ms" in result else ""),
             "per node (p50 / p95 ms):"]
    labels = {"supervisor": "planner", "risk_operator": "tools", "policy_researcher": "retrieval",
              "composer": "composer", "compliance_reviewer": "guard"}
    for n, (p50, p95) in result["nodes"].items():
        lines.append(f"  {labels[n]:<10} ({n}): {p50:.2f} / {p95:.2f}")
    lines.append(f"LLM calls per turn: {result['llm_calls_per_turn']:.2f}")
    if "parts_p50_ms" in result:
        lines.append("where a warm turn's time goes (medians, ms; agents/bench_breakdown.py):")
        for k, v in result["parts_p50_ms"].items():
            lines.append(f"  {k:<20} {v:7.3f}")
        lines.append(f"overhead / node work (p50 turn - p50 nodes) / p50 nodes: {result['overhead_per_node']:.2f}")
    if "floor" in result:
        f = result["floor"]
        lines.append(f"LangGraph's floor on this machine now (agents/bench_floor.py, no-op nodes, SQLite checkpoint, "
                     f"durability \"exit\"): this turn's shape ({f['channels']} channels, {f['steps']} steps) "
                     f"{f['turn_shape_ms']:.2f} ms; five nodes {f['five_nodes_ms']:.2f} ms, "
                     f"{f['machine_vs_reference']:.2f}x the reference machine's 2.05 ms")
        lines.append(f"turn p50 at the reference machine's speed (p50 / {f['machine_vs_reference']:.2f}): "
                     f"{result['p50_ms'] / f['machine_vs_reference']:.2f} ms")
    if "cold_ask_ms" in result:
        lines.append(f"cold `riskdesk ask` (new process, median of 3): {result['cold_ask_ms']:.0f} ms")
    return "\n".join(lines)
