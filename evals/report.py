"""A self-contained HTML report: no CDN, no script; inline CSS and SVG charts."""
from __future__ import annotations

import html
import json
from typing import Any

from evals import metrics as M
from evals.results import CaseResult, RunResults, Summary

CSS = """
body{font:14px/1.45 -apple-system,Segoe UI,Roboto,"Noto Sans SC",sans-serif;margin:24px;color:#1d232a;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f6f8}.ok{color:#17803d}.bad{color:#b42318;font-weight:600}.muted{color:#667}
details{margin:4px 0;border:1px solid #e3e6ea;border-radius:4px;padding:4px 8px}summary{cursor:pointer}
pre{white-space:pre-wrap;background:#f7f8fa;padding:6px;margin:4px 0;font-size:12px}
.grid{display:flex;flex-wrap:wrap;gap:24px}.chip{display:inline-block;padding:0 6px;border-radius:8px;background:#eef;margin:1px}
"""


def e(x: Any) -> str:
    return html.escape(str(x))


def bar_chart(title: str, rows: list[tuple[str, float]], vmax: float = 1.0, fmt: str = "{:.1%}", width: int = 360,
              colour: str = "#3b82f6") -> str:
    h = 22 * len(rows) + 30
    parts = [f'<svg width="{width + 220}" height="{h}" role="img" aria-label="{e(title)}">',
             f'<text x="0" y="14" font-size="13" font-weight="600">{e(title)}</text>']
    for i, (label, v) in enumerate(rows):
        y = 24 + 22 * i
        w = 0 if vmax <= 0 else max(0.0, min(1.0, v / vmax)) * width
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{e(label)}</text>')
        parts.append(f'<rect x="140" y="{y}" width="{w:.1f}" height="16" fill="{colour}"/>')
        parts.append(f'<text x="{146 + w:.1f}" y="{y + 13}" font-size="12">{e(fmt.format(v))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def pair_chart(title: str, rows: list[tuple[str, float, float]], labels: tuple[str, str]) -> str:
    """Two bars per row (e.g. before / after the guard)."""
    vmax = max([max(a, b) for _, a, b in rows] + [0.01])
    width, h = 320, 40 * len(rows) + 44
    parts = [f'<svg width="{width + 240}" height="{h}" role="img" aria-label="{e(title)}">',
             f'<text x="0" y="14" font-size="13" font-weight="600">{e(title)}</text>',
             f'<rect x="140" y="20" width="10" height="10" fill="#f59e0b"/><text x="154" y="29" font-size="11">{e(labels[0])}</text>',
             f'<rect x="260" y="20" width="10" height="10" fill="#10b981"/><text x="274" y="29" font-size="11">{e(labels[1])}</text>']
    for i, (label, a, b) in enumerate(rows):
        y = 38 + 40 * i
        parts.append(f'<text x="0" y="{y + 18}" font-size="12">{e(label)}</text>')
        for j, (v, c) in enumerate(((a, "#f59e0b"), (b, "#10b981"))):
            w = v / vmax * width
            parts.append(f'<rect x="140" y="{y + 17 * j}" width="{w:.1f}" height="15" fill="{c}"/>')
            parts.append(f'<text x="{146 + w:.1f}" y="{y + 12 + 17 * j}" font-size="11">{v:.1%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(title: str, values: list[float]) -> str:
    bins = M.histogram(values, 14)
    if not bins:
        return f"<p class=muted>{e(title)}: no data</p>"
    cmax = max(c for _, _, c in bins)
    bw, hh = 34, 140
    parts = [f'<svg width="{bw * len(bins) + 60}" height="{hh + 60}" role="img" aria-label="{e(title)}">',
             f'<text x="0" y="14" font-size="13" font-weight="600">{e(title)}</text>']
    for i, (lo, hi, c) in enumerate(bins):
        h = c / cmax * hh
        x = 30 + i * bw
        parts.append(f'<rect x="{x}" y="{20 + hh - h:.1f}" width="{bw - 3}" height="{h:.1f}" fill="#6366f1"><title>{lo:.1f}–{hi:.1f} ms: {c}</title></rect>')
        parts.append(f'<text x="{x}" y="{20 + hh - h - 3:.1f}" font-size="10">{c}</text>')
        if i % 2 == 0:
            parts.append(f'<text x="{x}" y="{hh + 34}" font-size="10">{lo:.0f}</text>')
    parts.append(f'<text x="30" y="{hh + 52}" font-size="11">ms per turn</text></svg>')
    return "".join(parts)


def summary_table(s: Summary) -> str:
    rows = [
        ("cases / trials / passed", f"{s.cases} / {s.trials} / {s.passed}"),
        ("pass rate (all checks, end state, no forbidden action)", f"{s.pass_rate.value:.1%} ({s.pass_rate.num:g}/{s.pass_rate.n:g})"),
        ("outcome accuracy", f"{s.outcome_accuracy.value:.1%} ({s.outcome_accuracy.num:g}/{s.outcome_accuracy.n:g} turns)"),
        ("intent accuracy", f"{s.intent_accuracy.value:.1%} ({s.intent_accuracy.num:g}/{s.intent_accuracy.n:g})"),
        ("ledger end state correct", f"{s.end_state_accuracy.value:.1%} ({s.end_state_accuracy.num:g}/{s.end_state_accuracy.n:g})"),
        ("tool-call precision / recall", f"{s.tool_precision.value:.1%} ({s.tool_precision.num:g}/{s.tool_precision.n:g}) / "
                                          f"{s.tool_recall.value:.1%} ({s.tool_recall.num:g}/{s.tool_recall.n:g})"),
        ("forbidden actions", str(s.forbidden_actions)),
        ("citation precision / recall", f"{s.citation_precision.value:.1%} ({s.citation_precision.num:g}/{s.citation_precision.n:g}) / "
                                         f"{s.citation_recall.value:.1%} ({s.citation_recall.num:g}/{s.citation_recall.n:g})"),
        ("draft: replies with ungrounded claims", f"{s.hallucination_draft.ungrounded_reply_rate:.1%} "
                                                   f"({s.hallucination_draft.replies_with_ungrounded}/{s.hallucination_draft.replies}); "
                                                   f"{s.hallucination_draft.ungrounded_claims}/{s.hallucination_draft.claims} claims"),
        ("delivered: replies with ungrounded claims", f"{s.hallucination_reply.ungrounded_reply_rate:.1%} "
                                                       f"({s.hallucination_reply.replies_with_ungrounded}/{s.hallucination_reply.replies}); "
                                                       f"{s.hallucination_reply.ungrounded_claims}/{s.hallucination_reply.claims} claims"),
        ("latency per turn p50 / p95", f"{s.latency_turn_p50_ms:.1f} / {s.latency_turn_p95_ms:.1f} ms"),
        ("latency per case p50 / p95", f"{s.latency_case_p50_ms:.1f} / {s.latency_case_p95_ms:.1f} ms"),
        ("LLM calls / tokens per case", f"{s.llm_calls_per_case:g} / {'not recorded' if s.llm_tokens_per_case is None else s.llm_tokens_per_case}"),
    ]
    rows += [(k, f"{v:.1%}") for k, v in s.pass_hat_k.items()]
    return "<table>" + "".join(f"<tr><th>{e(a)}</th><td>{e(b)}</td></tr>" for a, b in rows) + "</table>"


def _json(x: Any) -> str:
    return e(json.dumps(x, ensure_ascii=False, indent=1, default=str))


def case_html(c: CaseResult) -> str:
    cls = "ok" if c.passed else "bad"
    out = [f'<details><summary><span class={cls}>{"PASS" if c.passed else "FAIL"}</span> <b>{e(c.case_id)}</b>'
           f' <span class=muted>{e(c.intent)} · {e(c.language)}{" · trial " + str(c.trial) if c.trial else ""} · {c.latency_ms:.0f} ms</span> '
           + "".join(f"<span class=chip>{e(t)}</span>" for t in c.tags) + "</summary>"]
    if c.failed_checks:
        out.append("<ul>" + "".join(f"<li class=bad>{e(f)}</li>" for f in c.failed_checks) + "</ul>")
    for t in c.turns:
        out.append(f"<h3>turn {t.index} · {e(t.role)} · as of {e(t.as_of)}</h3><pre>{e(t.message)}</pre>")
        if t.error:
            out.append(f"<p>error: <b>{e(t.error)}</b> {e(t.error_detail)}</p>")
        out.append(f"<p>planner <b>{e(t.planner)}</b>{' (fallback: ' + e(t.planner_fallback) + ')' if t.planner_fallback else ''}"
                   f" · intent <b>{e(t.intent)}</b> · outcome <b>{e(t.outcome)}</b> · retrieved {e(', '.join(t.retrieved) or '—')}"
                   f" · cited {e(', '.join(t.citations) or '—')}</p>")
        if t.plan:
            out.append(f"<details><summary>plan</summary><pre>{_json(t.plan)}</pre></details>")
        if t.tool_calls:
            out.append(f"<details><summary>tool calls ({len(t.tool_calls)})</summary><pre>{_json(t.tool_calls)}</pre></details>")
        if t.draft is not None and t.draft != t.answer:
            dg = t.draft_guard
            out.append(f"<p>draft ({e(t.draft_source)}), guard: {dg.checked_claims if dg else 0} claims, ungrounded "
                       f"<span class=bad>{e(dg.ungrounded if dg else [])}</span></p><pre>{e(t.draft)}</pre>")
        g = t.guard
        out.append(f"<p>reply · guard: {g.checked_claims if g else 0} claims, ungrounded "
                   f"<span class={'bad' if g and g.ungrounded else 'ok'}>{e(g.ungrounded if g else [])}</span></p><pre>{e(t.answer)}</pre>")
        if t.claims:
            out.append("<table><tr><th>claim</th><th>kind</th><th>verdict</th></tr>" + "".join(
                f"<tr><td>{e(cl.text)}</td><td>{e(cl.kind)}</td><td class={'ok' if cl.grounded else 'bad'}>"
                f"{'grounded' if cl.grounded else 'UNGROUNDED'}</td></tr>" for cl in t.claims) + "</table>")
        out.append("<p>" + " ".join(f"<span class={'ok' if ch.ok else 'bad'}>{'✓' if ch.ok else '✗'} {e(ch.name)}</span>"
                                    for ch in t.checks) + "</p>")
    if any(c.end_state.values()):
        out.append(f"<details><summary>ledger writes</summary><pre>{_json(c.end_state)}</pre></details>")
    out.append("</details>")
    return "".join(out)


def invariance_html(rates: dict[str, Any], detail: dict[str, Any]) -> str:
    """Metamorphic suites: invariance per transformation (passed and agreed with the original), by language."""
    counts = detail.get("counts", {})
    rows = []
    for key, r in rates.items():
        c = counts.get(key, {})
        langs = " · ".join(f"{lang} {x['invariant']}/{x['variants']}" for lang in ("zh", "en")
                           if (x := counts.get(f"{key}@{lang}")))
        cls = "ok" if r.value >= 1 else "bad"
        rows.append(f"<tr><td>{e(key)}</td><td>{c.get('variants', 0)}</td><td>{c.get('passed', 0)}</td>"
                    f"<td>{c.get('agreed', 0)}</td><td class={cls}>{r.value:.1%} ({r.num:g}/{r.n:g})</td><td>{e(langs)}</td></tr>")
    chart = bar_chart("invariance per transformation", [(k, r.value) for k, r in rates.items() if ":" in k or k in
                                                        ("filler", "typo", "order")], colour="#8b5cf6")
    broken = "".join(f"<li><code>{e(b['variant'])}</code> ({e(b['transformation'])}, {e(b['language'])}): {e(b['reason'])}</li>"
                     for b in detail.get("broken", [])[:150])
    total = detail.get("broken_total", 0)
    return ("<h3>Invariance (metamorphic)</h3><p class=muted>A variant is invariant when it passed and the agent decided it "
            "as it decided the original: intent, outcome, customer (renamed back), tools with their outcomes and deciding "
            "rules, ledger writes.</p>"
            "<table><tr><th>transformation</th><th>variants</th><th>passed</th><th>agreed with original</th>"
            f"<th>invariant</th><th>by language</th></tr>{''.join(rows)}</table>{chart}"
            + (f"<details><summary>{total} variants not invariant (first {min(total, 150)})</summary><ul>{broken}</ul></details>"
               if total else ""))


def guard_meta_html(gm: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{e(k)}</td><td>{v['precision']:.3f}</td><td>{v['recall']:.3f}</td><td>{v['f1']:.3f}</td>"
                   f"<td>{v['tp']}</td><td>{v['fp']}</td><td>{v['fn']}</td></tr>"
                   for k, v in {**gm["by_type"], "overall": gm["overall"]}.items())
    misses = "".join(f"<li><b>{e(m['kind'])}</b> {e(m['planted'])} in <code>{e(m['id'])}</code>: {e(m['reply'])}</li>"
                     for m in gm.get("misses", [])[:60])
    fps = "".join(f"<li>{e(m['claim'])} in <code>{e(m['id'])}</code>: {e(m['reply'])}</li>" for m in gm.get("false_positives", [])[:60])
    return (f"<h2>Guard meta-eval ({gm['items']} labelled replies: {gm['clean']} clean, {gm['planted']} with a planted error)</h2>"
            f"<table><tr><th>claim type</th><th>precision</th><th>recall</th><th>F1</th><th>TP</th><th>FP</th><th>FN</th></tr>{rows}</table>"
            f"<p>Reply-level: {e(gm['reply_level'])}</p>"
            + (f"<h3>Missed planted errors</h3><ul>{misses}</ul>" if misses else "")
            + (f"<h3>False alarms</h3><ul>{fps}</ul>" if fps else ""))


def utterances_html(u: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{e(split)}</th><td>{v['n']}</td><td>{v['intent_accuracy']:.1%}</td><td>{v['slot_f1']:.3f}</td>"
                   f"<td>{e(', '.join(f'{k} {x:.0%}' for k, x in v['by_intent'].items()))}</td>"
                   f"<td>{e(', '.join(f'{k} {x:.0%}' for k, x in v['by_language'].items()))}</td></tr>" for split, v in u.items())
    return ("<h2>Message reader on the utterance set</h2><p>Trained and tuned on train and dev only; test is held out.</p>"
            "<table><tr><th>split</th><th>n</th><th>intent accuracy</th><th>slot F1</th><th>by intent</th><th>by language</th></tr>"
            f"{rows}</table>")


def retrieval_html(rt: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rt.items() if k not in ("misses", "queries"))
    misses = "".join(f"<li>{e(m)}</li>" for m in rt.get("misses", [])[:50])
    return f"<h2>Knowledge-base retrieval</h2><table>{rows}</table>" + (f"<h3>Misses</h3><ul>{misses}</ul>" if misses else "")


def render(run: RunResults) -> str:
    m = run.meta
    out = [f"<!doctype html><html><head><meta charset=utf-8><title>riskdesk eval</title><style>{CSS}</style></head><body>",
           f"<h1>riskdesk eval — {e(', '.join(m.suites))}</h1>",
           f"<p class=muted>{e(m.created_at)} · planner {e(m.planner)}{' (' + e(m.llm_model) + ')' if m.llm_model else ''} · k={m.k}"
           f" · concurrency {m.concurrency} · {m.wall_seconds:.1f} s wall · commit {e(m.git_commit)} · {e(m.machine)}</p>",
           f"<p class=muted>{e(m.command)}</p>"]
    for name, rep in run.suites.items():
        s = rep.summary
        out.append(f"<h2>Suite {e(name)}</h2>{summary_table(s)}<div class=grid>")
        out.append(bar_chart("pass rate by intent", [(k, v.pass_rate.value) for k, v in rep.by_intent.items()]))
        out.append(bar_chart("pass rate by language", [(k, v.pass_rate.value) for k, v in rep.by_language.items()]))
        out.append(bar_chart("outcome accuracy by intent", [(k, v.outcome_accuracy.value) for k, v in rep.by_intent.items()],
                             colour="#0ea5e9"))
        hall = [("all", s.hallucination_draft.ungrounded_reply_rate, s.hallucination_reply.ungrounded_reply_rate)]
        hall += [(k, v.hallucination_draft.ungrounded_reply_rate, v.hallucination_reply.ungrounded_reply_rate)
                 for k, v in rep.by_intent.items()]
        out.append(pair_chart("replies with an ungrounded claim", hall, ("draft (before guard)", "delivered")))
        lat = [t.latency_ms for c in run.cases if c.suite == name for t in c.turns]
        out.append(histogram_svg("latency per turn", lat) + "</div>")
        if rep.invariance:
            out.append(invariance_html(s.invariance, rep.invariance))
        if rep.failing_cases:
            out.append("<h3>Failing cases</h3><p>" + ", ".join(f"<code>{e(x)}</code>" for x in rep.failing_cases) + "</p>")
        by = "".join(f"<tr><td>{e(k)}</td><td>{v.cases}</td><td>{v.pass_rate.value:.1%}</td><td>{v.outcome_accuracy.value:.1%}</td>"
                     f"<td>{v.end_state_accuracy.value:.1%}</td><td>{v.forbidden_actions}</td>"
                     f"<td>{v.hallucination_draft.ungrounded_reply_rate:.1%}</td><td>{v.hallucination_reply.ungrounded_reply_rate:.1%}</td></tr>"
                     for k, v in list(rep.by_intent.items()) + list(rep.by_language.items()))
        out.append("<table><tr><th>group</th><th>cases</th><th>pass</th><th>outcome</th><th>end state</th><th>forbidden</th>"
                   f"<th>ungrounded (draft)</th><th>ungrounded (delivered)</th></tr>{by}</table>")
    if run.guard_meta:
        out.append(guard_meta_html(run.guard_meta))
    if run.retrieval:
        out.append(retrieval_html(run.retrieval))
    if run.utterances:
        out.append(utterances_html(run.utterances))
    if run.cases:
        out.append("<h2>Case traces</h2>")
        failing = [c for c in run.cases if not c.passed]
        passing = [c for c in run.cases if c.passed]
        out += [case_html(c) for c in failing + passing]
    out.append("</body></html>")
    return "".join(out)
