"""The LLM subset: a fixed list of core and adversarial cases (evals/suites/llm_subset.txt) run through the
desk with the LLM planner and composer, on recorded model traffic or a live endpoint, and the figures that
say how the model did: slots it read right, fallbacks by cause, calls and tokens per turn, and whether
every outcome and end state stayed right.

    riskdesk eval run llm_subset --planner llm --cassette tests/cassettes/eval_llm_subset.yaml            # replay
    riskdesk eval run llm_subset --planner llm --cassette tests/cassettes/eval_llm_subset.yaml --record   # record
    python -m evals.llm_subset                                                                            # the table

Recording sends every request to the endpoint of RISKDESK_LLM_BASE_URL and stores the exchanges in the
cassette (vcrpy, record mode "all"); a replay (record mode "none") matches each request on method, path and
body, so a changed prompt is a miss, and a replay that leaves a recorded exchange unplayed is reported.
"""
from __future__ import annotations

import contextlib
import json
from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel, Field

from evals.cases import SUITES_DIR, Case, Turn, load_suite

SUBSET = SUITES_DIR / "llm_subset.txt"
CASSETTES = Path(__file__).resolve().parents[1] / "tests" / "cassettes"
SUBSET_CASSETTE = CASSETTES / "eval_llm_subset.yaml"
SLOTS = ("intent", "customer_id", "amount")


# ---------------------------------------------------------------- the case list
def load_subset(path: str | Path = SUBSET) -> list[Case]:
    """The listed cases, in file order (one `SUITE CASE_ID` a line, `#` comments). An unknown suite or case
    id is an error that names the line."""
    path = Path(path)
    suites: dict[str, dict[str, Case]] = {}
    out: list[Case] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected 'SUITE CASE_ID', got {line!r}")
        suite, case_id = parts
        if suite not in suites:
            suites[suite] = {c.id: c for c in load_suite(suite)}
        case = suites[suite].get(case_id)
        if case is None:
            raise ValueError(f"{path}:{n}: no case {case_id!r} in suite {suite!r}")
        out.append(case)
    if not out:
        raise ValueError(f"{path}: no cases listed")
    return out


def is_subset_name(name: str) -> bool:
    return name == "llm_subset" or (name.endswith(".txt") and Path(name).exists())


# ---------------------------------------------------------------- recorded traffic
@contextlib.contextmanager
def cassette(path: str | Path, record: bool = False) -> Iterator[Any]:
    """Model traffic through a vcrpy cassette: recorded afresh (record mode "all", the file replaced) or
    replayed (record mode "none": a request that was not recorded raises instead of reaching a server).
    Matches on method, path and body; credentials are never stored."""
    try:
        import vcr
    except ImportError as e:  # a test extra, not a runtime dependency
        raise RuntimeError("recording or replaying model traffic needs vcrpy (pip install -e '.[test]')") from e
    path = Path(path)
    if record:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    elif not path.exists():
        raise FileNotFoundError(f"no cassette {path}: record it first (--record against a live endpoint)")
    v = vcr.VCR(record_mode="all" if record else "none", match_on=("method", "path", "body"),
                filter_headers=["authorization", "openai-organization", "openai-project", "cookie", "set-cookie",
                                "api-key", "x-api-key"],
                decode_compressed_response=True)
    with v.use_cassette(str(path)) as cass:
        yield cass


def replay_problem(cass: Any) -> str | None:
    """Why a replay did not use the cassette exactly (None when every recorded exchange was played once)."""
    recorded, played = len(cass.data), cass.play_count
    if played != recorded:
        return f"{cass._path}: {played} of {recorded} recorded exchanges replayed (the requests changed: re-record)"
    return None


def settings_from_cassette(path: str | Path, **overrides: Any) -> Any:
    """LLM settings that reproduce a cassette's requests: the endpoint and model it was recorded with (the
    rest of the request body comes from the code, which is what a replay checks)."""
    import yaml

    from agents.llm import LLMSettings
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    for i in data.get("interactions", []):
        uri, body = i["request"]["uri"], i["request"].get("body") or ""
        if "/chat/completions" in uri and body:
            req = json.loads(body)
            values: dict[str, Any] = dict(base_url=uri.split("/chat/completions")[0], model=req["model"],
                                          timeout=120.0, max_retries=0)
            values.update(overrides)
            return LLMSettings(**values)
    raise ValueError(f"{path}: no chat completion recorded")


# ---------------------------------------------------------------- what the model did, turn by turn
class LLMTrace:
    """Installed on a Runner (Runner.desk_hooks): keeps, per case and trial, every planner and composer
    outcome tagged with the index of the case turn that produced it, so the figures can say what the model
    proposed before any validation."""

    def __init__(self) -> None:
        self.planner: dict[tuple[str, int], list[tuple[int, Any]]] = defaultdict(list)
        self.composer: dict[tuple[str, int], list[tuple[int, Any]]] = defaultdict(list)

    def install(self, runner: Any) -> "LLMTrace":
        runner.desk_hooks.append(self.hook)
        return self

    def hook(self, desk: Any, case: Case, trial: int) -> None:
        key = (case.id, trial)
        current = [-1]
        inner_ask = desk.ask

        def ask(message: str, *a: Any, **kw: Any) -> Any:
            # the case turn this message is: the next operator turn saying it
            current[0] = next((i for i, t in enumerate(case.turns) if i > current[0] and t.say == message), current[0])
            return inner_ask(message, *a, **kw)
        desk.ask = ask
        for part, method, store in ((desk.deps.llm_planner, "plan", self.planner),
                                    (desk.deps.llm_composer, "compose", self.composer)):
            if part is None:
                continue
            inner = getattr(part, method)

            def wrapped(*a: Any, _inner: Any = inner, _store: Any = store, **kw: Any) -> Any:
                out = _inner(*a, **kw)
                _store[key].append((current[0], out))
                return out
            setattr(part, method, wrapped)


def proposal(raw: str) -> dict[str, Any] | None:
    """The model's proposed plan as a plain dict (fences stripped), or None when it is not a JSON object."""
    from agents.llm import _strip_fences
    try:
        data = json.loads(_strip_fences(raw or ""))
    except (json.JSONDecodeError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def expected_slots(turn: Turn) -> dict[str, Any]:
    """The slots a turn's expectation pins down: its intent, its one customer, the amount of its quota call."""
    e = turn.expect
    out: dict[str, Any] = {}
    if e.intent is not None:
        out["intent"] = e.intent
    ids = {e.customer_id} if e.customer_id else {str(t.args["customer_id"]) for t in e.tool_calls or []
                                                  if "customer_id" in t.args}
    if len(ids) == 1:
        out["customer_id"] = ids.pop()
    amounts = [t.args["amount"] for t in e.tool_calls or [] if t.tool == "temp_quota" and "amount" in t.args]
    if len(amounts) == 1:
        out["amount"] = Decimal(str(amounts[0]))
    return out


def slot_right(name: str, want: Any, got: Any) -> bool:
    if got is None:
        return False
    if name == "amount":
        try:
            return Decimal(str(got)) == want
        except (InvalidOperation, ValueError):
            return False
    return str(got).strip().lower() == str(want).strip().lower()


class SlotFigure(BaseModel):
    right: int = 0
    scored: int = 0


class LLMFigures(BaseModel):
    """How the model did on a run. Turns are operator messages (supervisor decisions call no model)."""

    cases: int
    turns: int
    planned_turns: int = Field(description="Turns on which the LLM planner was asked.")
    slots_first: dict[str, SlotFigure] = Field(description="Slots right in the model's first proposal.")
    slots_final: dict[str, SlotFigure] = Field(description="Slots right in its last proposal (after the corrective retry).")
    plan_used: int = Field(description="Turns whose plan came from the model (planner == llm), slots checked one by one.")
    plan_all_kept: int = Field(default=0, description="Of those, turns where every slot of the model's plan was kept.")
    slots_kept: dict[str, SlotFigure] = Field(default_factory=dict, description=(
        "Per slot: turns where the model's value was kept (right) of the turns it was checked (scored)."))
    slot_overrides: dict[str, int] = Field(default_factory=dict, description="Slots replaced by the rules' reading, by reason.")
    planner_fallbacks: dict[str, int] = Field(description="Turns planned by the rules instead, by recorded cause.")
    drafts: int = Field(description="LLM drafts requested (revisions included).")
    drafts_delivered: int = Field(description="Turns whose delivered reply is the model's draft.")
    template_replies: dict[str, int] = Field(description="Turns that asked for a draft but delivered the template, by cause.")
    revisions: int = Field(description="Turns whose draft went back to the model once (guard-triggered).")
    llm_calls_per_turn: float
    llm_calls_max: int
    tokens_per_turn: float | None
    tokens_max: int | None
    outcome_right: int
    outcome_checks: int
    end_state_right: int
    forbidden: int
    ungrounded_delivered: int = Field(description="Delivered replies with an ungrounded claim (the guard's verdict).")
    passed: int


def measure(results: Any, trace: LLMTrace, cases: list[Case] | None = None) -> LLMFigures:
    """Figures for a run of cases (evals.results.RunResults or a list of CaseResult) and its trace; `cases`: the
    cases that were run (else looked up by suite name)."""
    from evals.cases import load_suite as _load
    cases_by_id: dict[str, Case] = {c.id: c for c in cases or []}
    case_results = list(getattr(results, "cases", results))
    for suite in {r.suite for r in case_results} if any(r.case_id not in cases_by_id for r in case_results) else ():
        with contextlib.suppress(FileNotFoundError, ValueError):
            cases_by_id.update({c.id: c for c in _load(suite)})
    if any(r.case_id not in cases_by_id for r in case_results):
        cases_by_id.update({c.id: c for c in load_subset()})
    first = {s: SlotFigure() for s in SLOTS}
    final = {s: SlotFigure() for s in SLOTS}
    fallbacks: Counter[str] = Counter()
    templates: Counter[str] = Counter()
    turns = planned = used = all_kept = drafts = delivered = revisions = 0
    kept: dict[str, SlotFigure] = {}
    overrides: Counter[str] = Counter()
    calls: list[int] = []
    tokens: list[int] = []
    outcome_right = outcome_checks = 0
    for r in case_results:
        case = cases_by_id[r.case_id]
        plans = trace.planner.get((r.case_id, r.trial), [])
        composes = trace.composer.get((r.case_id, r.trial), [])
        for tr in r.turns:
            for c in tr.checks:
                if c.name == "outcome":
                    outcome_checks += 1
                    outcome_right += c.ok
            if tr.kind != "say":
                continue
            turns += 1
            calls.append(tr.llm_calls)
            if tr.llm_tokens is not None:
                tokens.append(tr.llm_tokens)
            outcome = next((o for n, o in plans if n == tr.index), None)
            mine = [o for n, o in composes if n == tr.index]
            if outcome is not None:
                planned += 1
                raws = list(getattr(outcome, "raw", []) or [])
                want = expected_slots(case.turns[tr.index])
                for figs, raw in ((first, raws[0] if raws else ""), (final, raws[-1] if raws else "")):
                    got = proposal(raw) or {}
                    for name, value in want.items():
                        figs[name].scored += 1
                        figs[name].right += slot_right(name, value, got.get(name))
                if tr.planner == "llm":
                    used += 1
                    sources = getattr(tr, "slot_sources", None) or {}
                    all_kept += bool(sources) and all(v.get("source") == "llm" for v in sources.values())
                    for slot, v in sources.items():
                        fig = kept.setdefault(slot, SlotFigure())
                        fig.scored += 1
                        fig.right += v.get("source") == "llm"
                        if v.get("source") != "llm":
                            overrides[f"{slot}: {v.get('reason') or 'unrecorded'}"] += 1
                else:
                    fallbacks[_cause(tr.planner_fallback or getattr(outcome, "fallback_reason", None))] += 1
            if mine:
                drafts += len(mine)
                revisions += len(mine) > 1
                texts = {(getattr(o, "text", None) or "").strip() for o in mine} - {""}
                if tr.draft_source == "llm" and tr.answer.strip() in texts:
                    delivered += 1
                else:
                    errors = [getattr(o, "error", None) for o in mine if getattr(o, "error", None)]
                    templates[_cause(errors[-1]) if errors else "guard"] += 1
    end_ok = sum(r.end_state_ok for r in case_results)
    return LLMFigures(
        cases=len(case_results), turns=turns, planned_turns=planned, slots_first=first, slots_final=final,
        plan_used=used, plan_all_kept=all_kept, slots_kept=kept, slot_overrides=dict(overrides.most_common()),
        planner_fallbacks=dict(sorted(fallbacks.items())), drafts=drafts, drafts_delivered=delivered,
        template_replies=dict(sorted(templates.items())), revisions=revisions,
        llm_calls_per_turn=round(sum(calls) / len(calls), 2) if calls else 0.0, llm_calls_max=max(calls, default=0),
        tokens_per_turn=round(sum(tokens) / len(tokens), 1) if tokens else None, tokens_max=max(tokens, default=None),
        outcome_right=outcome_right, outcome_checks=outcome_checks, end_state_right=end_ok,
        forbidden=sum(len(r.forbidden) for r in case_results),
        ungrounded_delivered=sum(1 for r in case_results for t in r.turns if t.guard is not None and t.guard.ungrounded),
        passed=sum(r.passed for r in case_results))


def _cause(reason: str | None) -> str:
    """A fallback reason's kind: 'ungrounded_amount:5000' -> 'ungrounded_amount'."""
    if not reason:
        return "unrecorded"
    return reason.split(":", 1)[0].strip() or "unrecorded"


def _pct(num: int, n: int) -> str:
    return f"{num}/{n} ({num / n:.0%})" if n else "—"


def table(f: LLMFigures, model: str = "") -> str:
    """The figures as one Markdown table (the README's)."""
    slot_cells = ", ".join(f"{s} {_pct(f.slots_first[s].right, f.slots_first[s].scored)}" for s in SLOTS)
    slot_final = ", ".join(f"{s} {_pct(f.slots_final[s].right, f.slots_final[s].scored)}" for s in SLOTS)
    fb = ", ".join(f"{k} {v}" for k, v in f.planner_fallbacks.items()) or "none"
    tpl = ", ".join(f"{k} {v}" for k, v in f.template_replies.items()) or "none"
    rows = [
        ("cases / operator turns", f"{f.cases} / {f.turns}"),
        *([("slots right in the model's plan", slot_cells)] if slot_cells == slot_final else
          [("slots right, first proposal", slot_cells), ("slots right, after the retry", slot_final)]),
        ("LLM plan used (slots checked one by one)", _pct(f.plan_used, f.planned_turns)
         + f", every slot kept on {f.plan_all_kept}"),
        ("model's slots kept", ", ".join(f"{s} {_pct(v.right, v.scored)}" for s, v in f.slots_kept.items()) or "—"),
        ("slots replaced by the rules' reading", ", ".join(f"{k} {v}" for k, v in list(f.slot_overrides.items())[:6])
         + (f", {len(f.slot_overrides) - 6} more reasons" if len(f.slot_overrides) > 6 else "") or "none"),
        ("planner fallbacks by cause", fb),
        ("LLM drafts delivered", f"{f.drafts_delivered} of {f.drafts} drafts ({f.revisions} revised once)"),
        ("template replies by cause", tpl),
        ("LLM calls per turn (mean / max)", f"{f.llm_calls_per_turn} / {f.llm_calls_max}"),
        ("tokens per turn (mean / max)", f"{f.tokens_per_turn} / {f.tokens_max}" if f.tokens_per_turn is not None else "—"),
        ("outcome adherence", _pct(f.outcome_right, f.outcome_checks)),
        ("end-state adherence", _pct(f.end_state_right, f.cases)),
        ("forbidden actions", str(f.forbidden)),
        ("replies delivered with an ungrounded claim", str(f.ungrounded_delivered)),
        ("cases passing every check", _pct(f.passed, f.cases)),
    ]
    head = f"| {model or 'model'} | |\n|---|---|\n"
    return head + "\n".join(f"| {a} | {b} |" for a, b in rows)


def run_subset(settings: Any, kb: Any, cassette_path: str | Path | None = SUBSET_CASSETTE, record: bool = False,
               cases: list[Case] | None = None) -> tuple[Any, LLMFigures, str | None]:
    """Run the subset through the desk with the LLM (through the cassette unless cassette_path is None).
    Returns the run's results, the figures and, for a replay, why the cassette was not used exactly (or None)."""
    from evals.runner import Runner
    runner = Runner(kb=kb, llm=settings)
    trace = LLMTrace().install(runner)
    cases = cases if cases is not None else load_subset()
    problem = None
    try:
        ctx = cassette(cassette_path, record) if cassette_path is not None else contextlib.nullcontext()
        with ctx as cass:
            results = runner.run(["llm_subset"], cases_by_suite={"llm_subset": cases})
        if cassette_path is not None and not record:
            problem = replay_problem(cass)
    finally:
        runner.close()
    return results, measure(results, trace), problem


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python -m evals.llm_subset", description=__doc__.split("\n\n")[0])
    p.add_argument("--cassette", default=str(SUBSET_CASSETTE), help="cassette to replay (default: %(default)s)")
    args = p.parse_args(argv)
    from knowledge import default_kb
    results, figures, problem = run_subset(settings_from_cassette(args.cassette), default_kb(), args.cassette)
    print(table(figures, results.meta.llm_model or ""))
    if problem:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
