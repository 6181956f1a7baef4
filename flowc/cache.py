"""flowc's cache directory: `$FLOWC_CACHE_DIR`, default `$XDG_CACHE_HOME/flowc` (~/.cache/flowc)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(name: str) -> Path:
    """The cache's subdirectory `name` (not created)."""
    base = os.environ.get("FLOWC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "flowc"
    )
    return Path(base) / name
