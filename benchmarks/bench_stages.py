"""Where the time of a real-data run goes: each stage at 100, 1,000 and 10,000 clips (MagnaTagATune's 25,863 for
index and validate), on generated trees in the published layouts (`benchmarks/trees.py`).

Stages, as `mirbench run suites/gtzan-random-4fold.toml` meets them:
- index: `open_dataset` on the tree (GTZAN, MagnaTagATune, and the "folder" dataset on GTZAN's layout);
- validate: `Dataset.validate()` (header, first and last blocks, sample rate of every clip);
- decode: `Dataset.load_audio` of N 30 s WAV clips at 22050 Hz;
- frontend: the MFCC baseline's MFCC and the 128-band log-mel over N decoded 30 s clips, batched as
  `FeatureStore` batches them (a store without a cache directory, so no content-keyed cache is consulted);
- fit, predict: the suite's MFCC baseline (5 s windows every 2.5 s, random forest, majority vote) on
  N tracks' features of the real shape (1293 frames x 20 MFCCs), read from memory;
- report: `write_report` of a results directory with the suite's 2 systems x 4 folds, N test tracks a system.

Each `workload(stage, ...)` returns a function of no arguments that does the stage once; asv times it here,
and `benchmarks/stage_growth.py` prints its growth with N. The random forest trains `FOREST_TREES`
trees here (the suite's [quick] value), not the suite's 500: its cost is linear in the number of trees,
so the growth with N is the same, and 500 trees on 10,000 tracks' 110,000 windows would take most of an hour.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks import trees
from benchmarks.machine import THREADS, use_threads

CLIPS = [100, 1000, 10000]
INDEX_CLIPS = [100, 1000, 10000, trees.MTAT_FULL]
SUITE = Path(__file__).resolve().parent.parent / "suites" / "gtzan-random-4fold.toml"
MFCC_SYSTEM = "mfcc"  # the suite's first system
FOREST_TREES = 50  # the suite's [quick] n_estimators; the full suite trains 500 (see the module docstring)
FRONTEND_CHUNK = 256  # tracks per FeatureStore.get call: the returned features of one call stay small
MFCC_FRAMES, MFCC_DIMS = 1293, 20  # MFCCs of 30 s at 22050 Hz, hop 512


class Skip(NotImplementedError):
    """A parameter combination that does not exist (GTZAN has 1,000 clips); asv skips it."""


# -- index and validate -------------------------------------------------------------------------
def dataset_tree(dataset: str, n_clips: int) -> tuple[dict, Path]:
    """The suite [dataset] table and the data root of `dataset`'s tree at `n_clips` (built if needed)."""
    if dataset == "gtzan":
        if n_clips > 1000 or n_clips % 10:
            raise Skip(f"GTZAN has 1,000 clips, not {n_clips}")
        return trees.gtzan_spec(n_clips), trees.gtzan_tree(n_clips)
    if dataset == "folder":
        if n_clips > 10000:
            raise Skip("the folder tree goes to 10,000 clips")
        return {"name": "folder", "path": "gtzan/genres"}, trees.gtzan_tree(n_clips)
    if dataset == "mtat":
        return dict(trees.MTAT_SPEC), trees.mtat_tree(n_clips)
    raise ValueError(f"unknown dataset {dataset!r}")


def open_uncached(spec: dict, root: Path):
    """`open_dataset`, without its per-process cache (each call indexes the tree again)."""
    from mirbench.datasets import _open, open_dataset

    _open.cache_clear()
    return open_dataset(spec, root)


def index_workload(dataset: str, n_clips: int):
    spec, root = dataset_tree(dataset, n_clips)
    open_uncached(spec, root)  # imports and the registry outside the timing

    def index():
        if len(open_uncached(spec, root)) != n_clips:
            raise RuntimeError(f"the {dataset} index does not hold {n_clips} clips")

    return index


def validate_workload(dataset: str, n_clips: int):
    spec, root = dataset_tree(dataset, n_clips)
    ds = open_uncached(spec, root)

    def validate():
        report = ds.validate()
        if report.problems:
            raise RuntimeError(report.summary())

    return validate


# -- decode and frontend ------------------------------------------------------------------------
def clips_dataset(n_clips: int):
    """The `n_clips`-clip GTZAN-layout tree (hard links to a pool of 30 s WAVs), opened as the folder dataset."""
    return open_uncached({"name": "folder", "path": "gtzan/genres"}, trees.gtzan_tree(n_clips))


def decode_workload(n_clips: int):
    ds = clips_dataset(n_clips)
    ds.load_audio(ds.tracks[0], trees.GTZAN_RATE)

    def decode():
        for t in ds.tracks:
            ds.load_audio(t, trees.GTZAN_RATE)

    return decode


def pool_dataset(n_clips: int):
    """`n_clips` tracks whose audio is the pool's decoded 30 s clips, in turn: `FeatureStore` batches and runs the
    frontend on them exactly as on decoded files, without the decoding (the decode stage's) and without a cache."""
    from mirbench.audio import load_audio
    from mirbench.datasets.base import Dataset, Track

    pool = [load_audio(p, trees.GTZAN_RATE) for p in trees.gtzan_pool()]

    class PoolDataset(Dataset):
        def load_audio(self, track, sample_rate):
            return pool[int(track.id) % len(pool)]

    tracks = [Track(f"{i:05d}", Path(f"{i:05d}.wav"), (trees.GENRES[i % 10],)) for i in range(n_clips)]
    return PoolDataset(tracks, trees.GENRES, "single-label", trees.GTZAN_RATE, name="pool")


def make_frontend(name: str):
    from mirbench_baselines.mfcc import MFCCBaseline

    from mirbench.frontends import LogMel

    if name == "mfcc":
        return MFCCBaseline().frontend()
    if name == "logmel":
        return LogMel()
    raise ValueError(f"unknown frontend {name!r}")


def frontend_workload(name: str, n_clips: int):
    from mirbench.features import FeatureStore

    ds, frontend = pool_dataset(n_clips), make_frontend(name)
    store = FeatureStore(None)
    store.get(ds, ds.tracks[:2], frontend)  # lazy imports, filterbanks, torch's first call

    def extract():
        for start in range(0, len(ds.tracks), FRONTEND_CHUNK):
            feats = store.get(ds, ds.tracks[start : start + FRONTEND_CHUNK], frontend)
            del feats

    return extract


# -- fit and predict ----------------------------------------------------------------------------
class MemoryStore:
    """A FeatureStore stand-in holding each track's features in memory (what a warm cache returns)."""

    def __init__(self, features: dict[str, np.ndarray]):
        self.features = features

    def get(self, dataset, tracks, frontend, mmap: bool = False):
        return [self.features[t.id] for t in tracks]


def mfcc_system():
    """The suite's MFCC system with its parameters, training `FOREST_TREES` trees."""
    from mirbench_baselines.mfcc import MFCCBaseline

    from mirbench.suite import load_suite

    variant = next(v for v in load_suite(SUITE).variants if v.system == MFCC_SYSTEM)
    return MFCCBaseline(**{**variant.params, "n_estimators": FOREST_TREES})


def feature_tracksets(n_clips: int, seed: int = 0):
    """(train, test) TrackSets of `n_clips` tracks each, with MFCC-shaped features: per genre a mean and noise,
    so that the forest grows trees as it would on real features."""
    from mirbench.datasets.base import Dataset, Track
    from mirbench.system import TrackSet

    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (len(trees.GENRES), MFCC_DIMS)).astype(np.float32)
    features, sets = {}, []
    for part in ("train", "test"):
        tracks = []
        for i in range(n_clips):
            tid = f"{part}{i:05d}"
            genre = i % len(trees.GENRES)
            drift = rng.normal(0, 1, (1, MFCC_DIMS)).astype(np.float32)
            features[tid] = centres[genre] + drift + rng.normal(0, 2, (MFCC_FRAMES, MFCC_DIMS)).astype(np.float32)
            tracks.append(Track(tid, Path(tid), (trees.GENRES[genre],)))
        sets.append(tracks)
    ds = Dataset(sets[0] + sets[1], trees.GENRES, "single-label", trees.GTZAN_RATE, name="features")
    store = MemoryStore(features)
    return TrackSet(ds, sets[0], store), TrackSet(ds, sets[1], store)


def fit_workload(n_clips: int):
    train, _ = feature_tracksets(n_clips)

    def fit():
        mfcc_system().fit(train)

    return fit


def predict_workload(n_clips: int):
    train, test = feature_tracksets(n_clips)
    system = mfcc_system().fit(train)
    system.predict(test)

    def predict():
        if system.predict(test).shape != (n_clips, len(trees.GENRES)):
            raise RuntimeError("predict returned the wrong shape")

    return predict


# -- report ---------------------------------------------------------------------------------------
def write_results(folder: Path, n_tracks: int, seed: int = 0) -> Path:
    """A results directory of the suite as `mirbench run` writes it: both systems x 4 folds of a k-fold rotation
    over `n_tracks` tracks (so N test tracks a system), records built by mirbench.record with made-up scores."""
    from mirbench.metrics import evaluate
    from mirbench.protocols import Fold
    from mirbench.provenance import provenance
    from mirbench.record import (
        finished,
        new_record,
        started,
        timings,
        with_data,
        with_fold,
        with_machine,
        with_result,
    )
    from mirbench.registry import systems
    from mirbench.results import ResultStore
    from mirbench.run.identity import digest
    from mirbench.run.trial import TrialSpec, trial_id
    from mirbench.suite import load_suite

    suite = load_suite(SUITE)
    store = ResultStore(folder)
    rng = np.random.default_rng(seed)
    ids = [f"{trees.GENRES[i % 10]}.{i:05d}" for i in range(n_tracks)]
    genre = np.arange(n_tracks) % 10
    quarter = rng.permutation(n_tracks) % 4
    machine = provenance("cpu")
    describe = {"name": "gtzan", "params": {}, "task": "single-label", "classes": list(trees.GENRES),
                "n_tracks": n_tracks, "sample_rate": trees.GTZAN_RATE, "fingerprint": "0" * 16}
    plan = {}
    for skill, variant in zip((0.6, 0.7), suite.variants):
        for k in range(4):
            part = {"test": quarter == k, "valid": quarter == (k + 1) % 4}
            part["train"] = ~(part["test"] | part["valid"])
            fold = Fold(k, **{name: [ids[i] for i in np.flatnonzero(mask)] for name, mask in part.items()})
            spec = TrialSpec(trial_id(variant, fold, 0), variant, fold, 0, suite.dataset, None, suite.protocol,
                             suite.describe(), tuple(suite.metrics), None, "cpu", 1, False)
            record = with_machine(started(new_record(spec), spec), machine, "fp32")
            with_data(record, describe, None)
            counts = {name: {g: int(np.sum(genre[mask] == j)) for j, g in enumerate(trees.GENRES)}
                      for name, mask in part.items()}
            with_fold(record, {name: int(mask.sum()) for name, mask in part.items()}, counts)
            test = np.flatnonzero(part["test"])
            truth = genre[test]
            guess = np.where(rng.random(len(test)) < skill, truth, rng.integers(0, 10, len(test)))
            scores = rng.dirichlet(np.ones(10), len(test)) * 0.5
            scores[np.arange(len(test)), guess] += 0.5
            values = evaluate(truth, scores, "single-label", list(suite.metrics))
            predictions = {"track_ids": [ids[i] for i in test], "scores": scores, "truth": truth}
            watch = {"fit": 10.0, "predict": 2.0}
            with_result(record, values, predictions, systems.get(variant.system)(), timings(5.0, 4.0, watch, 0, len(ids)))
            store.write(finished(record))
            plan[spec.trial_id] = digest(spec.identity)
    store.write_plan(plan)
    store.write_suite({**suite.data, "name": suite.name, "hash": suite.hash(), "quick_run": False})
    return folder


def report_workload(n_clips: int, folder: Path | None = None):
    from mirbench.report import write_report

    folder = Path(folder or tempfile.mkdtemp(prefix=f"report-{n_clips}-"))
    results = write_results(folder / "results", n_clips)
    write_report(results, folder / "first")  # matplotlib's and the report modules' imports outside the timing

    def report():
        write_report(results, folder / "reports")

    return report


# -- asv ------------------------------------------------------------------------------------------
STAGES = {
    "index": index_workload,
    "validate": validate_workload,
    "decode": decode_workload,
    "frontend": frontend_workload,
    "fit": fit_workload,
    "predict": predict_workload,
    "report": report_workload,
}


def workload(stage: str, *args):
    """The function of no arguments that does `stage` once on the given parameters (see the module docstring)."""
    return STAGES[stage](*args)


class _Heavy:
    """asv settings for work of seconds to minutes: one call a sample, few samples, no warm-up; setup in-process."""

    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0
    processes = 1
    timeout = 1800
    version = 1

    def setup_cache(self):
        for n in CLIPS:
            trees.gtzan_tree(n)
        for n in INDEX_CLIPS:
            trees.mtat_tree(n)


class _DatasetStage(_Heavy):
    params = (["gtzan", "mtat", "folder"], INDEX_CLIPS, THREADS)
    param_names = ("dataset", "clips", "threads")
    stage = ""

    def setup(self, dataset, clips, threads):
        use_threads(threads)
        self.run = workload(self.stage, dataset, clips)


class Index(_DatasetStage):
    """`open_dataset` on the tree: GTZAN (to its 1,000 clips), MagnaTagATune, the folder dataset."""

    stage = "index"

    def time_index(self, dataset, clips, threads):
        self.run()


class Validate(_DatasetStage):
    """`Dataset.validate()`: every clip's header, first and last blocks and sample rate."""

    stage = "validate"

    def time_validate(self, dataset, clips, threads):
        self.run()


class Decode(_Heavy):
    """`load_audio` of N 30 s mono WAV clips at 22050 Hz (GTZAN's format, no resampling)."""

    params = (CLIPS, THREADS)
    param_names = ("clips", "threads")

    def setup(self, clips, threads):
        use_threads(threads)
        self.run = workload("decode", clips)

    def time_decode(self, clips, threads):
        self.run()


class Frontend(_Heavy):
    """The MFCC baseline's MFCCs and 128-band log-mel of N decoded 30 s clips, through FeatureStore's batches."""

    params = (["mfcc", "logmel"], CLIPS, THREADS)
    param_names = ("frontend", "clips", "threads")

    def setup(self, frontend, clips, threads):
        use_threads(threads)
        self.run = workload("frontend", frontend, clips)

    def time_frontend(self, frontend, clips, threads):
        self.run()


class FitPredict(_Heavy):
    """The suite's MFCC baseline (random forest of FOREST_TREES trees) fitted on N tracks, predicting N."""

    params = (["fit", "predict"], CLIPS, THREADS)
    param_names = ("step", "clips", "threads")

    def setup(self, step, clips, threads):
        use_threads(threads)
        self.run = workload(step, clips)

    def time_step(self, step, clips, threads):
        self.run()


class Report(_Heavy):
    """`write_report` of the suite's results, 2 systems x 4 folds, N test tracks a system (significance included)."""

    params = (CLIPS, THREADS)
    param_names = ("clips", "threads")

    def setup(self, clips, threads):
        use_threads(threads)
        self.folder = tempfile.mkdtemp(prefix="report-")
        self.run = workload("report", clips, Path(self.folder))

    def teardown(self, clips, threads):
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)

    def time_report(self, clips, threads):
        self.run()
