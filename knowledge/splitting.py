"""Text blocks (knowledge.parsers) cut into clauses on the structure a document really has.

The clause level is the first of these markers that starts at least two lines of the document:
``第X条``, ``Article N``, ``Section N`` / ``§ N``, numbered headings ``1.2.3``, ``一、``, ``（一）``, then the
document's own headings (Markdown, HTML, DOCX); a document with none of them is cut into paragraphs.
Markers above the clause level (``第X章`` / ``第X节``, ``Chapter N`` / ``Part N``, headings) become the
context of the clauses under them and part of their titles.

Clause ids are the document id and the clause's own number: ``POLICY-2026-3`` for 第三条 or Article 3,
``POLICY-2026-1.2.3``, ``POLICY-2026-S4`` for the fourth heading section, ``POLICY-2026-P7`` for the
seventh paragraph, ``POLICY-2026-0`` for text before the first clause. The same file gives the same ids.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from agents.numerals import read_chinese_number
from knowledge.parsers import Block

_CN = "零〇一二两三四五六七八九十百千"
_NUM = rf"(?P<n>[0-9０-９]+|[{_CN}]+)"
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
MARKERS: list[tuple[str, re.Pattern[str]]] = [
    ("zh_article", re.compile(rf"^第\s*{_NUM}\s*条(?:\s|　|$|[:：、.])")),
    ("en_article", re.compile(r"^Article\s+(?P<n>\d+|[IVXLC]+)\b\.?", re.I)),
    ("en_section", re.compile(r"^(?:Section|§)\s*(?P<n>\d+(?:\.\d+)*)\b\.?", re.I)),
    ("numbered", re.compile(r"^(?P<n>\d{1,2}(?:\.\d{1,2}){0,3})(?:[.、]|\s)\s*(?=\D)")),
    ("zh_top", re.compile(rf"^(?P<n>[{_CN}]+)、")),
    ("zh_paren", re.compile(rf"^[（(](?P<n>[{_CN}]+)[)）]")),
]
CONTEXT = re.compile(rf"^(?:第\s*(?:[0-9]+|[{_CN}]+)\s*[章节编]|(?:Chapter|Part)\s+(?:\d+|[IVXLC]+)\b)", re.I)
MAX_TITLE = 60


@dataclass(frozen=True)
class Piece:
    """One clause before it becomes a Clause: its number (the id suffix), title and text."""
    number: str
    title: str
    text: str


def _number(kind: str, raw: str) -> str:
    raw = raw.translate({0xFF10 + i: str(i) for i in range(10)})
    if kind == "en_article" and raw.isalpha():
        values = [_ROMAN[ch] for ch in raw.upper()]
        return str(sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values)))
    if raw[0].isdigit():
        return raw
    n = read_chinese_number(raw)
    return str(n) if n is not None else raw


def _marker(line: str, kinds: list[str]) -> tuple[str, str] | None:
    for kind, pattern in MARKERS:
        if kind in kinds:
            m = pattern.match(line)
            if m:
                return kind, _number(kind, m["n"])
    return None


def clause_level(blocks: list[Block]) -> str:
    """The marker kind clauses are cut on: the first kind that starts two lines or more; else 'heading'
    when the file has headings below its title; else 'paragraph'."""
    counts = dict.fromkeys([k for k, _ in MARKERS], 0)
    for b in blocks:
        hit = _marker(b.text, list(counts))
        if hit:
            counts[hit[0]] += 1
    for kind, n in counts.items():
        if n >= 2:
            return kind
    levels = [b.level for b in blocks if b.level]
    return "heading" if len(levels) >= 2 or (levels and min(levels) > 1) else "paragraph"


def _title(line: str, context: list[str]) -> str:
    head = line if len(line) <= MAX_TITLE else line[:MAX_TITLE].rstrip() + "…"
    return " ".join([*context, head]).strip()


def split(blocks: list[Block]) -> list[Piece]:
    """The document's clauses, in order; see the module docstring. Ids repeated in one document (two
    "1." lists) get a suffix of their position, so every id is unique and stable."""
    level = clause_level(blocks)
    pieces: list[Piece] = []
    current: dict | None = None
    context: list[str] = []
    preamble: list[str] = []
    top = min((b.level for b in blocks if b.level), default=1)
    n_sections = n_paras = 0

    def close() -> None:
        nonlocal current
        if current and "\n".join(current["lines"]).strip():
            pieces.append(Piece(current["number"], current["title"], "\n".join(current["lines"]).strip()))
        current = None

    for b in blocks:
        line = b.text.strip()
        if level == "paragraph":
            if not line:
                close()
                continue
            if current is None:
                n_paras += 1
                current = {"number": f"P{n_paras}", "title": _title(line, context), "lines": []}
            current["lines"].append(line)
            continue
        if not line:
            continue
        if level == "heading":
            if b.level:
                close()
                if b.level <= top and sum(1 for x in blocks if x.level == top) == 1:
                    context = [line]  # the document's one top heading is its title: context, not a clause
                    continue
                n_sections += 1
                current = {"number": f"S{n_sections}", "title": _title(line, context), "lines": []}
            elif current is not None:
                current["lines"].append(line)
            else:
                preamble.append(line)
            continue
        hit = _marker(line, [level])
        if hit:
            close()
            current = {"number": hit[1], "title": _title(line, context), "lines": [line]}
        elif CONTEXT.match(line) or b.level:
            close()  # a chapter, section or heading above the clauses: the context of what follows
            chapter = bool(re.match(r"^(?:第.*[章编]|Chapter|Part)", line, re.I)) or (b.level and b.level <= top)
            context = [line] if chapter else context[:1] + [line]
        elif current is not None:
            current["lines"].append(line)
        else:
            preamble.append(line)
    close()
    if preamble:
        pieces.insert(0, Piece("0", _title(preamble[0], []), "\n".join(preamble)))
    # a numbered heading with nothing under it but its sub-clauses ("2. 检查" before "2.1"): not a clause
    pieces = [p for p, nxt in zip(pieces, pieces[1:] + [None])
              if not (nxt is not None and "\n" not in p.text and nxt.number.startswith(p.number + "."))]
    seen: dict[str, int] = {}
    out = []
    for i, p in enumerate(pieces, 1):
        if p.number in seen:
            p = Piece(f"{p.number}.{i}", p.title, p.text)
        seen[p.number] = i
        out.append(p)
    return out


_ZH_DIGITS = {ch: str(i) for i, ch in enumerate("〇一二三四五六七八九")} | {"零": "0"}
_ZH_DATE = re.compile(r"(?:自|从|于)?\s*(?P<y>[0-9]{4}|[〇零一二三四五六七八九]{4})\s*年\s*(?P<m>[0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*月"
                      r"\s*(?P<d>[0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*日\s*起?\s*(?:正式)?(?:施行|生效|实施|执行)")
_MONTHS = {m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                                        "september", "october", "november", "december"], 1)}
_EN_DATE = (r"(?:(?P<iso>\d{4}-\d{2}-\d{2})|(?P<d1>\d{1,2})\s+(?P<m1>[A-Za-z]+)\s+(?P<y1>\d{4})"
            r"|(?P<m2>[A-Za-z]+)\s+(?P<d2>\d{1,2}),?\s+(?P<y2>\d{4}))")
_EN_EFFECTIVE = re.compile(r"(?:effective|in force|takes? effect|shall take effect|comes? into force)\s*(?:from|as of|on)?\s*"
                           + _EN_DATE, re.I)


def _zh_int(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if len(text) == 4 and all(ch in _ZH_DIGITS for ch in text):
        return int("".join(_ZH_DIGITS[ch] for ch in text))
    return read_chinese_number(text)


def effective_date(text: str) -> dt.date | None:
    """The first date the text says it takes effect: ``自2026年1月1日起施行``, ``二〇二六年一月一日起施行``,
    ``effective from 1 January 2026`` / ``January 1, 2026`` / ``2026-01-01``; None if it says none."""
    found: list[tuple[int, dt.date]] = []
    m = _ZH_DATE.search(text)
    if m:
        y, mo, d = _zh_int(m["y"]), _zh_int(m["m"]), _zh_int(m["d"])
        try:
            found.append((m.start(), dt.date(y, mo, d)))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    m = _EN_EFFECTIVE.search(text)
    if m:
        try:
            if m["iso"]:
                day = dt.date.fromisoformat(m["iso"])
            elif m["d1"]:
                day = dt.date(int(m["y1"]), _MONTHS[m["m1"].lower()], int(m["d1"]))
            else:
                day = dt.date(int(m["y2"]), _MONTHS[m["m2"].lower()], int(m["d2"]))
            found.append((m.start(), day))
        except (KeyError, ValueError):
            pass
    return min(found)[1] if found else None
