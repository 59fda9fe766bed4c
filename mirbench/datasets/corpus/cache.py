"""Where a corpus build lives and how its manifest is written and read.

A build directory is keyed by the build parameters and BUILD_VERSION; its
manifest is written last and atomically, so its presence marks a complete
build. Per-candidate records (`work/<key>.json`) written as the build goes let
an interrupted build resume where it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

#: Bump when a change to the build changes its output; old builds are then left alone and rebuilt.
BUILD_VERSION = 1
SAMPLE_RATE = 22050
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """`cache_dir`, else `$MIRBENCH_CACHE`, else the user cache directory of mirbench."""
    if cache_dir is None:
        cache_dir = os.environ.get("MIRBENCH_CACHE")
    if cache_dir is None:
        import platformdirs

        cache_dir = platformdirs.user_cache_dir("mirbench")
    return Path(cache_dir).expanduser()


def library_versions() -> dict[str, str]:
    """Versions of the packages whose behaviour shapes the audio (a change gives a new build directory)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("music21", "pretty_midi", "midirenderer"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


def build_params(clips_per_class: int, clip_seconds: float, seed: int) -> dict:
    return {
        "build_version": BUILD_VERSION,
        "clips_per_class": int(clips_per_class),
        "clip_seconds": float(clip_seconds),
        "seed": int(seed),
        "sample_rate": SAMPLE_RATE,
        "libraries": library_versions(),
    }


def build_dir(root: Path, params: dict) -> Path:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    name = f"v{params['build_version']}-n{params['clips_per_class']}-s{params['clip_seconds']:g}-seed{params['seed']}-{digest}"
    return root / "corpus" / name


def write_json(path: Path, obj: object) -> None:
    """Write JSON atomically: readers see the old file or the whole new one, never a part."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_manifest(path: Path, params: dict | None = None) -> dict | None:
    """The manifest at `path` if it is complete, matches `params` and all its audio files exist; else None."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("format") != MANIFEST_FORMAT or (params is not None and manifest.get("params") != params):
        return None
    if not all((path.parent / clip["wav"]).is_file() for clip in manifest.get("clips", [])):
        return None
    return manifest


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on `directory` so two processes never build into it at once (POSIX only)."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    with open(directory / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
