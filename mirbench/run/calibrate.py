"""Short measurements on this machine that `mirbench plan` scales into an estimate (mirbench.run.estimate).

Each variant is fitted and scored on a tiny subset of one fold, and on half of it, in a temporary cache (the user's
cache and results are left alone), in a process of its own (mirbench.run.estimate.calibrated). A store that watches what it computes notes which frontends the variant reads and, per frontend,
the seconds of decode + frontend + cache write per second of audio. Fit and predict seconds are measured with
feature seconds excluded. A network trained to an update budget (the windowed networks' parameters `max_epochs`,
`updates_per_epoch`, `batch_size`, `time_budget_s`) is fitted for a few updates only; its seconds per update and per
scored clip are what its estimate scales. The calibration stops measuring after `cap_s` seconds: the remaining
variants borrow the measurements of a calibrated variant of the same system.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from mirbench.features import FeatureStore

#: Tracks of the tiny subset a variant is fitted on: train, valid, test.
TINY = (12, 6, 6)
#: Updates a budgeted network is timed over.
UPDATES = 4
#: Seconds a calibration may spend measuring before the remaining variants borrow measurements.
CAP_S = 45.0


class WatchingStore(FeatureStore):
    """A FeatureStore that notes what each request asked for and, per frontend, what computing it cost."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests: list[tuple] = []  # (dataset, frontend, tracks) of every `get` since `requests` was reset
        self.cost: dict[str, list[float]] = {}  # frontend key -> [seconds computing, seconds of audio computed]

    def get(self, dataset, tracks, frontend, mmap=False):
        self.requests.append((dataset, frontend, list(tracks)))
        missing = [t for t in tracks if not self.entry_path(dataset, t, frontend).exists()]
        key = frontend.key()
        if missing and key not in self.cost:  # the frontend's first track warms it up (filters, kernels): untimed
            super().get(dataset, missing[:1], frontend)
            missing = missing[1:]
        before = self.seconds
        out = super().get(dataset, tracks, frontend, mmap=mmap)
        cost = self.cost.setdefault(key, [0.0, 0.0])
        if missing:
            cost[0] += self.seconds - before
            cost[1] += sum(track_seconds(dataset, t) for t in missing)
        return out


def track_seconds(dataset, track) -> float:
    """The seconds of audio a track decodes to: its header's duration, cut to the dataset's `clip_seconds`."""
    from mirbench.audio import probe

    seconds = probe(track.path).duration
    clip = dataset.params.get("clip_seconds")
    return min(seconds, float(clip)) if clip else seconds


@dataclass
class Measured:
    """One variant's calibration: what it read, and its tiny-subset seconds or its per-update costs."""

    sizes: tuple[int, int, int] = (0, 0, 0)  # tiny train, valid, test tracks
    reads: list[tuple] = field(default_factory=list)  # (dataset, frontend, tracks) it asked the store for
    fit_s: float = 0.0  # fit on the tiny train + valid tracks
    predict_s: float = 0.0  # scoring the tiny test tracks
    fit_per_track: float = 0.0  # what one more training (or validation) track adds to the fit
    predict_per_track: float = 0.0
    update_s: float | None = None  # a budgeted network: seconds per training update
    clip_s: float = 0.0  # a budgeted network: seconds to score one clip (validation and prediction)
    setup_s: float = 0.0  # a budgeted network's fit outside its updates (windows, statistics, building)
    epoch_clips: float = 1.0  # a budgeted network: training windows or segments per clip (one pass = an epoch)
    error: str | None = None  # why the tiny fit failed: the trials borrow another variant's estimate

    def seconds(self, system, n_train: int, n_valid: int, n_test: int) -> float:
        """Fit + predict seconds of a trial of `system` (features excluded), what `System.estimate_cost` gives by
        default: a budgeted network's per-update costs scaled to its budget, any other tiny fit scaled linearly."""
        if self.update_s is not None:
            return budget_seconds(system, self, n_train, n_valid, n_test)
        return scaled_seconds(self, n_train, n_valid, n_test)


@dataclass
class Calibration:
    """Measurements shared by a plan's trials, and the tiny subset they are made on."""

    dataset: object
    device: object
    precision: str = "fp32"
    data_root: str | None = None
    cap_s: float = CAP_S
    seconds: float = 0.0  # spent calibrating
    variants: dict[str, Measured] = field(default_factory=dict)
    tiny: dict = field(default_factory=dict)
    store: WatchingStore | None = None
    folder: Path | None = None

    def open(self, spec) -> Calibration:
        """Pick the tiny subset from `spec`'s fold (round-robin over labels) in a temporary cache."""
        from mirbench.system import TrackSet

        self.folder = Path(tempfile.mkdtemp(prefix="mirbench-calibrate-"))
        self.store = WatchingStore(self.folder, device=self.device)
        for name, ids, n in zip(("train", "valid", "test"), (spec.fold.train, spec.fold.valid, spec.fold.test), TINY):
            tracks = spread(self.dataset.subset(spec.usable(ids)), n)
            self.tiny[name] = TrackSet(self.dataset, tracks, self.store, self.device, self.data_root, self.precision)
        return self

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def rate(self, key: str) -> float | None:
        """Seconds of decode + frontend + cache write per second of audio through the frontend `key`."""
        seconds, audio = (self.store.cost.get(key) if self.store else None) or (0.0, 0.0)
        return seconds / audio if audio > 0 else None

    def measure(self, variant, seed: int, target: str | None, threads: int) -> Measured | None:
        """Calibrate one variant (memoised by its id); None once the cap is spent."""
        if variant.id in self.variants:
            return self.variants[variant.id]
        if self.seconds >= self.cap_s:
            return None
        import torch

        from mirbench.run.trial import build_system, seed_everything

        start = time.perf_counter()
        torch.set_num_threads(max(1, threads))
        seed_everything(seed)
        self.store.requests = []
        try:
            system = build_system(variant, seed, target)
            measured = (budgeted if is_budgeted(system) else scaled)(system, self.tiny, self.store)
        except Exception as exc:  # noqa: BLE001 - any system's failure on the tiny subset: its trials borrow
            measured = Measured(error=f"{type(exc).__name__}: {exc}")
        measured.reads = self.store.requests
        self.variants[variant.id] = measured
        self.seconds += time.perf_counter() - start
        return measured


def spread(tracks: list, n: int) -> list:
    """Up to `n` of `tracks`, taken round-robin over their first labels, so a tiny subset has every class it can."""
    by_label: dict = {}
    for t in tracks:
        by_label.setdefault(t.labels[0] if t.labels else "", []).append(t)
    queues, out = list(by_label.values()), []
    while len(out) < n and any(queues):
        for queue in queues:
            if queue and len(out) < n:
                out.append(queue.pop(0))
    return out


def is_budgeted(system) -> bool:
    """A network trained to an update budget over windows of its tracks (the kit's WindowedNetwork contract)."""
    names = set(system.get_params())
    return callable(getattr(system, "windows", None)) and {"max_epochs", "updates_per_epoch", "batch_size",
                                                           "time_budget_s"} <= names


def scaled(system, tiny: dict, store: WatchingStore) -> Measured:
    """Fit on half the tiny subset, then on all of it, and score half the tiny test tracks, then all: two sizes
    give each cost a fixed part and a part per track. Feature seconds are excluded."""
    train, valid, test = tiny["train"], tiny["valid"], tiny["test"]
    half = {name: part.with_tracks(part.tracks[: max(1, len(part) // 2)]) for name, part in tiny.items()}
    small = timed(store, lambda: system.fit(half["train"], half["valid"] if len(valid) else None))
    fit_s = timed(store, lambda: system.fit(train, valid if len(valid) else None))
    small_predict = timed(store, lambda: system.predict(half["test"]))
    predict_s = timed(store, lambda: system.predict(test))
    sizes = (len(train), len(valid), len(test))
    fit_per = per_track(small, fit_s, len(half["train"]) + len(half["valid"]) * bool(len(valid)),
                        sizes[0] + sizes[1])
    predict_per = per_track(small_predict, predict_s, len(half["test"]), sizes[2])
    return Measured(sizes=sizes, fit_s=fit_s, predict_s=predict_s, fit_per_track=fit_per,
                    predict_per_track=predict_per)


def per_track(small_s: float, large_s: float, small_n: int, large_n: int) -> float:
    """Seconds per track between two measurements (never negative; all per track when the sizes are equal)."""
    if large_n <= small_n:
        return large_s / max(1, large_n)
    return max(0.0, (large_s - small_s) / (large_n - small_n))


def budgeted(system, tiny: dict, store: WatchingStore) -> Measured:
    """A few updates of the network (no validation, no time budget) after one to warm up, then its scoring of the
    tiny valid subset."""
    train, valid = tiny["train"], tiny["valid"]
    system.set_params(max_epochs=1, updates_per_epoch=1, time_budget_s=None, patience=None)
    system.fit(train, None)  # warms up the kernels of this network's shapes and computes its features
    system.predict(train.with_tracks(train.tracks[:1]))
    system.set_params(updates_per_epoch=UPDATES)
    fit_s = timed(store, lambda: system.fit(train, None))
    update_s = float(system.training_info()["s_per_window"]) * int(system.batch_size)
    clips = valid if len(valid) else train
    clip_s = timed(store, lambda: system.predict(clips)) / len(clips)
    epoch_clips = system.windows(train).epoch_size() / len(train)
    return Measured(sizes=(len(train), len(valid), len(tiny["test"])), fit_s=fit_s, update_s=update_s, clip_s=clip_s,
                    setup_s=max(0.0, fit_s - UPDATES * update_s), epoch_clips=epoch_clips)


def timed(store: WatchingStore, work) -> float:
    """Wall seconds of `work()`, less what the store spent computing features meanwhile."""
    before, start = store.seconds, time.perf_counter()
    work()
    return max(0.0, time.perf_counter() - start - (store.seconds - before))


def budget_seconds(system, measured: Measured, n_train: int, n_valid: int, n_test: int) -> float:
    """A budgeted network's fit + predict: epochs of (updates x seconds per update + one validation), up to
    `max_epochs` or until `time_budget_s` is spent (checked after each epoch), after the initial validation; its
    setup scaled by the training clips; scoring the test clips. Early stopping is not foreseen (an upper bound)."""
    params = system.get_params()
    updates = params["updates_per_epoch"] or math.ceil(measured.epoch_clips * n_train / int(params["batch_size"]))
    validation = n_valid * measured.clip_s
    epoch_s = updates * measured.update_s + validation
    epochs = int(params["max_epochs"])
    budget = params.get("time_budget_s")
    if budget is not None and epoch_s > 0:
        epochs = min(epochs, max(1, math.ceil((float(budget) - validation) / epoch_s)))
    setup = measured.setup_s * n_train / max(1, measured.sizes[0])
    accuracy = (n_train + n_valid) * measured.clip_s if getattr(system, "SPLIT_ACCURACY", False) else 0.0
    return setup + validation + epochs * epoch_s + accuracy + n_test * measured.clip_s


def scaled_seconds(measured: Measured, n_train: int, n_valid: int, n_test: int) -> float:
    """The tiny fit and prediction, each a fixed part plus a part per track, at the trial's sizes."""
    tiny_fit, tiny_test = measured.sizes[0] + measured.sizes[1], measured.sizes[2]
    fit = max(0.0, measured.fit_s - measured.fit_per_track * tiny_fit) + measured.fit_per_track * (n_train + n_valid)
    predict = max(0.0, measured.predict_s - measured.predict_per_track * tiny_test) + measured.predict_per_track * n_test
    return fit + predict
