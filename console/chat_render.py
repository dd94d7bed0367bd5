"""How a turn is printed in the terminal (`riskdesk ask`, `riskdesk chat`).

On a terminal: a panel whose lines are broken by this module, never inside an amount (¥4,300.00), an id
(C1002, A-3F2C1B, [LENDER-TQ-TQ5]) or a date (2026-11-23): such a token moves to the next line whole.
Rich alone folds a long run of Chinese text (which has no spaces) at any character, digits included.
When stdout is not a terminal (a pipe, a file): plain text, one line per line of the reply, nothing cut
or wrapped to 80 columns, no markup.

Operator-facing words come from the message catalogue (agents/i18n) in the operator's language."""
from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Iterable

from rich.cells import cell_len
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agents.composer import heading
from agents.i18n import label, say

if TYPE_CHECKING:
    from agents import AskResult

# Tokens that must never be split across lines, most specific first.
_UNBREAKABLE = re.compile(
    r"\[[A-Z][A-Z0-9-]*\]"                      # a citation marker [LENDER-TQ-TQ5]
    r"|\d{4}-\d{2}-\d{2}"                        # a date
    r"|[¥￥]?-?\d[\d,]*(?:\.\d+)?%?"             # an amount or a number (¥4,300.00, 20%)
    r"|[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*"  # an id or a word (C1002, A-3F2C1B, work)
    r"|\S")                                       # any other single character (a CJK character breaks anywhere)
_NO_SPACE_BEFORE = set("，。；：、！？）」』》,.;:!?)%")


def tokens(text: str) -> list[str]:
    """The line's pieces: unbreakable tokens and the spaces between them."""
    out, i = [], 0
    for m in _UNBREAKABLE.finditer(text):
        if m.start() > i:
            out.append(text[i:m.start()])
        out.append(m.group(0))
        i = m.end()
    if i < len(text):
        out.append(text[i:])
    return out


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` cells, broken only between tokens (at a space, or between CJK characters).
    Closing punctuation stays with what it follows. A token wider than the line is put on a line of its own."""
    width = max(width, 8)
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for tok in tokens(para):
            if tok.isspace():
                if line:
                    line += " "
                continue
            if cell_len(line) + cell_len(tok) <= width or not line.strip():
                line += tok
                continue
            if tok[0] in _NO_SPACE_BEFORE and cell_len(line) + cell_len(tok) <= width + 1:
                line += tok  # a full stop hangs one cell past the edge rather than starting a line
                continue
            lines.append(line.rstrip())
            line = tok
        lines.append(line.rstrip())
    return lines


def is_terminal(console: Console) -> bool:
    return console.is_terminal and not console.is_dumb_terminal


def plain(text: str, stream=None) -> None:  # noqa: ANN001
    (stream or sys.stdout).write(text + "\n")


def _citations(r: "AskResult") -> list[str]:
    """One line per cited clause the reply does not already quote in full (a policy answer quotes its
    clauses: they are not printed twice)."""
    lines = []
    for c in r.citations:
        if c.quote and c.quote.rstrip("…") in r.answer:
            continue
        quote = c.quote if len(c.quote) <= 60 else c.quote[:59] + "…"
        lang = getattr(r.language, "value", r.language)
        lines.append(f"[{c.clause_id}] {heading(lang, c.title)}{'：' if lang == 'zh' else ': '}{quote}")
    return lines


def _tool_rows(r: "AskResult", lang: str) -> list[tuple[str, str, str]]:
    rows = []
    for c in r.tool_calls:
        args = ", ".join(f"{k}={label('purpose', v, lang) if k == 'purpose_category' else v}"
                         for k, v in c.args.items() if v is not None)
        rows.append((label("task", c.tool, lang) if c.tool in ("limit_lookup", "temp_quota", "repair_check") else c.tool,
                     args, label("outcome", c.result.get("outcome"), lang)))
    return rows


def _footer(r: "AskResult", lang: str) -> list[str]:
    g = r.guard
    lines = [say(lang, "guard: grounded" if g.grounded else "guard: UNGROUNDED") + " · "
             + say(lang, "{n} claims checked", n=g.checked_claims)
             + (" · " + say(lang, "caught {items}", items=", ".join(g.ungrounded)) if g.ungrounded else "")]
    lines.append(f"{say(lang, 'trace')} {r.trace_id} · {say(lang, 'planner')} {r.planner}")
    if r.approval_id:
        lines.append(say(lang, "pending approval {id}: a supervisor other than the requester can /approve {id}",
                         id=r.approval_id))
    if r.what_if:
        lines.append(say(lang, "what-if: nothing was written"))
    return lines


def render(r: "AskResult", console: Console, lang: str | None = None) -> None:
    """Print one turn: the reply, its tool calls, the clauses it cites, the guard's verdict, the trace id."""
    lang = lang or getattr(r.language, "value", r.language)
    lang = lang if lang in ("zh", "en") else "en"
    title = f"{label('task', r.intent.value, lang)} · {label('outcome', r.outcome, lang) if r.outcome else '—'}"
    if not is_terminal(console):
        plain(f"{title}\n{r.answer}")
        for tool, args, outcome in _tool_rows(r, lang):
            plain(f"{say(lang, 'tool')}{'：' if lang == 'zh' else ': '}{tool} ({args}) → {outcome}")
        for line in _citations(r) + _footer(r, lang):
            plain(line)
        return
    width = console.width - 4  # the panel's border and padding
    body = Text("\n".join(wrap(r.answer, width)), no_wrap=True, overflow="ignore")
    console.print(Panel(body, title=Text(title), border_style="green" if r.guard.grounded else "red",
                        title_align="left"))
    rows = _tool_rows(r, lang)
    if rows:
        t = Table(say(lang, "tool"), say(lang, "args"), say(lang, "outcome"), title=say(lang, "tool calls"),
                  title_justify="left")
        for tool, args, outcome in rows:
            t.add_row(tool, Text("\n".join(wrap(args, max(20, console.width - 40))), no_wrap=True), outcome)
        console.print(t)
    for line in _citations(r) + _footer(r, lang):
        console.print(Text("\n".join(wrap(line, console.width))), no_wrap=True, overflow="ignore")


def print_lines(console: Console, lines: Iterable[str]) -> None:
    """Plain lines on any console: no markup read (a literal "[reason]" stays), wrapped between tokens."""
    for line in lines:
        if is_terminal(console):
            console.print(Text("\n".join(wrap(line, console.width))), no_wrap=True, overflow="ignore")
        else:
            plain(line, console.file)


def records(console: Console, title: str, headers: list[str], rows: list[list[str]]) -> None:
    """Rows for people: a table when the terminal is wide enough to show every cell whole (no column is
    cut or folded: dates and amounts stay on one line); else one block per row ("header: value" lines);
    plain lines when stdout is not a terminal."""
    widths = [max([cell_len(h)] + [cell_len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if is_terminal(console) and sum(widths) + 3 * len(widths) + 1 <= console.width:
        t = Table(*headers, title=title or None, title_justify="left")
        for col in t.columns:
            col.no_wrap = True
        for r in rows:
            t.add_row(*(Text(c) for c in r))
        console.print(t)
        return
    lines = [title] if title else []
    colon = "：" if any("\u4e00" <= ch <= "\u9fff" for h in headers for ch in h) else ": "
    for r in rows:
        lines += [f"{h}{colon}{c}" for h, c in zip(headers, r)] + [""]
    print_lines(console, lines)
