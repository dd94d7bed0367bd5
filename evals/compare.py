"""Compare a run with a baseline, metric by metric; a regression beyond its threshold fails.

Offline runs are deterministic, so the default thresholds for correctness metrics are zero: any
drop in adherence, any new forbidden action, any rise in ungrounded replies, and any case that
passed in the baseline and fails now is a regression. Latency is machine-dependent: it regresses
only when p95 grows past `latency_factor` times the baseline AND by more than `latency_floor_ms`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# metric path inside a suite summary -> direction (+1 higher is better, -1 lower is better)
SUITE_METRICS: dict[str, int] = {
    "pass_rate.value": +1, "outcome_accuracy.value": +1, "intent_accuracy.value": +1, "end_state_accuracy.value": +1,
    "tool_precision.value": +1, "tool_recall.value": +1, "citation_precision.value": +1, "citation_recall.value": +1,
    "forbidden_actions": -1, "disguised_purpose_approved": -1,
    "hallucination_draft.ungrounded_reply_rate": -1, "hallucination_reply.ungrounded_reply_rate": -1,
    "hallucination_reply.ungrounded_claims": -1,
}
LATENCY_METRICS = ("latency_turn_p95_ms", "latency_case_p95_ms")
GUARD_METRICS = ("overall.precision", "overall.recall", "overall.f1")
RETRIEVAL_METRICS = ("recall_at_k", "mrr")


@dataclass
class Thresholds:
    max_drop: float = 0.0          # allowed drop of a higher-is-better ratio
    max_rise: float = 0.0          # allowed rise of a lower-is-better metric
    latency_factor: float = 3.0
    latency_floor_ms: float = 50.0
    allow_new_failures: int = 0


@dataclass
class Row:
    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    regression: bool
    note: str = ""


@dataclass
class Comparison:
    rows: list[Row] = field(default_factory=list)
    newly_failing: list[str] = field(default_factory=list)
    newly_passing: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return any(r.regression for r in self.rows)


def _get(d: Any, path: str) -> float | None:
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return float(d) if isinstance(d, (int, float)) and not isinstance(d, bool) else None


def load(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def case_status(run: dict[str, Any]) -> dict[str, bool]:
    """{suite/case_id: passed in every trial} from a full results file or a slim baseline."""
    if "case_pass" in run:
        return dict(run["case_pass"])
    out: dict[str, bool] = {}
    for c in run.get("cases", []):
        key = f"{c['suite']}/{c['case_id']}"
        out[key] = out.get(key, True) and c["passed"]
    return out


def slim(run: dict[str, Any]) -> dict[str, Any]:
    """What a committed baseline keeps: meta, suite summaries, per-case pass/fail, guard and retrieval figures."""
    suites = {n: {"summary": s["summary"], "failing_cases": s.get("failing_cases", [])} for n, s in run.get("suites", {}).items()}
    gm = run.get("guard_meta")
    if gm:
        gm = {k: v for k, v in gm.items() if k not in ("misses", "false_positives")}
    rt = run.get("retrieval")
    if rt:
        rt = {k: v for k, v in rt.items() if k not in ("queries",)}
    return {"meta": run.get("meta"), "suites": suites, "case_pass": case_status(run), "guard_meta": gm, "retrieval": rt,
            "utterances": run.get("utterances")}


def compare(base: dict[str, Any], cur: dict[str, Any], th: Thresholds | None = None) -> Comparison:
    th = th or Thresholds()
    out = Comparison()

    def add(metric: str, b: float | None, c: float | None, direction: int, kind: str = "ratio") -> None:
        if b is None and c is None:
            return
        if b is None or c is None:
            out.rows.append(Row(metric, b, c, None, c is None, "missing in current run" if c is None else "new metric"))
            return
        delta = c - b
        if kind == "latency":
            bad = c > b * th.latency_factor and delta > th.latency_floor_ms
        elif direction > 0:
            bad = delta < -th.max_drop - 1e-9
        else:
            bad = delta > th.max_rise + 1e-9
        out.rows.append(Row(metric, b, c, delta, bad))

    for name, s in base.get("suites", {}).items():
        cs = cur.get("suites", {}).get(name)
        for m, direction in SUITE_METRICS.items():
            add(f"{name}.{m}", _get(s["summary"], m), _get(cs["summary"], m) if cs else None, direction)
        for m in LATENCY_METRICS:
            add(f"{name}.{m}", _get(s["summary"], m), _get(cs["summary"], m) if cs else None, -1, "latency")
        for m in s["summary"].get("invariance") or {}:  # metamorphic suites: invariance per transformation
            add(f"{name}.invariance.{m}", _get(s["summary"]["invariance"][m], "value"),
                _get(cs["summary"].get("invariance", {}).get(m), "value") if cs else None, +1)
    if base.get("guard_meta"):
        for m in GUARD_METRICS:
            add(f"guard.{m}", _get(base["guard_meta"], m), _get(cur.get("guard_meta") or {}, m), +1)
    if base.get("retrieval"):
        for m in RETRIEVAL_METRICS:
            add(f"retrieval.{m}", _get(base["retrieval"], m), _get(cur.get("retrieval") or {}, m), +1)
    for split, figures in (base.get("utterances") or {}).items():
        for m in ("intent_accuracy", "slot_f1"):
            add(f"utterances.{split}.{m}", figures.get(m), ((cur.get("utterances") or {}).get(split) or {}).get(m), +1)
    b, c = case_status(base), case_status(cur)
    out.newly_failing = sorted(k for k, ok in b.items() if ok and c.get(k) is False)
    out.newly_passing = sorted(k for k, ok in b.items() if not ok and c.get(k) is True)
    missing = sorted(k for k in b if k not in c and k.split("/")[0] in cur.get("suites", {}))
    if len(out.newly_failing) > th.allow_new_failures:
        out.rows.append(Row("cases newly failing", 0, len(out.newly_failing), len(out.newly_failing), True,
                            ", ".join(out.newly_failing[:20])))
    if missing:
        out.rows.append(Row("baseline cases missing from the run", 0, len(missing), len(missing), False,
                            ", ".join(missing[:10])))
    return out
