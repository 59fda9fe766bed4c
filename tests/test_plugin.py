"""A contributor's package, end to end: installed beside mirbench, discovered through its entry points (a system,
a frontend, a dataset, a protocol and a metric), checked, run on suites, submitted, verified and put on the
leaderboard (docs/extending.md)."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mirbench.cli import main
from mirbench.features import FeatureStore
from mirbench.frontends import MFCC
from mirbench.registry import REGISTRIES, datasets, frontends, systems
from mirbench.system import System, TrackSet
from mirbench.testing import SyntheticDataset, synthetic_dataset

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The fixture package pip-installed (offline, no dependencies) into a folder put on sys.path."""
    root = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(FIXTURE, root / "source")  # the build writes beside the sources: not in the repository
    target = root / "site"
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(source)]
    subprocess.run(command, check=True, capture_output=True)
    sys.path.insert(0, str(target))
    _rescan()  # the registries may have scanned the entry points before the plug-in was on the path
    yield target
    sys.path.remove(str(target))
    sys.modules.pop("mirbench_demo", None)
    _rescan()


def _rescan() -> None:
    importlib.invalidate_caches()
    for registry in REGISTRIES:
        registry.rescan()


@pytest.mark.parametrize("kind, name, target", [
    ("systems", "demo.centroid", "mirbench_demo:NearestCentroid"),
    ("frontends", "demo.chroma", "mirbench_demo.chroma:Chroma"),
    ("datasets", "demo.folders", "mirbench_demo.folders:ClassFolders"),
    ("protocols", "demo.every-nth", "mirbench_demo.holdout:EveryNth"),
])
def test_the_plugin_is_listed_with_its_distribution(installed, kind, name, target, capsys):
    registry = next(r for r in REGISTRIES if r.group == f"mirbench.{kind}")
    assert registry.entries()[name].origin == "mirbench-demo-plugin"
    assert main(["list", kind]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith(name))
    assert target in line and "[mirbench-demo-plugin]" in line


def test_the_plugin_metric_is_listed(installed, capsys):
    assert main(["list", "metrics"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "accuracy"  # in the order reports show them
    line = next(row for row in lines if row.startswith("demo.top2_accuracy"))
    assert "[mirbench-demo-plugin]" in line and ":" in line.split()[1]  # its target and package, as for other kinds


def test_the_plugin_frontend_matches_librosa(installed):
    chroma = frontends.get("demo.chroma")()
    t = np.arange(30000) / 22050
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 587.3 * t)).astype(np.float32)
    audio[20000:] = 0  # and silence: frames of zeros stay zeros
    ours = chroma(torch.from_numpy(audio)[None])[0].numpy()
    assert ours.shape == (chroma.n_frames(len(audio)), 12)
    np.testing.assert_allclose(ours, chroma.reference(audio), atol=1e-5)


class CountingCalls:
    """Wraps the `forward` of a frontend class, counting the tracks it computes."""

    def __init__(self, monkeypatch, cls):
        self.tracks = 0
        forward = cls.forward

        def counted(frontend, audio, lengths):
            self.tracks += audio.shape[0]
            return forward(frontend, audio, lengths)

        monkeypatch.setattr(cls, "forward", counted)


def test_a_plugin_frontend_is_cached_like_mirbench_own(installed, tmp_path, monkeypatch, caplog):
    """Asked for by name from a system, keyed on the audio's bytes and the frontend's parameters and version, read back
    by a later fit (a new store: another run) instead of computed, and checked when read."""
    chroma = frontends.get("demo.chroma")
    calls = CountingCalls(monkeypatch, chroma)
    tones = synthetic_dataset(tmp_path / "tones", per_class=4)
    cache = tmp_path / "cache"

    def fit(store: FeatureStore) -> np.ndarray:
        tracks = TrackSet(tones, tones.tracks, store)
        return systems.get("demo.centroid")(frontend="demo.chroma").fit(tracks).predict(tracks)

    first = fit(FeatureStore(cache))
    assert calls.tracks == 12  # each track once: predict read what fit computed
    store = FeatureStore(cache)
    np.testing.assert_array_equal(fit(store), first)
    assert calls.tracks == 12 and (store.hits, store.misses) == (24, 0)

    entries = sorted((cache / "features" / "mirbench_demo" / chroma().key()).glob("*.npy"))
    assert len(entries) == 12  # the plug-in's own folder, named by its key
    np.save(entries[0], np.zeros((3, 12), dtype=np.float32))  # not the shape the frontend gives for that track
    store = FeatureStore(cache)
    # recomputed alone, not in the batch of 12 that first computed it: the same up to float32 rounding (a batched
    # product may sum in another order, as MKL's AVX-512 kernels do), the store's promise for any batch size
    np.testing.assert_allclose(fit(store), first, rtol=1e-5, atol=1e-7)
    assert calls.tracks == 13 and store.misses == 1 and "computing them again" in caplog.text

    store.get(tones, tones.tracks[:1], chroma(n_chroma=24))  # other parameters: another entry
    assert calls.tracks == 14
    newer = type("NewerChroma", (chroma,), {"version": chroma.version + 1})
    assert newer().key() != chroma().key()


class BorrowedName(MFCC):
    """A contributor's frontend that kept a built-in's name, version and parameters, but computes other features."""

    def forward(self, audio, lengths):
        return torch.zeros(audio.shape[0], self.n_frames(audio.shape[1]), self.n_dims)


def test_a_frontend_named_like_a_builtin_never_reads_its_cache(tmp_path):
    tones = synthetic_dataset(tmp_path / "tones", per_class=1)
    FeatureStore(tmp_path / "cache").get(tones, tones.tracks, MFCC())
    store = FeatureStore(tmp_path / "cache")
    borrowed = store.get(tones, tones.tracks, BorrowedName())
    assert BorrowedName().key() == MFCC().key()
    assert store.misses == 3 and not any(features.any() for features in borrowed)


def test_the_plugin_passes_check_system(installed, capsys):
    assert main(["check-system", "demo.centroid"]) == 0
    assert "ok   single-label: fit returns self" in capsys.readouterr().out


def test_check_system_says_what_fails(installed, capsys):
    assert main(["check-system", "demo.centroid", "--param", "temperature=0"]) == 1
    assert _fail_line(capsys) == "FAIL demo.centroid: single-label:fit_predict: fit raised ValueError: temperature must be positive, got 0"


def _fail_line(capsys) -> str:
    """The one line check-system printed on stderr (nothing on stdout, no traceback)."""
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    return err.strip()


def test_check_system_names_a_parameter_the_system_does_not_have(installed, capsys):
    assert main(["check-system", "demo.centroid", "--param", "c=0.1"]) == 1
    line = _fail_line(capsys)
    assert line.startswith("FAIL demo.centroid: init_stores_params: ") and "no parameter 'c'" in line, line


class Doubling(System):
    """Alters its parameter in __init__, so sklearn's clone (which checks each parameter comes back unchanged) fails."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale * 2


class NeedsAnArgument(System):
    """Cannot be built with its defaults: it has none."""

    def __init__(self, width):
        self.width = width


@pytest.mark.parametrize("name, target, why", [
    ("test.doubling", "Doubling", "clone(system) raised RuntimeError: Cannot clone object"),
    ("test.needs-argument", "NeedsAnArgument", "constructing it with its defaults raised TypeError"),
])
def test_a_system_that_breaks_init_is_one_fail_line(name, target, why, capsys):
    systems.register(name, f"tests.test_plugin:{target}")
    assert main(["check-system", name]) == 1
    line = _fail_line(capsys)
    assert line.startswith(f"FAIL {name}: init_stores_params: {why}"), line


def class_folders(root: Path) -> Path:
    """A data root holding demo.folders/<class>/<file>.wav: the synthetic tones, four per class."""
    for track in synthetic_dataset(root.parent / "tones", per_class=4).tracks:
        folder = root / "demo.folders" / track.labels[0]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(track.path, folder / track.path.name)
    return root


def test_check_dataset_runs_the_dataset_contract(installed, tmp_path, capsys):
    assert main(["check-dataset", "demo.folders", "--data-root", str(class_folders(tmp_path / "data"))]) == 0
    out = capsys.readouterr().out
    assert "ok   builds from its parameters (12 tracks, 3 classes)" in out and "validate(): 12 of 12" in out
    assert main(["check-dataset", "demo.folders"]) == 1
    assert _fail_line(capsys).startswith("FAIL demo.folders: the dataset is read from disk: give --data-root DIR")


class Rootless(SyntheticDataset):
    """Takes no `root`, which every run passes: no suite could open it."""

    def __init__(self, per_class: int = 2):
        super().__init__(per_class=per_class)


def test_check_dataset_builds_the_dataset_as_runs_do(capsys):
    datasets.register("test.rootless", "tests.test_plugin:Rootless")
    assert main(["check-dataset", "test.rootless"]) == 1
    assert _fail_line(capsys).startswith("FAIL test.rootless: __init__ must take a `root` parameter")


def test_every_kind_of_plugin_component_runs_in_one_suite(installed, tmp_path, capsys):
    """demo-folders.toml: the plug-in's dataset, protocol, metric, and system on its frontend; run twice on one cache."""
    data = class_folders(tmp_path / "data")
    run = ["run", str(FIXTURE / "demo-folders.toml"), "--data-root", str(data), "--cache-dir", str(tmp_path / "cache"),
           "--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"]
    for results in ("first", "second"):
        assert main(run + ["--results", str(tmp_path / results)]) == 0
    assert "3 ran ok, 0 failed" in capsys.readouterr().out
    report = (tmp_path / "rep" / "demo-folders.md").read_text()
    assert "demo.every-nth (n=4)" in report and "| demo.top2_accuracy" in report and "| demo.chroma" in report
    for results, (hits, misses) in (("first", (0, 9)), ("second", (9, 0))):
        record = next(r for r in map(json.loads, map(Path.read_text, (tmp_path / results / "trials").glob("*.json")))
                      if r["variant"]["params"].get("frontend") == "demo.chroma")
        assert (record["timings"]["feature_cache_hits"], record["timings"]["feature_cache_misses"]) == (hits, misses)
        assert record["metrics"]["demo.top2_accuracy"] == 1.0


def test_the_plugin_runs_a_suite(installed, tmp_path, capsys):
    args = ["run", str(FIXTURE / "demo-quick.toml"), "--quick", "--results", str(tmp_path / "res")]
    assert main(args + ["--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"]) == 0
    assert "4 ran ok, 0 failed" in capsys.readouterr().out
    text = (tmp_path / "rep" / "demo-quick-quick.md").read_text()
    assert "Centroid (demo plug-in)" in text and "MFCC" in text


def test_the_plugin_is_submitted_verified_compared_and_ranked(installed, tmp_path, capsys):
    results, reports = tmp_path / "res", tmp_path / "rep"
    run = ["run", str(FIXTURE / "demo-quick.toml"), "--results", str(results), "--reports", str(reports)]
    assert main(run + ["--no-progress", "--device", "cpu"]) == 0
    submission = tmp_path / "demo.json"
    assert main(["submit", str(results), "--out", str(submission)]) == 0
    assert main(["verify", str(submission), "--suites-dir", str(FIXTURE)]) == 0
    assert "verified: 4 trial(s)" in capsys.readouterr().out
    assert main(["compare", str(results), "Centroid (demo plug-in)", "MFCC", "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "mcnemar" in out and "bootstrap" in out and "permutation" in out
    assert main(["leaderboard", str(submission), "--reports", str(reports), "--suites-dir", str(FIXTURE)]) == 0
    board = (reports / "leaderboard.md").read_text()
    heading = next(line for line in board.splitlines() if line.startswith("## ") and ": accuracy" in line)
    assert heading.startswith("## Synthetic data") and "Centroid (demo plug-in)" in board
    assert "submission:demo.json" in board and (reports / "leaderboard.html").exists()
    assert "## Significance" in (reports / "demo-quick.md").read_text()


def test_a_tampered_submission_is_kept_off_the_leaderboard(installed, tmp_path, capsys):
    results = tmp_path / "res"
    run = ["run", str(FIXTURE / "demo-quick.toml"), "--quick", "--results", str(results), "--reports", str(tmp_path)]
    assert main(run + ["--no-progress", "--device", "cpu"]) == 0
    submission = tmp_path / "demo.json"
    assert main(["submit", str(results), "--out", str(submission)]) == 0
    doc = json.loads(submission.read_text())
    doc["records"][0]["metrics"]["accuracy"] = 0.123
    submission.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["verify", str(submission), "--suites-dir", str(FIXTURE)]) == 1
    assert "accuracy is reported as 0.123" in capsys.readouterr().out
    assert main(["leaderboard", str(submission), "--reports", str(tmp_path)]) == 2  # nothing verified: nothing to rank
    assert "rejected" in capsys.readouterr().err
