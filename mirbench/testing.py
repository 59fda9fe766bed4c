"""Conformance checks every system must pass, and a tiny synthetic dataset to run them on.

`check_system(factory)` is mirbench's `check_estimator`: the test-suite runs it
over every baseline, and contributors run it (`mirbench check-system`) on theirs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from sklearn.base import clone

from mirbench.datasets.base import Dataset, DatasetError, Track
from mirbench.suite.params import accepted_params
from mirbench.suite.schema import nearest
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
        from mirbench.cache import cache_root

        if task not in ("single-label", "multi-label"):
            raise DatasetError(f"synthetic dataset task must be 'single-label' or 'multi-label', got {task!r}")
        folder = cache_root() / "synthetic" / f"{task}-{per_class}-{seconds}-{seed}"
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


def check_init_stores_params(factory, params: dict | None = None) -> None:
    """Built with `params` (its defaults for the others), the system holds exactly its parameters, and clones."""
    given = dict(params or {})
    names, open_ended = accepted_params(factory)
    unknown = sorted(k for k in given if k not in names)
    if unknown and not open_ended:
        raise ConformanceError(f"it has no parameter {unknown[0]!r}{nearest(unknown[0], names)} "
                               f"(parameters: {', '.join(sorted(names)) or 'none'})")
    system = _calling("constructing it" + (f" with {sorted(given)}" if given else " with its defaults"), factory, **given)
    params = _calling("get_params", system.get_params, deep=False)
    extra = sorted(k for k in vars(system) if k not in params)
    if extra:
        raise ConformanceError(f"__init__ must only store its parameters; it also set {extra}")
    learned = sorted(k for k in vars(system) if k.endswith("_"))
    if learned:
        raise ConformanceError(f"__init__ set learned state {learned}; set it in fit")
    copy = _calling("clone(system)", clone, system)  # sklearn's clone raises when __init__ changes a parameter
    if copy.get_params(deep=False) != params:
        raise ConformanceError("clone(system) does not reproduce its parameters; store each __init__ argument unchanged")


def _calling(step: str, function, *args, **kwargs):
    """`function(*args, **kwargs)`; an exception raised by the system under test fails the check and names the step
    (chained, so --verbose still shows where in the system it was raised)."""
    try:
        return function(*args, **kwargs)
    except ConformanceError:
        raise
    except Exception as exc:  # the system's own code: whatever it raises is its failure, not mirbench's
        raise ConformanceError(f"{step} raised {type(exc).__name__}: {exc}") from exc


def check_fit_predict(factory, dataset: Dataset, store, params: dict) -> np.ndarray:
    train, valid, test = _split(dataset, store)
    system = _calling("constructing it", factory, **params)
    fitted = _calling("fit", system.fit, train, valid)
    if fitted is not system:
        raise ConformanceError("fit must return self")
    scores = np.asarray(_calling("predict", system.predict, test))
    expected = (len(test), len(dataset.classes))
    if scores.shape != expected:
        raise ConformanceError(f"predict returned shape {scores.shape} on {dataset.task} data, expected {expected}")
    if not np.all(np.isfinite(scores)):
        raise ConformanceError("predict returned non-finite scores")
    n = system.n_parameters()
    if n is not None and (not isinstance(n, (int, np.integer)) or n < 0):
        raise ConformanceError(f"n_parameters() must return a non-negative int or None, got {n!r}")
    return scores


def system_checks(factory, params: dict | None = None, tasks=("single-label", "multi-label")) -> list[tuple[str, Callable]]:
    """The system contract as named checks, in the order `check_system` runs them (scikit-learn's
    `parametrize_with_checks` is the model: a test-suite makes each its own test, so a failure names its check).

    Each check is `check(workdir) -> str`: it raises ConformanceError, or returns what it verified. `workdir` is a
    folder the check may write to (the synthetic data and the feature cache); checks that share one share its files.
    `params` are passed to every construction, over the system's `SMOKE_PARAMS`.
    """
    params = {**getattr(factory, "SMOKE_PARAMS", {}), **(params or {})}

    def init(workdir: Path) -> str:
        check_init_stores_params(factory, params)
        return "__init__ stores parameters only; clone() round-trips"

    def fit_predict(task: str) -> Callable:
        def check(workdir: Path) -> str:
            dataset, store = _workspace(workdir, task)
            check_fit_predict(factory, dataset, store, params)
            return f"{task}: fit returns self; predict gives finite (n, C) scores"

        return check

    def deterministic(task: str) -> Callable:
        def check(workdir: Path) -> str:
            dataset, store = _workspace(workdir, task)
            again = check_fit_predict(factory, dataset, store, {**params, "random_state": 0})
            first = check_fit_predict(factory, dataset, store, {**params, "random_state": 0})
            if not np.allclose(first, again, atol=1e-6):
                raise ConformanceError("two fits with random_state=0 gave different scores")
            return f"{task}: deterministic under random_state"

        return check

    checks = [("init_stores_params", init)]
    seeded = "random_state" in accepted_params(factory)[0]  # from the signature: building it is the first check's job
    for task in tasks:
        checks.append((f"{task}:fit_predict", fit_predict(task)))
        if seeded:
            checks.append((f"{task}:deterministic", deterministic(task)))
    return checks


def _workspace(workdir: Path, task: str):
    """The synthetic `task` dataset and a feature store under `workdir` (built once, shared by the checks there)."""
    from mirbench.features import FeatureStore

    return synthetic_dataset(Path(workdir) / task, task=task), FeatureStore(Path(workdir) / "cache")


def check_system(factory, params: dict | None = None, tasks=("single-label", "multi-label"), workdir=None) -> list[str]:
    """Run the system contract on synthetic data; returns the checks passed, raises ConformanceError on the first failure.

    `params` are passed to every construction, over the system's own
    `SMOKE_PARAMS` (a class attribute: settings small enough for seconds-long
    checks, e.g. few epochs; a system whose defaults train for hours declares them).
    The checks are `system_checks(factory, params, tasks)`, run in order in one temporary folder; the first
    failure's message starts with the name of its check ("single-label:fit_predict: fit raised ValueError: ...").
    """
    passed = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for name, check in system_checks(factory, params, tasks):
            try:
                passed.append(check(Path(tmp)))
            except ConformanceError as exc:
                raise ConformanceError(f"{name}: {exc}") from exc
    return passed


def check_dataset(factory, params: dict | None = None, data_root=None, name: str | None = None) -> list[str]:
    """Run the dataset contract on one instance (built twice); returns the checks passed, raises ConformanceError on
    the first failure. It is built as runs build it: with `root=<data_root>/<name>` (`name`: its registered name,
    by default its `name` attribute), or root=None without a data root, which a dataset read from disk
    (`needs_root`) cannot take.

    The contract: the index is non-empty with unique ids and labels among its classes (one per track for a
    single-label task); the same parameters give the same index and fingerprint; `validate()` reports on exactly
    these tracks; a usable track loads as finite mono float32 at any requested rate; targets have the task's shape.
    """
    from mirbench.audio import AudioError
    from mirbench.datasets.base import ValidationReport

    name = name or getattr(factory, "name", "dataset")
    if getattr(factory, "needs_root", False) and data_root is None:
        raise ConformanceError(f"the dataset is read from disk: give --data-root DIR with the dataset under DIR/{name}/")
    names, open_ended = accepted_params(factory)
    if "root" not in names and not open_ended:
        raise ConformanceError("__init__ must take a `root` parameter: runs pass root=<data root>/<name>, or None "
                               "without a data root")
    locate = getattr(factory, "locate_root", None)
    where = None if data_root is None else locate(Path(data_root), name) if locate else Path(data_root) / name
    params = {**(params or {}), "root": where}
    try:
        dataset, again = factory(**params), factory(**params)
    except TypeError as exc:
        given = sorted(set(params) - {"root"})
        raise ConformanceError(f"cannot be built with {given if given else 'its defaults'}: {exc}") from None
    passed = [f"builds from its parameters ({len(dataset.tracks)} tracks, {len(dataset.classes)} classes)"]
    if dataset.task not in ("single-label", "multi-label"):
        raise ConformanceError(f"task must be 'single-label' or 'multi-label', got {dataset.task!r}")
    if not dataset.tracks or not dataset.classes:
        raise ConformanceError("the index has no tracks or no classes")
    if not (isinstance(dataset.sample_rate, int) and dataset.sample_rate > 0):
        raise ConformanceError(f"sample_rate must be a positive int, got {dataset.sample_rate!r}")
    if dataset.task == "single-label":
        several = [t.id for t in dataset.tracks if len(t.labels) != 1]
        if several:
            raise ConformanceError(f"a single-label task gives each track one label; {several[0]!r} has {len(dataset[several[0]].labels)}")
    passed.append(f"{dataset.task} index: unique ids, labels among the classes")
    if [t.id for t in again.tracks] != [t.id for t in dataset.tracks] or again.fingerprint() != dataset.fingerprint():
        raise ConformanceError("two builds from the same parameters give different indexes (order, ids or fingerprint)")
    passed.append("the same parameters give the same index and fingerprint")
    report = dataset.validate()
    if not isinstance(report, ValidationReport) or report.n_tracks != len(dataset.tracks):
        raise ConformanceError("validate() must return a ValidationReport over every track of the index")
    strangers = sorted((set(report.problems) | set(report.warnings)) - {t.id for t in dataset.tracks})
    if strangers:
        raise ConformanceError(f"validate() reports on ids the index lacks: {strangers[:3]}")
    passed.append(f"validate(): {len(dataset.tracks) - len(report.problems)} of {len(dataset.tracks)} tracks usable")
    usable = [t for t in dataset.tracks if t.id not in report.problems]
    if not usable:
        raise ConformanceError("no track is usable: see 'mirbench data check'")
    for rate in (dataset.sample_rate, 16000):
        try:
            audio = dataset.load_audio(usable[0], rate)
        except AudioError as exc:
            raise ConformanceError(f"track {usable[0].id!r} passed validation but does not load: {exc}") from None
        if not (isinstance(audio, np.ndarray) and audio.ndim == 1 and audio.dtype == np.float32 and len(audio)
                and np.isfinite(audio).all()):
            raise ConformanceError(f"load_audio({usable[0].id!r}, {rate}) must give finite 1-D float32 samples")
    passed.append("a usable track loads as finite mono float32, at its rate and at 16 kHz")
    targets = dataset.targets(usable[:4])
    shape = (len(usable[:4]),) if dataset.task == "single-label" else (len(usable[:4]), len(dataset.classes))
    if np.asarray(targets).shape != shape:
        raise ConformanceError(f"targets() gave shape {np.asarray(targets).shape}, expected {shape}")
    passed.append("targets() have the task's shape")
    return passed
