"""Where a corpus build lives and how its manifest is written and read.

A build directory is keyed by the build parameters and BUILD_VERSION; its
manifest is written last and atomically, so its presence marks a complete
build. Per-candidate records (`work/<key>.json`) written as the build goes let
an interrupted build resume where it stopped.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Iterator

#: Bump when a change to the build changes its output; old builds are then left alone and rebuilt.
BUILD_VERSION = 1
SAMPLE_RATE = 22050
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """`cache_dir`, else mirbench's cache root (mirbench.cache)."""
    from mirbench import cache

    return Path(cache_dir).expanduser() if cache_dir is not None else cache.cache_root()


#: The packages whose code shapes the audio or the labels: the scores and their parser (music21), the MIDI writer
#: and the SoundFont's package (pretty_midi), the synthesiser (midirenderer), resampling and filtering (numpy,
#: scipy) and the 16-bit WAV writer (soundfile, and its libsndfile).
LIBRARIES = ("music21", "pretty_midi", "midirenderer", "numpy", "scipy", "soundfile")
#: The modules of this package whose code shapes a build's output; their code (not comments or docstrings) is
#: hashed into the build key, so a change to it is a new build even when BUILD_VERSION was not bumped.
BUILD_MODULES = ("builder", "cache", "labels", "render", "score", "sources")


def library_versions() -> dict[str, str]:
    """Versions of the packages whose behaviour shapes the audio (a change gives a new build directory)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in LIBRARIES:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    try:
        import soundfile

        out["libsndfile"] = str(soundfile.__libsndfile_version__)
    except (ImportError, AttributeError, OSError):
        out["libsndfile"] = "unknown"
    return out


@functools.lru_cache(maxsize=1)
def soundfont_digest() -> str:
    """A hash of the SoundFont's bytes: a package could ship another one under the same version."""
    from mirbench.datasets.corpus.render import soundfont_path

    try:
        return hashlib.sha256(soundfont_path().read_bytes()).hexdigest()[:16]
    except (OSError, ImportError):
        return "unknown"


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """A hash of the build modules' code, as its syntax tree without docstrings: formatting, comments and
    docstrings do not change it, any change to what the code does does."""
    h = hashlib.sha256()
    for name in BUILD_MODULES:
        tree = ast.parse((Path(__file__).parent / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant
            ) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
        h.update(name.encode() + b"\0" + ast.dump(tree).encode() + b"\0")
    return h.hexdigest()[:16]


def build_params(clips_per_class: int, clip_seconds: float, seed: int) -> dict:
    """What a build's output depends on: its parameters, BUILD_VERSION, the libraries, the SoundFont and the code.
    They key its directory and are stored in its manifest, so a build by other code or libraries is never reused."""
    return {
        "build_version": BUILD_VERSION,
        "clips_per_class": int(clips_per_class),
        "clip_seconds": float(clip_seconds),
        "seed": int(seed),
        "sample_rate": SAMPLE_RATE,
        "libraries": library_versions(),
        "soundfont": soundfont_digest(),
        "code": code_digest(),
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


#: What a manifest holds (key -> kind), and each of its clips: every key the dataset reads.
MANIFEST_KEYS = {"format": int, "params": dict, "sample_rate": int, "styles": list, "tags": list, "clips": list}
CLIP_KEYS = {"id": str, "wav": str, "style": str, "tags": list, "group": str}


def read_manifest(path: Path, params: dict | None = None) -> dict | None:
    """The manifest at `path` if it is complete, matches `params` and all its audio files exist; None when there is
    none yet, it is of another format or build, or a clip's file is missing (the build is then done again).

    A manifest that is there but damaged (not JSON, a key missing or of the wrong kind, a clip path leaving the
    build directory) raises DatasetError naming the file, the key and the fix: it was written atomically by a
    build, so something else changed it, and a rebuild over it would hide that.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise damaged(path, f"cannot be read ({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    try:
        manifest = json.loads(text)
    except ValueError:
        raise damaged(path, "is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise damaged(path, "holds no JSON object")
    for key in ("format", "params"):  # without them it cannot even be told apart from another build's
        if key not in manifest:
            raise damaged(path, f"has no key {key!r}")
    if manifest.get("format") != MANIFEST_FORMAT or (params is not None and manifest.get("params") != params):
        return None
    check_manifest(path, manifest)
    if not all((path.parent / clip["wav"]).is_file() for clip in manifest["clips"]):
        return None
    return manifest


def damaged(path: Path, what: str):
    """The error for a damaged manifest: its file, what is wrong, and the fix."""
    from mirbench.datasets.base import DatasetError

    return DatasetError(f"corpus: {path}: {what} (a damaged build): delete {path.parent} to rebuild it")


def check_manifest(path: Path, manifest: dict) -> None:
    """Every key the dataset reads is there and of its kind, labels are among the manifest's classes, and each
    clip's file is a relative path inside the build directory; else DatasetError naming the key."""

    def check(obj: dict, keys: dict, where: str) -> None:
        for key, kind in keys.items():
            if key not in obj:
                raise damaged(path, f"{where}has no key {key!r}")
            if not isinstance(obj[key], kind) or isinstance(obj[key], bool):
                raise damaged(path, f"{where}key {key!r} is not a{'n' if kind is int else ''} {kind.__name__}")

    check(manifest, MANIFEST_KEYS, "")
    styles, tags = set(map(str, manifest["styles"])), set(map(str, manifest["tags"]))
    for i, clip in enumerate(manifest["clips"]):
        if not isinstance(clip, dict):
            raise damaged(path, f"clips[{i}] is not a JSON object")
        check(clip, CLIP_KEYS, f"clips[{i}] ")
        wav = PurePosixPath(clip["wav"])
        if wav.is_absolute() or ".." in wav.parts or not wav.parts or "\\" in clip["wav"]:
            raise damaged(path, f"clips[{i}].wav names a path outside the build directory")
        if clip["style"] not in styles:
            raise damaged(path, f"clips[{i}].style {clip['style']!r} is not among its 'styles'")
        unknown = [t for t in clip["tags"] if t not in tags]
        if unknown:
            raise damaged(path, f"clips[{i}].tags {unknown[0]!r} is not among its 'tags'")


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
