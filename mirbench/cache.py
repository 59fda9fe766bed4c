"""The cache root, resolved in one place: where dataset builds, features, trained models, downloads and content
hashes are kept."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

_chosen: Path | None = None


def cache_root() -> Path:
    """The folder chosen for this run (`--cache-dir`, see `using`), else `$MIRBENCH_CACHE`, else the platform's user
    cache directory for mirbench."""
    if _chosen is not None:
        return _chosen
    env = os.environ.get("MIRBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mirbench"))


@contextmanager
def using(folder: str | Path | None):
    """Make `folder` the cache root inside the block (None: leave it as it is). A run's trials carry the root they
    were planned with, and each trial sets it again in its worker process."""
    global _chosen
    before = _chosen
    if folder is not None:
        _chosen = Path(folder).expanduser().resolve()
    try:
        yield cache_root()
    finally:
        _chosen = before
