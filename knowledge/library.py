"""A lender's own documents in the knowledge base: ``riskdesk kb add / list / show / remove``.

A file becomes one document (origin ``doc:<DOC_ID>``): parsed (knowledge.parsers), cut into clauses
(knowledge.splitting), dated, then written through KnowledgeBase.replace, so re-adding a changed file
replaces its clauses (unchanged ones keep their embeddings) and leaves every other document alone.

Metadata, first found wins: command-line options; a sidecar ``<file>.meta.yaml`` (doc_id, title, issuer,
version, effective_from, effective_to, language, supersedes); the file's own metadata (Markdown front matter,
HTML ``<meta name="effective-from">``); the text (``自2026年1月1日起施行``, ``effective from 1 January 2026``).
A document that states no date is in force from EARLIEST on, and the report says so.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge.corpus import CorpusError, Document
from knowledge.corpus import _Loader as DatesAsText  # safe YAML that leaves dates as text
from knowledge.models import Clause, IngestReport
from knowledge.parsers import SUFFIXES, parse_file
from knowledge.splitting import effective_date, split
from knowledge.store import KnowledgeBase, query_language

ORIGIN_PREFIX = "doc:"
EARLIEST = dt.date(1970, 1, 1)
SIDECAR = ".meta.yaml"
_DOC_ID = re.compile(r"^[A-Z0-9\u3400-\u9fff][A-Z0-9\u3400-\u9fff_.@-]*$")


@dataclass
class Options:
    doc_id: str | None = None
    title: str | None = None
    issuer: str | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    supersedes: str | None = None
    language: str | None = None  # zh or en: every clause's language; default per clause from its text


@dataclass
class Outcome:
    path: Path
    doc_id: str = ""
    clauses: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def doc_id_for(path: Path) -> str:
    """``credit_policy 2026.pdf`` -> ``CREDIT-POLICY-2026``; Chinese names are kept (``授信管理办法``)."""
    stem = re.sub(r"[^A-Za-z0-9\u3400-\u9fff]+", "-", path.stem).strip("-").upper()
    return stem or "DOC-" + hashlib.sha256(path.name.encode()).hexdigest()[:8].upper()


def _day(value: object, field_name: str, path: Path) -> dt.date | None:
    if value in (None, "", "open"):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise CorpusError(path, f"{field_name} must be YYYY-MM-DD, got {value!r}") from None


def _sidecar(path: Path) -> dict:
    side = path.with_name(path.name + SIDECAR)
    if not side.is_file():
        return {}
    try:
        meta = yaml.load(side.read_text(encoding="utf-8"), Loader=DatesAsText) or {}
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as e:
        raise CorpusError(side, f"not valid YAML: {e}") from None
    if not isinstance(meta, dict):
        raise CorpusError(side, "must be a YAML mapping")
    return meta


def read_document(path: Path | str, opts: Options | None = None) -> tuple[Document, list[str]]:
    """One file as a validated document, and notes for the operator. Raises CorpusError; writes nothing."""
    path, opts = Path(path), opts or Options()
    parsed = parse_file(path)
    side, own = _sidecar(path), parsed.meta

    def pick(key: str) -> object:
        return getattr(opts, key, None) or side.get(key) or own.get(key)
    doc_id = str(pick("doc_id") or doc_id_for(path)).strip()
    if not _DOC_ID.match(doc_id):
        raise CorpusError(path, f"doc_id {doc_id!r}: use upper-case letters, digits, Chinese characters, '-', '_' or '.'")
    notes = []
    text = "\n".join(b.text for b in parsed.blocks)
    start = _day(pick("effective_from") or own.get("effective_date"), "effective_from", path)
    if start is None:
        start = effective_date(text)
        if start is not None:
            notes.append(f"effective from {start} (read from the text / 从正文读取)")
    if start is None:
        start = EARLIEST
        notes.append("no effective date found: in force from any date; give --effective-from or a sidecar "
                     "/ 未找到生效日期")
    end = _day(pick("effective_to"), "effective_to", path)
    if end is not None and end < start:
        raise CorpusError(path, f"effective_to {end} is before effective_from {start}")
    language = pick("language")
    if language not in (None, "zh", "en"):
        raise CorpusError(path, f"language must be zh or en, got {language!r}")
    pieces = split(parsed.blocks)
    if pieces and pieces[0].number == "0" and "\n" not in pieces[0].text and len(pieces[0].text) <= 60 and len(pieces) > 1:
        parsed.title = parsed.title or pieces[0].text  # a first line alone before the clauses: the title
        pieces = pieces[1:]
    if not pieces:
        raise CorpusError(path, "no clauses found / 没有找到条款")
    title = str(pick("title") or parsed.title or path.stem).strip()
    raw = path.read_bytes()
    version = str(pick("version") or "")  # the file's content hash is the document digest below
    issuer = str(pick("issuer") or "").strip()
    clauses = []
    for p in pieces:
        lang = language or query_language(p.text)
        clauses.append(Clause(clause_id=f"{doc_id}-{p.number}", doc_id=doc_id, title=p.title, issuer=issuer,
                              text_zh=p.text if lang == "zh" else "", text_en=p.text if lang == "en" else "",
                              effective_from=start, effective_to=end, version=version, source=str(path.resolve())))
    digest = hashlib.sha256(raw + repr(sorted(vars(opts).items())).encode()).hexdigest()
    notes.insert(0, f"{parsed.kind}, {len(clauses)} clauses")
    return Document(path=path, doc_id=doc_id, clauses=tuple(clauses), digest=digest, title=title), notes


def expand(paths: list[Path]) -> list[Path]:
    """Files named, and the supported files under directories named (sidecars and hidden files skipped)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES
                              and not f.name.startswith(".") and not f.name.endswith(SIDECAR)))
        else:
            out.append(p)
    return list(dict.fromkeys(out))


def _superseded(kb: KnowledgeBase, doc_id: str, until: dt.date, path: Path) -> tuple[str, Document]:
    """The stored document ``doc_id`` with every clause ending the day before ``until``."""
    clauses = [c for c in kb.clauses() if c.doc_id == doc_id]
    if not clauses:
        raise CorpusError(path, f"--supersedes {doc_id}: no such document in the knowledge base / 知识库中没有该文件")
    origin = kb.origin_of(clauses[0].clause_id) or ""
    if not origin.startswith(ORIGIN_PREFIX):
        raise CorpusError(path, f"--supersedes {doc_id}: only documents added with `kb add` can be superseded")
    end = until - dt.timedelta(days=1)
    changed = tuple(c.model_copy(update={"effective_to": max(c.effective_from, min(end, c.effective_to or end))})
                    for c in clauses)
    return origin, Document(path=path, doc_id=doc_id, clauses=changed, digest="", title=kb.doc_title(clauses[0].clause_id))


def add(kb: KnowledgeBase, paths: list[Path], opts: Options | None = None, progress=None) -> tuple[list[Outcome], IngestReport]:  # noqa: ANN001
    """Read every file first; the good ones are then written together, each whole; a bad file is reported
    with its reason and writes nothing."""
    opts = opts or Options()
    files = expand(paths)
    if opts.doc_id and len(files) > 1:
        raise CorpusError(paths[0], "--doc-id names one document: give one file")
    outcomes, groups = [], {}
    for f in files:
        o = Outcome(f)
        try:
            doc, o.notes = read_document(f, opts)
            o.doc_id, o.clauses = doc.doc_id, len(doc.clauses)
            origin = ORIGIN_PREFIX + doc.doc_id
            owner = next((kb.origin_of(c.clause_id) for c in kb.clauses() if c.doc_id == doc.doc_id), None)
            if owner is not None and owner != origin:
                raise CorpusError(f, f"doc_id {doc.doc_id} is already used by {owner}; pass --doc-id")
            if origin in groups:
                raise CorpusError(f, f"doc_id {doc.doc_id} is also the id of {groups[origin][0].path}; pass --doc-id")
            groups[origin] = [doc]
            if opts.supersedes:
                old_origin, old = _superseded(kb, opts.supersedes, doc.clauses[0].effective_from, f)
                groups[old_origin] = [old]
        except CorpusError as e:
            o.error = e.problem
        outcomes.append(o)
    report = kb.replace(groups, progress) if groups else IngestReport()
    return outcomes, report


def documents(kb: KnowledgeBase) -> list[dict]:
    """One row per stored document: id, origin, title, clause count, dates, source."""
    rows: dict[str, dict] = {}
    for c in kb.clauses():
        r = rows.setdefault(c.doc_id, {"doc_id": c.doc_id, "origin": (kb.origin_of(c.clause_id) or "").split(":", 1)[0],
                                       "title": kb.doc_title(c.clause_id), "clauses": 0, "effective_from": c.effective_from,
                                       "effective_to": c.effective_to, "source": c.source})
        r["clauses"] += 1
        r["effective_from"] = min(r["effective_from"], c.effective_from)
    return list(rows.values())
