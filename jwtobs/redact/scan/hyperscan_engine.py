"""The Hyperscan engine of the prefilter (optional: ``pip install 'jwtobs[scan]'``): the trigger expressions
compiled into one multi-pattern automaton, cached per process and serialized in the user's cache directory."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from jwtobs.redact.scan.rules import Trigger


def have_hyperscan() -> bool:
    try:
        import hyperscan  # noqa: F401
    except Exception:  # not installed, or no build for this CPU
        return False
    return True


_DB_CACHE: dict[str, Any] = {}


def hyperscan_db(trig: tuple[Trigger, ...]) -> Any:
    """The compiled database of ``trig``: built once per process, and kept serialized in the user's cache
    directory (building it takes ~0.3 s, loading it ~1 ms). Any cache problem just means building it."""
    import hyperscan

    flags = [
        (hyperscan.HS_FLAG_CASELESS if t.caseless else 0) | (hyperscan.HS_FLAG_MULTILINE if t.multiline else 0)
        for t in trig
    ]
    exprs = [t.expr.encode() for t in trig]
    version = getattr(hyperscan, "__version__", "")
    key = hashlib.sha256(repr((exprs, flags, version)).encode()).hexdigest()[:24]
    db = _DB_CACHE.get(key)
    if db is not None:
        return db
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "jwtobs", f"scan-{key}.hsdb")
    try:
        with open(path, "rb") as f:
            db = hyperscan.loadb(f.read(), hyperscan.HS_MODE_BLOCK)
    except Exception:
        db = None
    if db is None:
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=exprs, ids=list(range(len(trig))), flags=flags)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(hyperscan.dumpb(db))
            os.replace(tmp, path)
        except OSError:
            pass
    _DB_CACHE[key] = db
    return db
