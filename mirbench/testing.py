"""Conformance checks every system must pass, and a tiny synthetic dataset to run them on.

`check_system(factory)` is mirbench's `check_estimator`: the test-suite runs it
over every baseline, and contributors run it (`mirbench check-system`) on theirs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from sklearn.base import clone

from mirbench.dataset import Dataset, DatasetError, Track
from mirbench.system import TrackSet

TONES = {"low": 220.0, "mid": 660.0, "high": 1980.0}


def synthetic_dataset(
    root: str | Path, task: str = "single-label", per_class: int = 6, seconds: float = 2.0, sample_rate: int = 22050, seed: int = 0
) -> Dataset:
    """Tones in noise written as WAV files: classes (or tags) are the tones present; learnable in seconds."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    names = list(TONES)
    tracks = []
    for c, name in enumerate(names):
        for k in range(per_class):
            if task == "single-label":
                labels = (name,)
            else:  # each track carries its own tone plus, on odd ones, the next one
                labels = (name,) + ((names[(c + 1) % len(names)],) if k % 2 else ())
            y = 0.05 * rng.standard_normal(len(t))
            for lab in labels:
                y += 0.3 * np.sin(2 * np.pi * TONES[lab] * (1 + 0.02 * rng.standard_normal()) * t)
            path = root / f"{name}.{k:03d}.wav"
            if not path.exists():  # written once, atomically: parallel workers may open the same dataset
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                sf.write(tmp, y.astype(np.float32), sample_rate, subtype="PCM_16", format="WAV")
                os.replace(tmp, path)
            tracks.append(Track(f"{name}.{k:03d}", path, tuple(sorted(labels)), group=f"{name}-{k // 2}"))
    return Dataset(tracks, sorted(names), task, sample_rate, name=f"synthetic-{task}")


class SyntheticDataset(Dataset):
    """The synthetic tones as a registered dataset ("synthetic"), for smoke tests of whole runs.

    Files are written once under `<cache>/synthetic/<parameters>/`.
    """

    name = "synthetic"

    @classmethod
    def task_for(cls, params: dict):
        return params.get("task", "single-label")

    def __init__(self, task: str = "single-label", per_class: int = 6, seconds: float = 2.0, seed: int = 0, root=None):
        from mirbench.features import default_cache_dir

        if task not in ("single-label", "multi-label"):
            raise DatasetError(f"synthetic dataset task must be 'single-label' or 'multi-label', got {task!r}")
        folder = Path(default_cache_dir()) / "synthetic" / f"{task}-{per_class}-{seconds}-{seed}"
        built = synthetic_dataset(folder, task, per_class, seconds, seed=seed)
        params = {"task": task, "per_class": per_class, "seconds": seconds, "seed": seed}
        super().__init__(built.tracks, built.classes, task, built.sample_rate, name="synthetic", params=params)


class ConformanceError(AssertionError):
    """A system breaks the system contract; the message says which rule and how."""


def _split(dataset: Dataset, store, device="cpu") -> tuple[TrackSet, TrackSet, TrackSet]:
    parts = {"train": [], "valid": [], "test": []}
    for i, t in enumerate(dataset.tracks):
        parts[("train", "train", "train", "valid", "test", "test")[i % 6]].append(t)
    return tuple(TrackSet(dataset, parts[p], store, device) for p in ("train", "valid", "test"))


def check_init_stores_params(factory) -> None:
    system = factory()
    params = system.get_params(deep=False)
    extra = sorted(k for k in vars(system) if k not in params)
    if extra:
        raise ConformanceError(f"__init__ must only store its parameters; it also set {extra}")
    learned = sorted(k for k in vars(system) if k.endswith("_"))
    if learned:
        raise ConformanceError(f"__init__ set learned state {learned}; set it in fit")
    copy = clone(system)
    if copy.get_params(deep=False) != params:
        raise ConformanceError("clone(system) does not reproduce its parameters; store each __init__ argument unchanged")


def check_fit_predict(factory, dataset: Dataset, store, params: dict) -> np.ndarray:
    train, valid, test = _split(dataset, store)
    system = factory(**params)
    fitted = system.fit(train, valid)
    if fitted is not system:
        raise ConformanceError("fit must return self")
    scores = np.asarray(system.predict(test))
    expected = (len(test), len(dataset.classes))
    if scores.shape != expected:
        raise ConformanceError(f"predict returned shape {scores.shape} on {dataset.task} data, expected {expected}")
    if not np.all(np.isfinite(scores)):
        raise ConformanceError("predict returned non-finite scores")
    n = system.n_parameters()
    if n is not None and (not isinstance(n, (int, np.integer)) or n < 0):
        raise ConformanceError(f"n_parameters() must return a non-negative int or None, got {n!r}")
    return scores


def check_system(factory, params: dict | None = None, tasks=("single-label", "multi-label"), workdir=None) -> list[str]:
    """Run the system contract on synthetic data; returns the checks passed, raises ConformanceError on the first failure.

    `params` are passed to every construction, over the system's own
    `SMOKE_PARAMS` (a class attribute: settings small enough for seconds-long
    checks, e.g. few epochs; a system whose defaults train for hours declares them).
    """
    from mirbench.features import FeatureStore

    params = {**getattr(factory, "SMOKE_PARAMS", {}), **(params or {})}
    passed = []
    check_init_stores_params(factory)
    passed.append("__init__ stores parameters only; clone() round-trips")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        store = FeatureStore(Path(tmp) / "cache")
        for task in tasks:
            dataset = synthetic_dataset(Path(tmp) / task, task=task)
            first = check_fit_predict(factory, dataset, store, params)
            passed.append(f"{task}: fit returns self; predict gives finite (n, C) scores")
            if "random_state" in factory().get_params():
                again = check_fit_predict(factory, dataset, store, {**params, "random_state": 0})
                first = check_fit_predict(factory, dataset, store, {**params, "random_state": 0})
                if not np.allclose(first, again, atol=1e-6):
                    raise ConformanceError(f"{task}: two fits with random_state=0 gave different scores")
                passed.append(f"{task}: deterministic under random_state")
    return passed
