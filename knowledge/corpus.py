"""Corpus documents: Markdown with YAML front matter, one section per clause, parsed and validated.

Markup (see knowledge/corpus/*.md)::

    ---
    doc_id: PBOC-REPAIR
    title: 一次性个人信用修复政策 / One-time personal credit repair policy
    issuer: ...
    source: ...
    effective_from: 2025-12-22
    effective_to: open            # or YYYY-MM-DD
    version: 2025-12
    language: zh+en               # zh+en (both texts required), zh or en
    ---
    ## PBOC-REPAIR-R2 · 单笔金额上限 / Amount limit per record
    effective_to: 2026-12-31      # optional per-clause override of the document's dates
    zh: 中文条文……（可续行）
    en: The English version of the same clause (may continue on following lines).

Text outside ``## CLAUSE-ID · title`` sections is commentary and is not indexed.
Everything is validated before anything is written; problems raise CorpusError naming the file.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.models import Clause

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
REQUIRED = ("doc_id", "title", "issuer", "source", "effective_from", "effective_to", "version", "language")
LANGUAGES = {"zh+en": ("zh", "en"), "zh": ("zh",), "en": ("en",)}
_HEADING = re.compile(r"^##\s+(?P<id>\S+)\s*(?:[·|:-]\s*(?P<title>.*))?$")
_CLAUSE_ID = re.compile(r"^[A-Z0-9][A-Z0-9_.-]*$")
_FIELD = re.compile(r"^(?P<key>zh|en|effective_from|effective_to)\s*[:：]\s*(?P<value>.*)$")


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as strings, so a bad date is reported by field rather than by YAML."""


_Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
                                   for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


class CorpusError(ValueError):
    """A malformed corpus document: names the file and the problem."""

    def __init__(self, path: Path | str, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class Document:
    path: Path
    doc_id: str
    clauses: tuple[Clause, ...]
    digest: str
    title: str = ""


def _date(value: object, field: str, path: Path, allow_open: bool) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if allow_open and text.lower() == "open":
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CorpusError(path, f"{field} must be YYYY-MM-DD{' or open' if allow_open else ''}, got {text!r}") from None


def _front_matter(text: str, path: Path) -> tuple[dict, str]:
    if not text.startswith("---"):
        raise CorpusError(path, "missing YAML front matter (the file must start with ---)")
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise CorpusError(path, "front matter is not closed by a --- line")
    try:
        meta = yaml.load(parts[0][3:], Loader=_Loader) or {}
    except (yaml.YAMLError, ValueError) as e:
        raise CorpusError(path, f"front matter is not valid YAML: {e}") from None
    if not isinstance(meta, dict):
        raise CorpusError(path, "front matter must be a YAML mapping")
    missing = [f for f in REQUIRED if meta.get(f) in (None, "")]
    if missing:
        raise CorpusError(path, f"front matter is missing field(s): {', '.join(missing)}")
    return meta, parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""


def parse_document(path: Path | str, text: str | None = None) -> Document:
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CorpusError(path, "not UTF-8 text") from None
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    meta, body = _front_matter(text, path)
    doc_id = str(meta["doc_id"]).strip()
    if not _CLAUSE_ID.match(doc_id):
        raise CorpusError(path, f"doc_id {doc_id!r} must be upper-case letters, digits and dashes")
    language = str(meta["language"]).strip()
    if language not in LANGUAGES:
        raise CorpusError(path, f"language must be one of {sorted(LANGUAGES)}, got {language!r}")
    doc_from = _date(meta["effective_from"], "effective_from", path, allow_open=False)
    doc_to = _date(meta["effective_to"], "effective_to", path, allow_open=True)

    sections: list[tuple[str, str, int, dict[str, str]]] = []
    current: dict[str, str] | None = None
    key: str | None = None
    for lineno, line in enumerate(body.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith("## "):
            m = _HEADING.match(stripped)
            if not m or not _CLAUSE_ID.match(m["id"]):
                raise CorpusError(path, f"clause heading {stripped!r} must look like '## CLAUSE-ID · title'")
            current, key = {}, None
            sections.append((m["id"], (m["title"] or "").strip(), lineno, current))
            continue
        if current is None or stripped.startswith("#"):
            key = None if stripped.startswith("#") else key
            continue
        if not stripped:
            key = None
            continue
        m = _FIELD.match(stripped)
        if m:
            key = m["key"]
            if key in current:
                raise CorpusError(path, f"clause {sections[-1][0]} has two '{key}:' entries")
            current[key] = m["value"].strip()
            if key.startswith("effective_"):
                key = None
        elif key in ("zh", "en"):
            current[key] += (" " if key == "en" else "") + stripped
        else:
            raise CorpusError(path, f"clause {sections[-1][0]}: unexpected line {stripped!r} "
                                    "(expected 'zh:', 'en:', 'effective_from:' or 'effective_to:')")
    if not sections:
        raise CorpusError(path, "no clauses (expected '## CLAUSE-ID · title' sections)")

    clauses, seen = [], set()
    for clause_id, title, _, fields in sections:
        if clause_id in seen:
            raise CorpusError(path, f"duplicate clause_id {clause_id}")
        seen.add(clause_id)
        for lang in LANGUAGES[language]:
            if not fields.get(lang, "").strip():
                raise CorpusError(path, f"clause {clause_id} has no {lang} text")
        if not (fields.get("zh") or fields.get("en")):
            raise CorpusError(path, f"clause {clause_id} has no text")
        eff_from = _date(fields["effective_from"], f"{clause_id} effective_from", path, False) \
            if "effective_from" in fields else doc_from
        eff_to = _date(fields["effective_to"], f"{clause_id} effective_to", path, True) \
            if "effective_to" in fields else doc_to
        if eff_to is not None and eff_to < eff_from:
            raise CorpusError(path, f"clause {clause_id}: effective_to {eff_to} is before effective_from {eff_from}")
        clauses.append(Clause(clause_id=clause_id, doc_id=doc_id, title=title or clause_id,
                              issuer=str(meta["issuer"]).strip(), text_zh=fields.get("zh", ""),
                              text_en=fields.get("en", ""), effective_from=eff_from, effective_to=eff_to,
                              version=str(meta["version"]).strip(), source=str(meta["source"]).strip()))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Document(path=path, doc_id=doc_id, clauses=tuple(clauses), digest=digest, title=str(meta["title"]).strip())


def corpus_files(directory: Path | str) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise CorpusError(directory, "not a directory")
    return sorted(p for p in directory.rglob("*.md") if p.is_file() and not p.name.upper().startswith("README"))


def load_corpus(directory: Path | str = CORPUS_DIR) -> list[Document]:
    """Parse and validate every document of a directory; duplicates across files are errors too."""
    files = corpus_files(directory)
    if not files:
        raise CorpusError(directory, "no .md documents found")
    docs, owners, doc_owner = [], {}, {}
    for path in files:
        doc = parse_document(path)
        if doc.doc_id in doc_owner:
            raise CorpusError(path, f"doc_id {doc.doc_id} is also used by {doc_owner[doc.doc_id]}")
        doc_owner[doc.doc_id] = path
        for c in doc.clauses:
            if c.clause_id in owners:
                raise CorpusError(path, f"duplicate clause_id {c.clause_id} (also in {owners[c.clause_id]})")
            owners[c.clause_id] = path
        docs.append(doc)
    return docs


def corpus_digest(docs: list[Document]) -> str:
    h = hashlib.sha256()
    for d in sorted(docs, key=lambda d: d.doc_id):
        h.update(d.doc_id.encode() + b"\0" + d.digest.encode() + b"\n")
    return h.hexdigest()
