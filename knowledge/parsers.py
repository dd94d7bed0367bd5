"""A lender's own files read into text blocks: Markdown (markdown-it-py), HTML (selectolax), PDF (pypdf),
DOCX (python-docx) and plain text. Each parser keeps the structure the file really has: headings with their
level, paragraphs, list items and table rows, in reading order. The clause splitter (knowledge.splitting)
works on these blocks.

Every problem is a CorpusError naming the file: an unknown type, an empty file, a file over the size
limit, an encrypted PDF, a PDF without a text layer (a scan), a damaged DOCX.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge.corpus import CorpusError

MAX_BYTES = int(os.environ.get("RISKDESK_KB_MAX_BYTES", 50 * 1024 * 1024))
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".html": "html",
            ".htm": "html", ".pdf": "pdf", ".docx": "docx"}
MIN_PDF_CHARS = 20  # fewer extracted characters than this over the whole PDF: no text layer


@dataclass(frozen=True)
class Block:
    text: str
    level: int = 0  # 1-6 for a heading, 0 for body text (a paragraph, list item, table row or line)


@dataclass
class Parsed:
    blocks: list[Block]
    kind: str
    title: str = ""
    meta: dict = field(default_factory=dict)  # metadata the file itself carries (front matter, <meta>)


def file_kind(path: Path) -> str:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise CorpusError(path, f"unknown file type {path.suffix or '(none)'!r}; supported: "
                                f"{', '.join(sorted(SUFFIXES))} / 不支持的文件类型")
    return kind


def parse_file(path: Path | str) -> Parsed:
    path = Path(path)
    kind = file_kind(path)
    if not path.is_file():
        raise CorpusError(path, "no such file / 文件不存在")
    size = path.stat().st_size
    if size == 0:
        raise CorpusError(path, "the file is empty / 文件为空")
    if size > MAX_BYTES:
        raise CorpusError(path, f"the file is {size / 2**20:.0f} MiB, over the limit of {MAX_BYTES / 2**20:.0f} MiB "
                                "(RISKDESK_KB_MAX_BYTES) / 文件超过大小上限")
    parsed = {"markdown": _markdown, "text": _text, "html": _html, "pdf": _pdf, "docx": _docx}[kind](path)
    if not any(b.text.strip() for b in parsed.blocks):
        raise CorpusError(path, "no text found in the file / 文件中没有可读取的文字")
    return parsed


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            continue
    raise CorpusError(path, "not UTF-8 or GB18030 text / 文件编码无法识别")


def _lines(text: str) -> list[Block]:
    """Body text as lines; a blank line is kept as an empty block (a paragraph break)."""
    return [Block(line.strip()) for line in text.split("\n")]


def _text(path: Path) -> Parsed:
    return Parsed(_lines(_decode(path)), "text")


def _markdown(path: Path) -> Parsed:
    from markdown_it import MarkdownIt
    text, meta = _decode(path), {}
    if text.startswith("---\n") and "\n---" in text[4:]:
        head, body = text[4:].split("\n---", 1)
        try:
            from knowledge.corpus import _Loader  # safe YAML that leaves dates as text (checked by field later)
            loaded = yaml.load(head, Loader=_Loader)
        except (yaml.YAMLError, ValueError) as e:
            raise CorpusError(path, f"front matter is not valid YAML: {e}") from None
        meta, text = (loaded if isinstance(loaded, dict) else {}), body.split("\n", 1)[1] if "\n" in body else ""
    blocks, title, level = [], str(meta.get("title", "") or ""), 0
    for tok in MarkdownIt("commonmark").enable("table").parse(text):
        if tok.type == "heading_open":
            level = int(tok.tag[1])
        elif tok.type == "inline":
            content = tok.content.strip()
            blocks.extend(Block(line.strip(), level if n == 0 else 0) for n, line in enumerate(content.split("\n")))
            title = title or (content if level == 1 else "")
            level = 0
        elif tok.type in ("paragraph_close", "bullet_list_close", "ordered_list_close", "table_close"):
            blocks.append(Block(""))
        elif tok.type in ("fence", "code_block"):
            blocks.extend(_lines(tok.content))
    return Parsed(blocks, "markdown", title, meta)


_HTML_BLOCKS = "h1,h2,h3,h4,h5,h6,p,li,pre,blockquote,dt,dd,tr,caption"


def _html(path: Path) -> Parsed:
    from selectolax.lexbor import LexborHTMLParser
    tree = LexborHTMLParser(_decode(path))
    tree.strip_tags(["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "svg"])
    meta = {}
    for node in tree.css("meta[name]"):
        name, content = (node.attributes.get("name") or "").lower(), node.attributes.get("content") or ""
        if content and ("effective" in name or name in ("doc_id", "issuer", "version", "dcterms.valid")):
            meta[name.replace("-", "_")] = content
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node else ""
    wanted = set(_HTML_BLOCKS.split(","))
    blocks = []
    for node in tree.css(_HTML_BLOCKS):
        parent, nested = node.parent, False
        while parent is not None:
            if parent.tag in wanted:
                nested = True
                break
            parent = parent.parent
        if nested:
            continue
        if node.tag == "tr":
            text = " | ".join(c.text(separator=" ", strip=True) for c in node.css("td,th"))
        else:
            text = node.text(separator=" ", strip=True)
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            level = int(node.tag[1]) if node.tag[0] == "h" and node.tag[1:].isdigit() else 0
            blocks.append(Block(text, level))
            title = title or (text if level == 1 else "")
    if not blocks and tree.body is not None:  # a page of bare text in <div>s
        blocks = _lines(tree.body.text(separator="\n"))
    return Parsed(blocks, "html", title, meta)


def _pdf(path: Path) -> Parsed:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(path, "the PDF is encrypted (password protected); remove the password first / PDF 已加密")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str((reader.metadata or {}).get("/Title") or "")
    except CorpusError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as e:
        raise CorpusError(path, f"not a readable PDF ({e}) / 无法读取的 PDF") from None
    except Exception as e:  # noqa: BLE001 (pypdf raises assorted errors on damaged files; e.g. a missing decoder)
        if "crypt" in str(e).lower() or "AES" in str(e):
            raise CorpusError(path, "the PDF is encrypted (password protected); remove the password first / PDF 已加密") from None
        raise CorpusError(path, f"not a readable PDF ({type(e).__name__}: {e}) / 无法读取的 PDF") from None
    if sum(len(re.sub(r"\s", "", p)) for p in pages) < MIN_PDF_CHARS:
        raise CorpusError(path, f"the PDF has no text layer ({len(pages)} page(s) of images?): run OCR first / "
                                "PDF 没有文字层（扫描件？），请先做文字识别")
    blocks: list[Block] = []
    for page in pages:
        blocks.extend(_lines(page))
        blocks.append(Block(""))
    return Parsed(blocks, "pdf", title)


def _docx(path: Path) -> Parsed:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as e:
        raise CorpusError(path, f"not a readable DOCX (encrypted, or not a Word 2007+ file?): {e} / 无法读取的 DOCX") from None
    except Exception as e:  # noqa: BLE001 (zipfile.BadZipFile and friends from a damaged package)
        raise CorpusError(path, f"not a readable DOCX ({type(e).__name__}: {e}) / 无法读取的 DOCX") from None
    title = document.core_properties.title or ""
    blocks: list[Block] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = docx.text.paragraph.Paragraph(child, document)
            style = (para.style.name if para.style is not None else "") or ""
            text = para.text.strip()
            m = re.match(r"(?:Heading|标题)\s*(\d)", style)
            if style == "Title" and text:
                title = title or text
                continue
            blocks.append(Block(text, int(m.group(1)) if m and text else 0))
        elif tag == "tbl":
            table = docx.table.Table(child, document)
            for row in table.rows:
                cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
                blocks.append(Block(" | ".join(cells)))
            blocks.append(Block(""))
    return Parsed(blocks, "docx", title)
