"""The same build gives the same bytes, and a build by other code, libraries or SoundFont is never reused (#17 item 7).

Two fresh processes (other hash seeds, other worker counts: what two fresh clones are) build the corpus into two
directories; every clip's WAV bytes and the manifest must be equal. The build key must change with everything the
audio depends on, so a cached corpus made by another renderer, SciPy or SoundFont is built again, not reused under
the same name.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mirbench.datasets.corpus import builder as build_mod
from mirbench.datasets.corpus import cache

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"clips_per_class": 1, "clip_seconds": 2.0, "seed": 0}
BUILD = (
    "import sys; from pathlib import Path; from mirbench.datasets.corpus.builder import build; "
    "print(build(Path(sys.argv[1]), {n}, {s}, {seed}, progress=False, workers=int(sys.argv[2])))"
).format(n=SMALL["clips_per_class"], s=SMALL["clip_seconds"], seed=SMALL["seed"])


def _build_in_fresh_process(out: Path, hash_seed: str, workers: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
    env.pop("MIRBENCH_CACHE", None)
    return subprocess.Popen(
        [sys.executable, "-c", BUILD, str(out), str(workers)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _digests(manifest_path: Path) -> dict[str, str]:
    manifest = json.loads(manifest_path.read_text())
    out = {"manifest.json": hashlib.sha256(manifest_path.read_bytes()).hexdigest()}
    for clip in manifest["clips"]:
        out[clip["wav"]] = hashlib.sha256((manifest_path.parent / clip["wav"]).read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> tuple[Path, Path]:
    """The manifests of two builds of SMALL, each by a fresh process (hash seeds 1 and 2, 2 and 1 workers), at once."""
    tmp = tmp_path_factory.mktemp("two-builds")
    runs = [_build_in_fresh_process(tmp / "a", "1", 2), _build_in_fresh_process(tmp / "b", "2", 1)]
    paths = []
    for proc in runs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        paths.append(Path(out.strip().splitlines()[-1]))
    return paths[0], paths[1]


def test_two_fresh_builds_give_the_same_audio_bytes(two_builds):
    a, b = two_builds
    assert a.parent.name == b.parent.name  # one build key
    first, second = _digests(a), _digests(b)
    assert len(first) == 1 + 6 * SMALL["clips_per_class"]
    assert first == second, sorted(k for k in first if first[k] != second.get(k))


@pytest.mark.parametrize(
    "change",
    [
        ("library_versions", lambda real: lambda: {**real(), "midirenderer": "0.0.1"}),
        ("library_versions", lambda real: lambda: {**real(), "scipy": "0.1"}),
        ("library_versions", lambda real: lambda: {**real(), "libsndfile": "0.0"}),
        ("soundfont_digest", lambda real: lambda: "another-soundfont"),
        ("code_digest", lambda real: lambda: "other-code"),
    ],
    ids=["renderer", "scipy", "libsndfile", "soundfont", "code"],
)
def test_the_build_key_covers_what_the_audio_depends_on(change, monkeypatch, tmp_path):
    name, patch = change
    before = cache.build_dir(tmp_path, cache.build_params(**SMALL))
    monkeypatch.setattr(cache, name, patch(getattr(cache, name)))
    after = cache.build_dir(tmp_path, cache.build_params(**SMALL))
    assert before != after


def test_a_build_by_another_soundfont_is_built_again_not_reused(two_builds, tmp_path, monkeypatch):
    """A cached build whose inputs differ is never returned: with another SoundFont the build runs again."""
    import shutil

    first = two_builds[0]
    shutil.copytree(first.parent, tmp_path / "corpus" / first.parent.name)
    first = tmp_path / "corpus" / first.parent.name / first.name
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("rebuilding")

    monkeypatch.setattr(build_mod, "select", counted)
    assert build_mod.build(tmp_path, progress=False, workers=1, **SMALL) == first  # the same inputs: reused
    monkeypatch.setattr(cache, "soundfont_digest", lambda: "another-soundfont")
    with pytest.raises(RuntimeError, match="rebuilding"):
        build_mod.build(tmp_path, progress=False, workers=1, **SMALL)
    assert calls == [1]


def test_the_code_digest_ignores_comments_and_docstrings(tmp_path, monkeypatch):
    """Only what the code does keys the build: a reworded docstring or comment does not cost a rebuild."""
    for name in cache.BUILD_MODULES:
        (tmp_path / f"{name}.py").write_text((Path(cache.__file__).parent / f"{name}.py").read_text())
    monkeypatch.setattr(cache, "__file__", str(tmp_path / "cache.py"))
    cache.code_digest.cache_clear()
    try:
        base = cache.code_digest()
        render = tmp_path / "render.py"
        text = render.read_text()
        render.write_text('"""Another docstring."""\n# a comment\n' + text.split('"""', 2)[2])
        cache.code_digest.cache_clear()
        assert cache.code_digest() == base
        render.write_text(text.replace("VELOCITY = 90", "VELOCITY = 91"))
        cache.code_digest.cache_clear()
        assert cache.code_digest() != base
    finally:
        cache.code_digest.cache_clear()
