"""The feature stage: the features the planned trials declare are computed once, before them, into the run's cache;
the trials then read them, and no result changes. Also: the systems' hook, the stage lines a run prints, and
validation's progress callback."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from mirbench.audio import AudioError
from mirbench.datasets import open_dataset
from mirbench.datasets.base import Dataset, validation_progress
from mirbench.frontends import MFCC, LogMel
from mirbench.results import ResultStore
from mirbench.run import RunOptions, run_suite
from mirbench.run import feature_stage as stage
from mirbench.run.plan import plan
from mirbench.suite import load_suite
from mirbench.system import System
from mirbench.testing import SyntheticDataset

TWO_FRONTENDS = """
version = "1"
seeds = [0]
metrics = ["accuracy", "roc_auc_macro"]
[dataset]
name = "synthetic"
per_class = 6
[protocol]
name = "stratified-kfold"
folds = 2
[[systems]]
name = "mfcc"
grid = { C = [1.0, 10.0] }
[[systems]]
name = "pmsc"
params = { n_components = 16 }
[quick]
tracks_per_class = 3
folds = 1
"""


def run(path, results: Path, cache: Path, monkeypatch, **kw):
    monkeypatch.setenv("MIRBENCH_CACHE", str(cache))
    options = RunOptions(results=results, progress=False, device="cpu", **kw)
    return run_suite(load_suite(path), options), ResultStore(results)


def planned(path, cache: Path, monkeypatch, quick: bool = False, skipped: dict | None = None):
    monkeypatch.setenv("MIRBENCH_CACHE", str(cache))
    suite = load_suite(path)
    dataset = open_dataset(suite.dataset)
    return plan(suite, dataset, RunOptions(device="cpu", quick=quick), skipped or {}), dataset


def entries(cache: Path) -> dict[str, bytes]:
    """Every cached feature array and record under `cache`, by path below features/."""
    root = cache / "features"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.suffix in (".npy", ".json")}


def no_stage(*args, **kwargs):
    return stage.StageReport(skipped="turned off by the test")


def test_a_run_through_the_stage_gives_the_same_bytes_as_one_without(write_suite, tmp_path, monkeypatch):
    """Same metrics and scores, byte for byte, and the same cache entries; the trials of the staged run computed
    nothing themselves."""
    suite = write_suite(TWO_FRONTENDS)
    staged, staged_store = run(suite, tmp_path / "staged", tmp_path / "cache-a", monkeypatch)
    assert staged.features.computed == 18 * 2 and staged.features.frontends == ["mfcc", "logmel"]
    monkeypatch.setattr("mirbench.run.runner.run_stage", no_stage)
    plain, plain_store = run(suite, tmp_path / "plain", tmp_path / "cache-b", monkeypatch)
    assert staged.ok == plain.ok == 6 and plain.features.skipped == "turned off by the test"

    def outcome(store):
        return {r["trial_id"]: json.dumps([r["metrics"], r["predictions"]], sort_keys=True) for r in store.records()}

    assert outcome(staged_store) == outcome(plain_store)
    assert all(r["timings"]["feature_cache_misses"] == 0 for r in staged_store.records())
    assert any(r["timings"]["feature_cache_misses"] > 0 for r in plain_store.records())
    assert entries(tmp_path / "cache-a") == entries(tmp_path / "cache-b")


def test_frontends_are_deduplicated_across_variants_and_tracks_are_the_usable_union(write_suite, tmp_path, monkeypatch):
    """--quick keeps 3 tracks per class (whole groups of 2: 4) of one fold; a skipped track is left out."""
    specs, dataset = planned(write_suite(TWO_FRONTENDS), tmp_path / "cache", monkeypatch, quick=True)
    keep = sorted(specs[0].keep)
    victim = keep[0]
    specs = [replace(s, skipped={victim: "unreadable"}) for s in specs]
    needs = stage.needed(specs, dataset)
    assert [type(f) for f, _ in needs] == [MFCC, LogMel]  # two MFCC variants (C = 1, 10), one frontend
    union = set().union(*(s.usable(s.fold.train + s.fold.valid + s.fold.test) for s in specs))
    assert victim not in union and len(union) == len(keep) - 1 == 3 * 4 - 1
    for _, ids in needs:
        assert ids == [t.id for t in dataset.tracks if t.id in union]


def test_two_workers_compute_every_entry_once_and_a_second_stage_finds_them_cached(write_suite, tmp_path, monkeypatch):
    specs, dataset = planned(write_suite(TWO_FRONTENDS), tmp_path / "cache", monkeypatch)
    lines = []
    report = stage.run_stage(specs, dataset, workers=2, progress=False, say=lambda line, **kw: lines.append(line))
    assert (report.tracks, report.computed, report.cached, report.failed, report.errors) == (18, 36, 0, {}, [])
    assert lines == ["features: 18 tracks x 2 frontends (mfcc, logmel), 0 entries already cached; "
                     "computing the rest in 2 worker processes"]
    assert len([p for p in entries(tmp_path / "cache") if p.endswith(".npy")]) == 36
    again = stage.run_stage(specs, dataset, workers=2, progress=False, say=lines.append)
    assert (again.computed, again.cached) == (0, 36) and lines[-1].endswith("36 entries already cached")


def test_a_track_whose_audio_fails_is_reported_once_and_the_others_are_computed(write_suite, tmp_path, monkeypatch):
    specs, dataset = planned(write_suite(TWO_FRONTENDS), tmp_path / "cache", monkeypatch)
    victim = dataset.tracks[4]
    original = SyntheticDataset.load_audio

    def load_audio(self, track, sample_rate):
        if track.id == victim.id:
            raise AudioError(f"{track.path}: cannot decode audio (a test's)")
        return original(self, track, sample_rate)

    monkeypatch.setattr(SyntheticDataset, "load_audio", load_audio)
    warnings = []
    report = stage.run_stage(specs, dataset, workers=1, progress=False,
                             say=lambda line, warning=False: warning and warnings.append(line))
    assert list(report.failed) == [victim.id] and report.computed == 17 * 2  # both frontends, without it
    said = f"features: track {victim.id!r}: {victim.path}: cannot decode audio (a test's) (its trials skip it)"
    assert warnings[0] == said
    assert len(warnings) == 2 and warnings[1].startswith("features: 1 track(s) with unusable audio, 0 other error(s)")


def test_a_frontend_error_is_one_line_and_leaves_the_features_to_the_trials(write_suite, tmp_path, monkeypatch):
    specs, dataset = planned(write_suite(TWO_FRONTENDS), tmp_path / "cache", monkeypatch)

    def broken(self, audio, lengths=None):
        raise RuntimeError("this frontend is broken")

    monkeypatch.setattr(LogMel, "__call__", broken)
    report = stage.run_stage(specs, dataset, workers=1, progress=False, say=lambda *a, **kw: None)
    assert report.errors == ["features logmel: RuntimeError: this frontend is broken"]  # 2 chunks, one line
    assert report.computed == 18 and not report.failed  # the MFCCs


def test_a_stage_that_fails_outright_does_not_stop_the_run(write_suite, tmp_path, monkeypatch):
    def explode(chunk, dataset=None):
        raise OSError("disk on fire")

    monkeypatch.setattr(stage, "compute_chunk", explode)
    summary, _ = run(write_suite(TWO_FRONTENDS), tmp_path / "res", tmp_path / "cache", monkeypatch)
    assert summary.ok == 6 and summary.features.skipped == "OSError: disk on fire"


def test_without_a_cache_directory_the_stage_is_skipped_and_says_why(write_suite, tmp_path, monkeypatch):
    specs, dataset = planned(write_suite(TWO_FRONTENDS), tmp_path / "cache", monkeypatch)
    lines = []
    report = stage.run_stage([replace(s, cache_dir=None) for s in specs], dataset, 1, False, lines.append)
    assert report.skipped.startswith("no feature cache directory")
    assert lines == [f"features: skipped ({report.skipped})"]


def test_a_run_says_each_stage_as_it_starts(write_suite, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MIRBENCH_CACHE", str(tmp_path / "cache"))
    options = RunOptions(results=tmp_path / "res", progress=True, device="cpu", quick=True)
    run_suite(load_suite(write_suite(TWO_FRONTENDS)), options)
    lines = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if line.startswith("mirbench:")]
    assert lines == [
        "mirbench: indexing dataset synthetic...",
        "mirbench: validating 18 tracks...",
        "mirbench: planning the trials of smoke...",
        "mirbench: features: 12 tracks x 2 frontends (mfcc, logmel), 0 entries already cached; "
        "computing the rest in this process",
        "mirbench: trials: 3 to run, 0 already done",
    ]


class Declares(System):
    def __init__(self, n_mfcc: int = 13):
        self.n_mfcc = n_mfcc

    def frontend(self):
        return MFCC(n_mfcc=self.n_mfcc)


class NamesItsFrontend(System):
    def __init__(self, frontend: str = "mfcc"):
        self.frontend = frontend


class LeavesItToSubclasses(System):
    def frontend(self):
        raise NotImplementedError


def test_the_hook_defaults_to_the_systems_frontend_method():
    assert [f.n_mfcc for f in Declares(7).feature_frontends()] == [7]
    assert NamesItsFrontend().feature_frontends() == []  # a parameter called frontend is not a method
    assert LeavesItToSubclasses().feature_frontends() == [] and System().feature_frontends() == []


class Overrides(Dataset):
    def validate(self):
        return super().validate()


def test_validation_reports_progress_per_track_also_through_an_override(tmp_path):
    from mirbench.testing import synthetic_dataset

    tones = synthetic_dataset(tmp_path / "tones", per_class=2, seconds=0.5)
    counted = []
    assert tones.validate(progress=counted.append).ok and counted == [1] * 6
    overridden = Overrides(tones.tracks, tones.classes, tones.task, tones.sample_rate)
    with validation_progress(counted.append):
        assert overridden.validate().ok
    assert counted == [1] * 12
    overridden.validate()
    assert len(counted) == 12  # outside the block, nothing is called


def test_stage_features_equal_the_features_a_store_computes_alone(write_suite, tmp_path, monkeypatch):
    """The entries the stage writes are what FeatureStore.get gives in one call of all tracks, to the bit."""
    from mirbench.features import FeatureStore

    specs, dataset = planned(write_suite(TWO_FRONTENDS), tmp_path / "cache", monkeypatch)
    stage.run_stage(specs, dataset, workers=1, progress=False, say=lambda *a, **kw: None)
    store = FeatureStore(tmp_path / "cache")
    for frontend, _ in stage.needed(specs, dataset):
        alone = FeatureStore(None).get(dataset, dataset.tracks, frontend)
        for track, features in zip(dataset.tracks, alone):
            assert np.array_equal(np.load(store.entry_path(dataset, track, frontend)), features)
