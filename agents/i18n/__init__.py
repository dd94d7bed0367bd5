"""The operator-facing message catalogue (gettext .po files, read with Babel): Chinese and English.

Internal codes (a purpose category such as `work_tools`, a review reason such as `amount_over_5000`, a role,
an outcome) never reach an operator as they are: they go through `label(kind, code, lang)`, whose `kind` is
the catalogue's message context. Terminal messages go through `say(lang, msgid, **fields)`.

    label("purpose", "work_tools", "zh")  -> "工作工具"
    say("en", "Customer {id} not found", id="C9999")

The .po files under locales/<lang>/LC_MESSAGES/riskdesk.po are the source; edit them with any PO editor.
`labels(lang)` gives every code label of one language (the web console loads it from /v1/desk/labels)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

LANGS = ("zh", "en")
DOMAIN = "riskdesk"
LOCALES = Path(__file__).parent / "locales"
KINDS = ("purpose", "reason", "role", "outcome", "status", "task")


@lru_cache(maxsize=None)
def catalog(lang: str) -> Any:
    """The Babel catalogue of one language (zh or en)."""
    from babel.messages.pofile import read_po
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")
    with open(LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def _lookup(lang: str, msgid: str, context: str | None) -> str | None:
    msg = catalog(lang if lang in LANGS else "en").get(msgid, context=context)
    return msg.string if msg is not None and msg.string else None


def label(kind: str, code: str | None, lang: str) -> str:
    """An internal code in the operator's words. An unknown code is shown humanised (underscores as spaces),
    never as the raw identifier."""
    if code is None or code == "":
        return "—"
    text = _lookup(lang, str(code), kind)
    return text if text is not None else str(code).replace("_", " ")


def labels(lang: str) -> dict[str, dict[str, str]]:
    """Every code label of one language, by kind: {"purpose": {"work_tools": "工作工具", ...}, ...}."""
    out: dict[str, dict[str, str]] = {k: {} for k in KINDS}
    for msg in catalog(lang):
        if msg.id and msg.context in out and msg.string:
            out[msg.context][msg.id] = msg.string
    return out


def say(lang: str, msgid: str, **fields: Any) -> str:
    """A terminal message in the operator's language, its {fields} filled in."""
    text = _lookup(lang, msgid, "cli") or msgid
    return text.format(**fields) if fields else text


def default_lang() -> str:
    """The operator's language for the command line: RISKDESK_LANG, else the locale (LC_ALL, LANG); zh or en."""
    import os
    loc = os.environ.get("RISKDESK_LANG") or os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "zh" if loc.lower().startswith("zh") else "en"


def detect(text: str) -> str:
    """The language of an operator's text: zh when it has any CJK character, else en."""
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
