"""End to end: one quickstart trial (audio -> MFCC features -> MFCC baseline -> metrics), tracks per second.

The quickstart suite's MFCC system and 4-fold protocol on 24 synthetic 30 s
tracks (three tone classes), with a cold feature cache on every call so that
decoding and feature extraction count, as on a first run.
"""

import dataclasses
import os
import tempfile
from pathlib import Path

from benchmarks.machine import THREADS, best_seconds, use_threads

SUITE = """
name = "bench-end-to-end"
version = "1"
seeds = [0]
metrics = ["accuracy", "roc_auc_macro"]

[dataset]
name = "synthetic"
per_class = 8
seconds = 30.0

[protocol]
name = "stratified-kfold"
folds = 4
proportions = "k-fold"

[[systems]]
name = "mfcc"
"""


class QuickstartTrial:
    params = (THREADS,)
    param_names = ("threads",)
    version = 2
    timeout = 600

    def setup_cache(self):
        folder = Path(tempfile.mkdtemp(prefix="mirbench-bench-e2e-"))
        (folder / "suite.toml").write_text(SUITE)
        return str(folder)

    def setup(self, folder, threads):
        os.environ["MIRBENCH_CACHE"] = folder  # the synthetic audio is written here once
        from mirbench.datasets import open_dataset
        from mirbench.runner import RunOptions, plan
        from mirbench.suite import load_suite

        use_threads(threads)
        suite = load_suite(Path(folder) / "suite.toml")
        dataset = open_dataset(suite.dataset, None)
        spec = plan(suite, dataset, RunOptions(device="cpu"), {})[0]
        self.spec = dataclasses.replace(spec, threads=threads)
        self.tracks = len(spec.fold.train) + len(spec.fold.valid) + len(spec.fold.test)
        self.folder = folder
        self._trial()  # imports (scikit-learn, librosa, soundfile) outside the timing

    def _trial(self):
        from mirbench.trial import execute

        with tempfile.TemporaryDirectory(dir=self.folder) as cache:  # cold features every time
            record = execute(dataclasses.replace(self.spec, cache_dir=cache))
        if record["status"] != "ok":
            raise RuntimeError(record["error"]["message"])

    def time_trial(self, folder, threads):
        self._trial()

    def track_tracks_per_second(self, folder, threads):
        return self.tracks / best_seconds(self._trial, repeats=3)

    track_tracks_per_second.unit = "tracks/s"
