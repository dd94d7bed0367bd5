"""`riskdesk eval run` and `riskdesk eval compare`: the offline eval harness (evals/)."""
from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from console.cli_base import app, err, fail, out

eval_app = typer.Typer(help="Offline evals: rule adherence, hallucination before/after the guard, the guard's own "
                            "precision/recall, retrieval; reports, baselines and a CI gate.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

SPECIAL = {"guard": "meta-eval of the hallucination detector (labelled replies)",
           "retrieval": "the knowledge base's labelled retrieval queries (recall@k, MRR)",
           "utterances": "the message reader on the labelled utterance set: intent accuracy and slot F1 per split"}


def _llm_settings():  # noqa: ANN202
    try:
        from agents.llm import LLMSettings
    except ImportError as e:
        fail(f"--planner llm needs the LLM client (agents/llm.py), which is not available: {e}")
    settings = LLMSettings.from_env()
    if settings is None:
        fail("--planner llm needs an LLM: set RISKDESK_LLM_BASE_URL (and the model settings) or a config file; "
             "offline runs use --planner rules")
    return settings


@eval_app.command("run")
def run(suites: List[str] = typer.Argument(..., help="Suite names or files: core, adversarial, metamorphic (core rewritten: "
                                                     "ids, amounts, dates, zh/en, filler, typo, word order), guard, "
                                                     "retrieval, PATH.yaml|jsonl"),
        planner: str = typer.Option("rules", "--planner", help="rules (offline, deterministic) | llm (the configured LLM)"),
        k: int = typer.Option(1, "--k", min=1, help="Trials per case; pass^k is reported for k > 1."),
        concurrency: int = typer.Option(1, "--concurrency", min=1, help="Cases run in parallel (threads)."),
        out_dir: Path = typer.Option(Path("out/eval"), "--out", help="Directory for results.json, summary.json, report.html."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
        cassette: Path = typer.Option(None, "--cassette", help="--planner llm: replay the model traffic recorded in this "
                                      "vcrpy cassette (no server needed; the endpoint and model are the recording's "
                                      "unless RISKDESK_LLM_BASE_URL is set), or record it with --record."),
        record: bool = typer.Option(False, "--record", help="With --cassette: record the traffic afresh from "
                                    "RISKDESK_LLM_BASE_URL (one case at a time)."),
        scripted: Optional[str] = typer.Option(None, "--scripted", help="competent | faulty: run --planner llm against "
                                               "the scripted test-double model server (evals/scripted_llm.py), started "
                                               "on a free loopback port for this run; its faults are counted."),
        scripted_seed: int = typer.Option(7, "--scripted-seed", help="--scripted faulty: which request gets which fault.")) -> None:
    """Run suites offline by default; writes results.json, summary.json (baseline form) and report.html."""
    from evals.compare import slim
    from evals.report import render
    from evals.runner import Runner, load_cases

    if planner not in ("rules", "llm"):
        fail(f"--planner must be rules or llm, got {planner!r}")
    if (cassette is not None or record) and planner != "llm":
        fail("--cassette and --record need --planner llm")
    if record and cassette is None:
        fail("--record needs --cassette PATH")
    llm = None
    server = None
    if scripted is not None:  # a test double of a model: started here, stopped when the run ends
        from evals.scripted_llm import MODES, ScriptedServer, client_settings
        if scripted not in MODES or cassette is not None:
            fail(f"--scripted takes one of {', '.join(MODES)} and no --cassette, got {scripted!r}")
        planner = "llm"
    if planner == "llm" and scripted is None:
        from agents.llm import LLMSettings
        from evals.llm_subset import settings_from_cassette
        if cassette is not None and not record and LLMSettings.from_env() is None:
            if not cassette.exists():
                fail(f"no cassette {cassette}: record it first with --record")
            llm = settings_from_cassette(cassette)
        else:
            llm = _llm_settings()
    agent_suites = [s for s in suites if s not in SPECIAL]
    try:
        loaded = {}
        for s in agent_suites:
            cases = load_cases(s)
            from evals.llm_subset import is_subset_name
            loaded["llm_subset" if is_subset_name(s) else cases[0].suite if cases else Path(s).stem] = cases
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    t0 = time.perf_counter()
    kb = None
    if agent_suites or "retrieval" in suites:
        from knowledge import default_kb
        kb = default_kb()
    if scripted is not None:
        server = ScriptedServer(scripted, seed=scripted_seed).__enter__()
        llm = client_settings(server)
    runner = Runner(kb=kb, llm=llm)
    trace = None
    if llm is not None:
        from evals.llm_subset import LLMTrace, cassette as use_cassette
        trace = LLMTrace().install(runner)
        if cassette is not None:
            concurrency = 1  # recorded in order, replayed in order
    recording = use_cassette(cassette, record) if cassette is not None else None
    total = sum(len(v) for v in loaded.values()) * k
    try:
        with Progress(TextColumn("[bold]eval[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                      TimeElapsedColumn(), console=err, disable=quiet or not total, transient=False) as bar:
            task = bar.add_task("", total=total)
            failed = [0]

            def tick(done: int, n: int, res) -> None:  # noqa: ANN001
                failed[0] += not res.passed
                bar.update(task, completed=done, description=f"{failed[0]} failing · {res.case_id[:40]}")
            if recording is None:
                results = runner.run(agent_suites, k=k, concurrency=concurrency, progress=tick, cases_by_suite=loaded)
            else:
                with recording as cass:
                    results = runner.run(agent_suites, k=k, concurrency=concurrency, progress=tick, cases_by_suite=loaded)
    finally:
        runner.close()
        served = _stop_scripted(server)
    if "guard" in suites:
        from evals.guard_meta import run_meta_eval
        results.guard_meta = run_meta_eval()
    if "retrieval" in suites:
        from evals.retrieval import run_retrieval
        results.retrieval = run_retrieval(kb)
    if "utterances" in suites:
        from evals.utterances import evaluate
        results.utterances = {split: evaluate(split) for split in ("train", "dev", "test")}
    results.meta.suites = list(suites)
    results.meta.wall_seconds = round(time.perf_counter() - t0, 3)
    results.meta.command = "riskdesk eval run " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = results.model_dump(mode="json")
    (out_dir / "results.json").write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
    (out_dir / "summary.json").write_text(json.dumps(slim(raw), ensure_ascii=False, indent=1), encoding="utf-8")
    (out_dir / "report.html").write_text(render(results), encoding="utf-8")
    _print_summary(results)
    if trace is not None and results.cases:
        from evals.llm_subset import measure, replay_problem, table
        out.print(f"LLM path ({results.meta.llm_model}):")
        figures = measure(results, trace, [c for cs in loaded.values() for c in cs])
        out.print(table(figures, results.meta.llm_model or ""), markup=False)
        if served is not None:
            from evals.scripted_faults import report_faults
            out.print(report_faults(results, figures, served, out_dir), markup=False)
        if recording is not None and not record and (problem := replay_problem(cass)):
            err.print(f"[red]{problem}[/]")
            raise typer.Exit(1)
    out.print(f"wrote {out_dir / 'results.json'}, {out_dir / 'summary.json'}, {out_dir / 'report.html'} "
              f"({results.meta.wall_seconds:.1f} s)")


def _stop_scripted(server) -> dict | None:  # noqa: ANN001
    """The faults a scripted server served, then the server stopped (None without one)."""
    if server is None:
        return None
    try:
        return server.stats()
    finally:
        server.__exit__(None, None, None)


def _print_summary(results) -> None:  # noqa: ANN001
    if results.suites:
        t = Table("suite", "cases", "pass", "outcome", "end state", "tools P/R", "forbidden", "cite P/R",
                  "ungrounded draft→reply", "p50/p95 ms", title="agent suites", title_justify="left")
        for name, rep in results.suites.items():
            s = rep.summary
            t.add_row(name, str(s.trials), f"{s.pass_rate.value:.1%}", f"{s.outcome_accuracy.value:.1%}",
                      f"{s.end_state_accuracy.value:.1%}", f"{s.tool_precision.value:.0%}/{s.tool_recall.value:.0%}",
                      str(s.forbidden_actions), f"{s.citation_precision.value:.0%}/{s.citation_recall.value:.0%}",
                      f"{s.hallucination_draft.ungrounded_reply_rate:.1%}→{s.hallucination_reply.ungrounded_reply_rate:.1%}",
                      f"{s.latency_turn_p50_ms:.0f}/{s.latency_turn_p95_ms:.0f}")
        out.print(t)
        for name, rep in results.suites.items():
            if rep.failing_cases:
                out.print(f"[red]{name}: {len(rep.failing_cases)} failing[/]: " + ", ".join(rep.failing_cases[:12])
                          + (" …" if len(rep.failing_cases) > 12 else ""))
            if rep.summary.disguised_purpose_cases:
                out.print(f"{name}: disguised prohibited purposes approved or sent for approval: "
                          f"{rep.summary.disguised_purpose_approved} of {rep.summary.disguised_purpose_cases}")
            if rep.summary.pass_hat_k:
                out.print(f"{name}: " + ", ".join(f"{k} {v:.1%}" for k, v in rep.summary.pass_hat_k.items()))
            if rep.summary.invariance:
                _print_invariance(name, rep)
    gm = results.guard_meta
    if gm:
        t = Table("claim type", "precision", "recall", "F1", "TP", "FP", "FN", title=f"guard meta-eval ({gm['items']} replies)",
                  title_justify="left")
        for kname, v in {**gm["by_type"], "overall": gm["overall"]}.items():
            t.add_row(kname, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["tp"]), str(v["fp"]), str(v["fn"]))
        out.print(t)
    if results.utterances:
        t = Table("split", "utterances", "intent accuracy", "slot P", "slot R", "slot F1", "zh", "en",
                  title="utterances (message reader; trained and tuned on train/dev only)", title_justify="left")
        for split, u in results.utterances.items():
            t.add_row(split, str(u["n"]), f"{u['intent_accuracy']:.1%}", f"{u['slot_precision']:.3f}", f"{u['slot_recall']:.3f}",
                      f"{u['slot_f1']:.3f}", f"{u['by_language'].get('zh', 0):.1%}", f"{u['by_language'].get('en', 0):.1%}")
        out.print(t)
    rt = results.retrieval
    if rt:
        out.print("retrieval: " + ", ".join(f"{k} {v}" for k, v in rt.items() if k not in ("misses", "queries")))


def _print_invariance(name: str, rep) -> None:  # noqa: ANN001
    counts = (rep.invariance or {}).get("counts", {})
    t = Table("transformation", "variants", "passed", "agreed", "invariant", "zh", "en",
              title=f"{name}: invariance (variant passed and agreed with its original)", title_justify="left")
    for key, r in rep.summary.invariance.items():
        c = counts.get(key, {})
        by = [f"{x['invariant']}/{x['variants']}" if (x := counts.get(f"{key}@{lang}")) else "—" for lang in ("zh", "en")]
        t.add_row(key, str(c.get("variants", 0)), str(c.get("passed", 0)), str(c.get("agreed", 0)),
                  f"{r.value:.1%}", *by)
    out.print(t)


@eval_app.command("compare")
def compare_cmd(baseline: Path = typer.Argument(..., help="Baseline (summary.json form, or a full results.json)."),
                current: Path = typer.Argument(..., help="Current results.json or summary.json."),
                max_drop: float = typer.Option(0.0, "--max-drop", help="Allowed drop of a higher-is-better ratio."),
                max_rise: float = typer.Option(0.0, "--max-rise", help="Allowed rise of a lower-is-better metric."),
                latency_factor: float = typer.Option(3.0, "--latency-factor", help="p95 latency may grow up to this factor."),
                allow_new_failures: int = typer.Option(0, "--allow-new-failures", help="Cases that may newly fail."),
                show_all: bool = typer.Option(False, "--all", help="Show unchanged metrics too.")) -> None:
    """Per-metric diff; exit status 1 on a regression beyond the thresholds."""
    from evals.compare import Thresholds, compare, load
    for p in (baseline, current):
        if not p.exists():
            fail(f"no such file: {p}")
    cmp = compare(load(baseline), load(current), Thresholds(max_drop=max_drop, max_rise=max_rise,
                                                            latency_factor=latency_factor,
                                                            allow_new_failures=allow_new_failures))
    t = Table("metric", "baseline", "current", "Δ", "", title=f"{baseline} → {current}", title_justify="left")
    for r in cmp.rows:
        if not show_all and not r.regression and (r.delta is None or abs(r.delta) < 1e-12) and not r.note:
            continue
        fmtv = (lambda v: "—" if v is None else f"{v:.4g}")
        t.add_row(r.metric, fmtv(r.baseline), fmtv(r.current), "" if r.delta is None else f"{r.delta:+.4g}",
                  ("[red]REGRESSION[/] " if r.regression else "") + r.note)
    out.print(t)
    if cmp.newly_passing:
        out.print(f"[green]newly passing[/]: {', '.join(cmp.newly_passing)}")
    if cmp.regressed:
        err.print("[bold red]regression[/] against the baseline")
        raise typer.Exit(1)
    out.print("[green]no regression[/] against the baseline")


@eval_app.command("tags")
def tags_cmd(results: Path = typer.Argument(Path("out/eval/results.json"), help="A results.json written by eval run."),
             prefix: List[str] = typer.Option(["idfmt:", "lang:"], "--prefix", help="Tag prefixes to break down by."),
             suite: Optional[str] = typer.Option(None, "--suite", help="Only this suite.")) -> None:
    """Cases passed per tag (e.g. per customer-id format and per language), from a results.json."""
    from collections import Counter
    try:
        cases = json.loads(results.read_text(encoding="utf-8"))["cases"]
    except (OSError, ValueError, KeyError) as e:
        fail(f"{results}: not a results.json written by 'riskdesk eval run' ({e})")
    for p in prefix:
        n, ok = Counter(), Counter()
        for c in cases:
            if suite and c["suite"] != suite:
                continue
            for tag in c.get("tags", []):
                if tag.startswith(p):
                    n[(c["suite"], tag)] += 1
                    ok[(c["suite"], tag)] += bool(c["passed"])
        t = Table("suite", "tag", "cases", "passed", title=f"by {p}", title_justify="left")
        for key in sorted(n):
            t.add_row(key[0], key[1], str(n[key]), f"{ok[key]}/{n[key]} ({ok[key] / n[key]:.1%})")
        out.print(t)


@eval_app.command("peer")
def peer_cmd(record: bool = typer.Option(False, "--record", help="Record both agents' model traffic afresh from "
                                         "RISKDESK_LLM_BASE_URL into tests/cassettes/ (eval_llm_subset.yaml, peer_react.yaml)."),
             live: bool = typer.Option(False, "--live", help="Talk to RISKDESK_LLM_BASE_URL and record nothing "
                                       "(e.g. python -m evals.scripted_llm)."),
             scripted: Optional[str] = typer.Option(None, "--scripted", help="competent | faulty: both agents against "
                                                    "the scripted test-double model server (evals/scripted_llm.py)."),
             out_dir: Path = typer.Option(Path("out/peer"), "--out", help="Directory for peer.json.")) -> None:
    """riskdesk and LangGraph's prebuilt ReAct agent (same tools, knowledge search, policy text, cases and model)
    side by side: outcome and end-state adherence, forbidden actions, ungrounded replies, calls, tokens, latency.
    Replays the recorded SmolLM2 traffic unless --record or --live."""
    from evals.peer import rows, run_peer
    if sum((record, live, scripted is not None)) > 1:
        fail("--record, --live and --scripted exclude each other")
    mode = "record" if record else "live" if live or scripted else "replay"
    try:
        if scripted is not None:  # a test double of a model, started here and stopped when the run ends
            from evals.scripted_llm import MODES, ScriptedServer, client_settings
            if scripted not in MODES:
                fail(f"--scripted takes one of {', '.join(MODES)}, got {scripted!r}")
            with ScriptedServer(scripted) as server:
                report, _ = run_peer(mode, settings=client_settings(server))
        else:
            report, _ = run_peer(mode, settings=_llm_settings() if mode != "replay" else None)
    except (RuntimeError, FileNotFoundError) as e:
        fail(str(e))
    t = Table("", *(f.agent for f in report.agents),
              title=f"riskdesk vs a plain ReAct agent · {report.model} · {len(report.cases)} cases · {mode}"
              + (" (model latency not included)" if mode == "replay" else ""), title_justify="left")
    for row in rows(report):
        t.add_row(*row)
    out.print(t)
    for f in report.agents:
        for ex in f.ungrounded_examples[:3]:
            out.print(f"{f.agent}: ungrounded: {ex}", markup=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "peer.json").write_text(report.model_dump_json(indent=1), encoding="utf-8")
    out.print(f"wrote {out_dir / 'peer.json'}")
    for p in report.problems:
        err.print(f"[red]{p}[/]")
    if report.problems:
        raise typer.Exit(1)
