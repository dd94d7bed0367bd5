"""Where the default stores live: $RISKDESK_HOME (default ~/.riskdesk) holds the ledger, the Chroma
store, the thread checkpoints and the audit log, unless their own settings say otherwise."""
from __future__ import annotations

import os
from pathlib import Path


def riskdesk_home(create: bool = False) -> Path:
    home = Path(os.environ.get("RISKDESK_HOME", Path.home() / ".riskdesk")).expanduser()
    if create:
        home.mkdir(parents=True, exist_ok=True)
    return home
