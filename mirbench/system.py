"""The system contract: an sklearn-style estimator over tracks, and the view of a split it is given.

A system stores its parameters in `__init__` and nothing else, learns in
`fit(train, valid)` (state ending in `_`), and returns one row of class or tag
scores per track from `predict(tracks)`.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from typing import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator

from mirbench.datasets.base import Dataset, Track


class TrackSet:
    """The tracks of one split as a system sees them: ids, targets, and cached features.

    Features come through the run's FeatureStore, so every system that asks
    for the same frontend on the same audio shares one cached computation.
    """

    def __init__(
        self,
        dataset: Dataset,
        tracks: Sequence[Track],
        store,
        device: str | torch.device = "cpu",
        data_root: str | None = None,
        precision: str = "fp32",
    ):
        self.dataset = dataset
        self.tracks = list(tracks)
        self.store = store
        self.device = torch.device(device)
        self.data_root = data_root  # for systems that open another dataset (pre-training, transfer)
        self.precision = precision  # "bf16" or "fp32": what networks train in (mirbench.device.autocast)

    def __len__(self) -> int:
        return len(self.tracks)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tracks]

    def split_key(self) -> str:
        """A hash of the dataset, these track ids and their audio files' bytes: names what a model was trained on
        (for model caches), so a model trained before a file was replaced is not reused."""
        from mirbench.content import content_hashes

        h = hashlib.sha256(self.dataset.fingerprint().encode())
        h.update(json.dumps(self.dataset.params, sort_keys=True, default=str).encode())  # e.g. clip_seconds
        for tid, digest in zip(self.ids, content_hashes([t.path for t in self.tracks])):
            h.update(b"\0" + tid.encode() + b"\0" + digest.encode())
        return h.hexdigest()[:16]

    def with_tracks(self, tracks: Sequence[Track]) -> "TrackSet":
        """The same dataset, store, device and precision, other tracks."""
        return TrackSet(self.dataset, tracks, self.store, self.device, self.data_root, self.precision)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.dataset.classes

    @property
    def task(self) -> str:
        return self.dataset.task

    @property
    def multilabel(self) -> bool:
        return self.dataset.task == "multi-label"

    @property
    def targets(self) -> np.ndarray:
        """Class indices (n,) or a 0/1 tag matrix (n, C)."""
        return self.dataset.targets(self.tracks)

    def features(self, frontend, mmap: bool = False) -> list[np.ndarray]:
        """One (frames, dims) array per track, from the cache when it has them (read-only memory maps if `mmap`)."""
        return self.store.get(self.dataset, self.tracks, frontend, mmap=mmap)

    def audio(self, sample_rate: int) -> list[np.ndarray]:
        """Decoded mono audio per track (uncached; prefer `features(Waveform(...))`)."""
        return [self.dataset.load_audio(t, sample_rate) for t in self.tracks]


class System(BaseEstimator):
    """Base class of every system: `get_params`/`set_params`/`clone` come from scikit-learn.

    Subclasses implement `fit(train, valid) -> self` and `predict(tracks) -> (n, C)`.
    Systems with learned weights report their size through `n_parameters()`.
    """

    def fit(self, train: TrackSet, valid: TrackSet | None = None) -> "System":
        raise NotImplementedError

    def predict(self, tracks: TrackSet) -> np.ndarray:
        raise NotImplementedError

    def feature_frontends(self) -> list:
        """The frontends whose features `fit` and `predict` read through `tracks.features`, so that a run computes
        them once, before its trials and across its workers (mirbench.run.feature_stage), and the trials read the
        cache. Default: `[self.frontend()]` for a system with a `frontend()` method, else [].

        Only frontends fixed by the parameters belong here: a system whose features depend on fitting (a frontend
        built or loaded in `fit`) must return []. Declaring a frontend costs extraction time at most; the features
        are the ones the trial would compute itself, so no result changes.
        """
        frontend = getattr(self, "frontend", None)
        if not callable(frontend):  # none, or a parameter of that name (a frontend's registered name, say)
            return []
        try:
            return [frontend()]
        except NotImplementedError:  # a base class that leaves it to its subclasses
            return []

    def n_parameters(self) -> int | None:
        """Number of learned parameters, where the notion applies."""
        return None

    def training_info(self) -> dict:
        """Numbers about training worth reporting (epochs, optimiser steps, seconds); recorded with the result."""
        return {}

    def diagnostics(self) -> dict:
        """Learned quantities worth a picture (e.g. the spectra of first-layer filters), JSON-able; stored with
        the result, drawn by the report when it knows the kind.

        Known kinds: "filter_spectra": {"sample_rate": int, "spectra": filters x bins from 0 Hz to
        sample_rate / 2 inclusive, non-negative}.
        """
        return {}

    def estimate_cost(self, n_train: int, n_valid: int, n_test: int, calibration) -> float:
        """Seconds to fit on `n_train` (+ `n_valid`) tracks and score `n_test`, features excluded, for `mirbench
        plan`. `calibration` (mirbench.run.calibrate.Measured) holds this variant's tiny-subset fit on this machine;
        by default its seconds are scaled (a fixed part and a part per track, from fits at two tiny sizes; a windowed
        network's seconds per update, to its update budget). A system whose cost grows otherwise overrides this."""
        return calibration.seconds(self, n_train, n_valid, n_test)


def is_int(value, low: int = 1) -> bool:
    """An integer (numpy's too; not a bool) of at least `low`: the test every integer system parameter gets."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= low


def check_positive_ints(system, names) -> None:
    """Raise ValueError naming the first of `system`'s parameters `names` that is not a positive integer."""
    for name in names:
        value = getattr(system, name)
        if not is_int(value):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


class Stopwatch:
    """Accumulates wall-clock seconds of named phases."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def time(self, phase: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start
