"""What the `riskdesk kb` commands share: consoles, the store options, opening the store, failing clearly."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True)

PathOpt = typer.Option(None, "--path", help="Embedded Chroma directory (default: $RISKDESK_CHROMA_PATH, "
                                              "else $RISKDESK_HOME/chroma, else ~/.riskdesk/chroma).")
UrlOpt = typer.Option(None, "--url", help="Chroma server URL (default: $RISKDESK_CHROMA_URL); overrides --path.")


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _open(path: Optional[Path], url: Optional[str], ensure_shipped: bool = True):  # noqa: ANN202
    from knowledge import KnowledgeBase, default_kb
    try:
        if path is None and url is None:
            return default_kb() if ensure_shipped else KnowledgeBase.open()
        kb = KnowledgeBase.open(path=path, url=url)
        if ensure_shipped and len(kb) == 0:
            kb.ingest()
        return kb
    except Exception as e:  # noqa: BLE001 (a store that cannot be opened is a usage problem here)
        _fail(f"cannot open the knowledge base: {e}")
