"""Where a warm turn's time goes: the nodes' own work against everything around it.

    riskdesk bench --turns 300 --breakdown

Wraps (for the benchmark only, on one Desk) the checkpointer's read and write, its serialiser, the audit
masking and the audit write, then splits each turn's wall time into:

  nodes             the five team members' own time (the same figures the audit record keeps)
  checkpoint read   loading the thread's last checkpoint (SqliteSaver.get_tuple), serialiser excluded
  checkpoint write  storing the turn's checkpoint and pending writes (put / put_writes), serialiser excluded
  (de)serialisation the checkpoint serialiser (serde dumps_typed / loads_typed)
  audit masking     masking every string of the audit record before it is written
  audit write       serialising the record to JSON and committing it (SQL insert + commit)
  graph overhead    graph.stream's time minus the nodes and the checkpoint work (scheduling, channel
                    updates, state copies, the untimed `deliver` step)
  desk overhead     the rest: request validation, masking the message, building the result

Each figure is a median over the turns; the overhead/node ratio is (p50 turn - p50 nodes) / p50 nodes.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Iterator

PARTS = ["nodes", "checkpoint read", "checkpoint write", "(de)serialisation", "audit masking", "audit write",
         "graph overhead", "desk overhead"]


class Probe:
    """Accumulates wall time per label for the wrapped callables (nesting is subtracted by the caller)."""

    def __init__(self) -> None:
        self.acc: dict[str, float] = defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, obj: Any, attr: str, label: str) -> None:
        orig = getattr(obj, attr)

        def timed(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                self.acc[label] += (time.perf_counter() - t0) * 1000
        had = attr in vars(obj) if hasattr(obj, "__dict__") else False
        setattr(obj, attr, timed)
        self._undo.append(lambda: setattr(obj, attr, orig) if had else delattr(obj, attr))

    def wrap_iter(self, obj: Any, attr: str, label: str) -> None:
        """Like wrap, for a method returning an iterator: the time spent inside each next() counts."""
        orig = getattr(obj, attr)

        def timed(*a: Any, **k: Any) -> Iterator[Any]:
            t0 = time.perf_counter()
            it = iter(orig(*a, **k))
            self.acc[label] += (time.perf_counter() - t0) * 1000
            while True:
                t0 = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    self.acc[label] += (time.perf_counter() - t0) * 1000
                    return
                self.acc[label] += (time.perf_counter() - t0) * 1000
                yield item
        setattr(obj, attr, timed)
        self._undo.append(lambda: delattr(obj, attr))

    def take(self) -> dict[str, float]:
        out, self.acc = dict(self.acc), defaultdict(float)
        return out

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


@contextmanager
def probed(desk: Any) -> Iterator[Probe]:
    import agents.desk as desk_mod

    probe = Probe()
    cp = desk.checkpointer
    probe.wrap(cp, "get_tuple", "cp_read")
    probe.wrap(cp, "put", "cp_put")
    probe.wrap(cp, "put_writes", "cp_put")
    probe.wrap(cp.serde, "dumps_typed", "serde")
    probe.wrap(cp.serde, "loads_typed", "serde_load")
    probe.wrap(desk.audit, "write", "audit_write")
    probe.wrap_iter(desk.graph, "stream", "stream")
    orig_masked = desk_mod.masked

    def masked(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return orig_masked(*a, **k)
        finally:
            probe.acc["audit_mask"] += (time.perf_counter() - t0) * 1000
    desk_mod.masked = masked
    try:
        yield probe
    finally:
        desk_mod.masked = orig_masked
        probe.restore()


def split(total: float, nodes: float, acc: dict[str, float]) -> dict[str, float]:
    """One turn's parts (ms)."""
    serde = acc.get("serde", 0.0) + acc.get("serde_load", 0.0)
    read = max(0.0, acc.get("cp_read", 0.0) - acc.get("serde_load", 0.0))
    write = max(0.0, acc.get("cp_put", 0.0) - acc.get("serde", 0.0))
    mask, audit = acc.get("audit_mask", 0.0), acc.get("audit_write", 0.0)
    stream = acc.get("stream", 0.0)
    graph = stream - nodes - read - write - serde
    return {"nodes": nodes, "checkpoint read": read, "checkpoint write": write, "(de)serialisation": serde,
            "audit masking": mask, "audit write": audit, "graph overhead": graph,
            "desk overhead": total - stream - mask - audit}


def run(turns: int = 300) -> dict[str, Any]:
    from agents.bench import MIXED_TURNS, NODES, pct
    from agents.desk import Desk
    from tools.ledger import SAMPLE_LEDGER

    with tempfile.TemporaryDirectory() as home:
        os.environ["RISKDESK_HOME"] = home
        desk = Desk.open(ledger_file=SAMPLE_LEDGER)
        for m in MIXED_TURNS:
            desk.ask(m, as_of="2026-11-23")
        rows: list[dict[str, float]] = []
        totals: list[float] = []
        cp_bytes: list[int] = []
        with probed(desk) as probe:
            sizes: list[int] = []
            probe_sizes = desk.checkpointer.serde.dumps_typed

            def sized(obj: Any) -> Any:
                out = probe_sizes(obj)
                sizes.append(len(out[1]))
                return out
            desk.checkpointer.serde.dumps_typed = sized
            for i in range(turns):
                m = MIXED_TURNS[i % len(MIXED_TURNS)]
                probe.take()
                sizes.clear()
                t0 = time.perf_counter()
                r = desk.ask(m, thread_id=f"bench-{i}", as_of="2026-11-23")
                total = (time.perf_counter() - t0) * 1000
                acc = probe.take()
                rec = desk.audit.get(r.trace_id)
                nodes = sum(rec.timings_ms.get(n, 0.0) for n in NODES)
                totals.append(total)
                rows.append(split(total, nodes, acc))
                cp_bytes.append(sum(sizes))
        desk.close()
    parts = {k: pct([r[k] for r in rows], .5) for k in rows[0]}
    p50, nodes = pct(totals, .5), parts["nodes"]
    return {"turns": turns, "p50_ms": p50, "p95_ms": pct(totals, .95), "parts_p50_ms": parts,
            "overhead_per_node": (p50 - nodes) / nodes if nodes else float("nan"),
            "checkpoint_bytes_p50": pct([float(b) for b in cp_bytes], .5)}


def render(result: dict[str, Any]) -> str:
    lines = [f"breakdown of {result['turns']} warm turns (each a new thread), medians in ms:",
             f"  {'part':<32} {'p50 ms':>8}"]
    for k, v in result["parts_p50_ms"].items():
        lines.append(f"  {k:<32} {v:>8.3f}")
    lines.append(f"  {'turn (p50 / p95)':<32} {result['p50_ms']:>8.3f} / {result['p95_ms']:.3f}")
    lines.append(f"overhead / node work: {result['overhead_per_node']:.2f} "
                 f"(checkpoint payload per turn: {result['checkpoint_bytes_p50']:.0f} bytes)")
    return "\n".join(lines)
