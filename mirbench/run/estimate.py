"""`mirbench plan`: a suite's trials, which are done or have their features cached, and the seconds of the rest.

The trials are planned and triaged as `mirbench run` does (mirbench.run.plan, runner.Triage), without writing
anything: an invalid stored record is counted as to run, not set aside. The estimate adds, for the trials to run,
the features not yet in the cache (each frontend's calibrated seconds per second of audio, times the audio of the
tracks that need it, counted once for the run), each trial's fit + predict (`System.estimate_cost` on its variant's
calibration, mirbench.run.calibrate), and the run's own costs: starting up, opening and validating the dataset,
planning, and writing the report.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Report seconds besides its significance tests: a fixed part (imports, figures) and a part per trial record read
#: and checked, as measured on this project's 2-core machine; the tests are timed (`report_seconds`).
REPORT_BASE_S = 3.0
REPORT_PER_TRIAL_S = 0.03
#: Resamples the report's tests are timed with (scaled to the report's mirbench.stats.RESAMPLES).
TIMED_RESAMPLES = 100
#: Seconds per trial outside fit and predict (provenance, metrics, writing its record).
TRIAL_OVERHEAD_S = 0.05
#: Tracks probed for their duration (the mean stands for the rest).
PROBED = 32

DONE, CACHED, TO_RUN = "done", "cached features", "to run"


@dataclass
class TrialEstimate:
    """One planned trial: its state and, when it is to run, its estimated seconds (features and fit apart)."""

    trial_id: str
    system: str
    state: str  # DONE | CACHED | TO_RUN
    seconds: float = 0.0
    features_s: float = 0.0
    fit_s: float = 0.0
    note: str | None = None  # how the estimate was made when not from the variant's own calibration


@dataclass
class PlanEstimate:
    """What `mirbench plan` prints: the trials and the estimated seconds of the run on this machine and device."""

    suite: str
    results: str
    device: str
    workers: int
    trials: list[TrialEstimate] = field(default_factory=list)
    overhead_s: float = 0.0  # starting up, dataset, validation, planning, report
    calibration_s: float = 0.0
    calibrated: bool = True

    @property
    def estimated_seconds(self) -> float:
        """Overhead (a run with nothing to do still starts and writes its report) plus the trials to run, spread
        over the workers (never less than the longest trial)."""
        times = [t.seconds for t in self.trials if t.state != DONE]
        return self.overhead_s + max(sum(times) / self.workers, max(times, default=0.0))

    def counts(self) -> dict[str, int]:
        return {state: sum(t.state == state for t in self.trials) for state in (DONE, CACHED, TO_RUN)}

    def as_json(self) -> dict:
        return {"suite": self.suite, "results": self.results, "device": self.device, "workers": self.workers,
                "trials": [asdict(t) for t in self.trials], "estimated_seconds": self.estimated_seconds,
                "overhead_s": self.overhead_s, "calibration_s": self.calibration_s, "counts": self.counts()}

    def summary(self) -> str:
        """One line: "estimated 4 min 10 s for 8 trials on cpu (calibrated in 3.1 s)"."""
        left = sum(t.state != DONE for t in self.trials)
        done = len(self.trials) - left
        also = f", {done} already done" if done else ""
        return (f"estimated {duration(self.estimated_seconds)} for {left} trial{'s' if left != 1 else ''}{also} on "
                f"{self.device} (calibrated in {self.calibration_s:.1f} s)")


def duration(seconds: float) -> str:
    """"4 min 10 s", "1 h 02 min", "3.2 s"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class ReadOnlyStore:
    """The view of a ResultStore that Triage.of reads through for a plan: an invalid record is left where it is."""

    def __init__(self, store):
        self.store = store

    def load(self, trial_id: str):
        return self.store.load(trial_id)

    def set_aside(self, trial_id: str) -> Path:
        return self.store.trial_path(trial_id)


def estimate_suite(suite, options, calibrate: bool = True, cap_s: float | None = None) -> PlanEstimate:
    """Plan `suite` as `mirbench run` would with `options`, triage it against the results directory, and (with
    `calibrate`) estimate the seconds of the trials to run. Writes nothing into the results directory."""
    from mirbench.datasets import open_dataset
    from mirbench.device import resolve_device
    from mirbench.results import ResultStore
    from mirbench.run.plan import plan
    from mirbench.run.runner import Triage, check_owner, results_dir

    start = time.perf_counter()
    store = ResultStore(results_dir(suite, options))
    if store.root.is_dir():
        check_owner(store, suite)  # the run would refuse this directory: so does its plan
    dataset = open_dataset(suite.dataset, options.data_root)
    validation = dataset.validate()
    specs = plan(suite, dataset, options, dict(validation.problems), validation.kinds)
    done = Triage.of(ReadOnlyStore(store), specs, options.retry_failed).done
    device = resolve_device(options.device)
    result = PlanEstimate(suite.name, str(store.root), str(device), max(1, options.workers), calibrated=calibrate)
    todo = [s for s in specs if s.trial_id not in done]
    result.trials = [TrialEstimate(s.trial_id, s.variant.system, DONE if s.trial_id in done else TO_RUN) for s in specs]
    if not calibrate:
        return result
    setup_s = time.perf_counter() - start
    estimates = {t.trial_id: t for t in result.trials}
    calibration_start = time.perf_counter()
    for trial in calibrated(suite.dataset, todo, options, cap_s):
        estimates[trial.trial_id] = trial
    result.trials = [estimates[t.trial_id] for t in result.trials]
    report_s = report_seconds(suite, dataset, specs)
    result.calibration_s = time.perf_counter() - calibration_start
    result.overhead_s = startup_seconds() + setup_s + report_s
    return result


def calibrated(dataset_table: dict, todo: list, options, cap_s: float | None) -> list[TrialEstimate]:
    """The estimates of the trials to run, calibrated in a spawned process: a system that crashes or kills its
    process while fitting the tiny subset (a fault the runner isolates too) costs its estimate, not the run."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    from mirbench.cache import cache_root

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(calibrate_trials, dataset_table, todo, options, cap_s, str(cache_root())).result()
        except BrokenProcessPool:
            return [TrialEstimate(s.trial_id, s.variant.system, TO_RUN, note="no estimate: calibration died")
                    for s in todo]


def calibrate_trials(dataset_table: dict, todo: list, options, cap_s: float | None, cache: str) -> list[TrialEstimate]:
    """In the calibration process: each trial's estimate, in the run's order, with the run's cache root."""
    from mirbench.cache import using
    from mirbench.datasets import open_dataset
    from mirbench.device import resolve_device
    from mirbench.run.allocator import keep_freed_memory

    keep_freed_memory()  # as the trials will run
    with using(cache):
        dataset = open_dataset(dataset_table, options.data_root)
        costs = TrialCosts(dataset, resolve_device(options.device), options, cap_s)
        out = [TrialEstimate(s.trial_id, s.variant.system, TO_RUN) for s in todo]
        try:
            for spec, trial in zip(todo, out):
                costs.estimate(spec, trial)
        finally:
            costs.close()
    return out


def report_seconds(suite, dataset, specs) -> float:
    """Seconds to write the run's report: REPORT_BASE_S, REPORT_PER_TRIAL_S per trial, and its significance
    section, which tests every variant but the best against the best on each shown metric over the pooled test
    tracks: one such test on made-up scores of that size is timed per metric and scaled to the resamples."""
    import numpy as np

    from mirbench.metrics import METRICS
    from mirbench.report.values import is_record_value
    from mirbench.stats import RESAMPLES, compare_records

    pooled: dict[str, int] = {}
    for spec in specs:
        pooled[spec.variant.id] = pooled.get(spec.variant.id, 0) + len(spec.usable(spec.fold.test))
    seconds = REPORT_BASE_S + REPORT_PER_TRIAL_S * len(specs)
    metrics = [m for m in (suite.report.get("metrics") or suite.metrics) if m in METRICS and not is_record_value(m)]
    if len(pooled) < 2 or not metrics:
        return seconds
    n, classes = max(2, round(sum(pooled.values()) / len(pooled))), max(2, len(dataset.classes))
    rng = np.random.default_rng(0)
    if dataset.task == "multi-label":
        truth = (rng.random((n, classes)) < 0.3).astype(int)
        truth[0], truth[1] = 1, 0  # every tag has a positive and a negative
    else:
        truth = np.arange(n) % classes
    records = [{"status": "ok", "seed": 0, "fold": {"split_hash": "timed"},
                "predictions": {"track_ids": [str(i) for i in range(n)], "truth": truth.tolist(),
                                "scores": rng.random((n, classes)).tolist()}} for _ in range(2)]
    for metric in metrics:
        start = time.perf_counter()
        try:
            compare_records(records[:1], records[1:], metric=metric, n_resamples=TIMED_RESAMPLES)
        except ValueError:  # undefined on made-up scores: the report says n/a and costs little
            continue
        seconds += (time.perf_counter() - start) * RESAMPLES / TIMED_RESAMPLES * (len(pooled) - 1)
    return seconds


def startup_seconds() -> float:
    """Seconds from this process's start to now, less the time it spent in this module: what starting the
    interpreter and importing mirbench and torch cost (0 when the process start time is not known)."""
    try:
        import psutil
    except ImportError:
        return 0.0
    try:
        return max(0.0, _ENTERED - psutil.Process().create_time())
    except (psutil.Error, OSError):  # no access to the process table: leave it out
        return 0.0


_ENTERED = time.time()  # when this module was first imported: a run imports it at the same point


class TrialCosts:
    """The estimates of a plan's trials to run, in their order: features counted once per (frontend, track)."""

    def __init__(self, dataset, device, options, cap_s: float | None):
        from mirbench.cache import cache_root
        from mirbench.device import resolve_precision
        from mirbench.features import FeatureStore
        from mirbench.run.calibrate import CAP_S, Calibration

        self.dataset = dataset
        self.cache = FeatureStore(cache_root(), device=device)  # the run's cache: only asked what it holds
        self.calibration = Calibration(dataset, device, resolve_precision(options.precision, device),
                                       options.data_root, CAP_S if cap_s is None else cap_s)
        self.counted: set = set()  # (frontend key, dataset fingerprint, track id) already computed or cached
        self.seconds_of: dict = {}  # dataset fingerprint -> mean seconds of audio per track
        self.by_system: dict[str, list] = {}  # system name -> measurements of its calibrated variants
        self.opened = False

    def close(self) -> None:
        self.calibration.close()

    def estimate(self, spec, out: TrialEstimate) -> None:
        """Fill `out` for `spec`: whether its features are cached, and its seconds."""
        from mirbench.run.trial import build_system

        if not self.opened:
            self.calibration.open(spec)
            self.opened = True
        measured = self.calibration.measure(spec.variant, spec.seed, spec.system_target, spec.threads)
        if measured is not None and measured.error is None:
            self.by_system.setdefault(spec.variant.system, []).append(measured)
        else:
            note = f"borrowed: {measured.error}" if measured is not None else "borrowed: calibration cap reached"
            measured = self.borrow(spec.variant.system)
            out.note = note if measured is not None else note.replace("borrowed", "no estimate")
        if measured is None:
            return
        tracks = self.dataset.subset(spec.usable(spec.fold.train + spec.fold.valid + spec.fold.test))
        out.features_s, cached = self.features(measured, tracks)
        n = [len(spec.usable(ids)) for ids in (spec.fold.train, spec.fold.valid, spec.fold.test)]
        system = build_system(spec.variant, spec.seed, spec.system_target)
        fit = float(system.estimate_cost(n[0], n[1], n[2], measured))
        out.fit_s = fit if math.isfinite(fit) and fit >= 0 else 0.0
        out.seconds = out.features_s + out.fit_s + TRIAL_OVERHEAD_S
        out.state = CACHED if cached else TO_RUN

    def borrow(self, system: str):
        """A calibrated variant of the same system (the most recent), else of any system."""
        same = self.by_system.get(system)
        if same:
            return same[-1]
        others = [m for ms in self.by_system.values() for m in ms]
        return others[-1] if others else None

    def features(self, measured, tracks: list) -> tuple[float, bool]:
        """Seconds to compute the features this trial reads that neither the cache nor an earlier trial holds,
        and whether the cache holds all of them."""
        seconds, cached = 0.0, True
        for dataset, frontend, asked in measured.reads:
            key = frontend.key()
            own = dataset is self.calibration.dataset
            needed = tracks if own else asked  # another dataset (pre-training) is read whole, not tiny
            fingerprint = dataset.fingerprint()
            missing = 0
            for track in needed:
                mark = (key, fingerprint, track.id)
                if not self.cache.entry_path(dataset, track, frontend).exists():
                    cached = False
                    if mark not in self.counted:
                        missing += 1
                self.counted.add(mark)
            if missing:
                rate = self.calibration.rate(key) or 0.0
                seconds += rate * missing * self.mean_seconds(dataset)
        return seconds, cached

    def mean_seconds(self, dataset) -> float:
        """Mean seconds of audio per track of `dataset`, from the headers of up to PROBED tracks."""
        from mirbench.audio import AudioError
        from mirbench.run.calibrate import track_seconds

        fingerprint = dataset.fingerprint()
        if fingerprint not in self.seconds_of:
            step = max(1, len(dataset.tracks) // PROBED)
            sample = list(dataset.tracks[::step])[:PROBED]
            values = []
            for track in sample:
                try:
                    values.append(track_seconds(dataset, track))
                except AudioError:  # an unusable track: validation skips it
                    pass
            self.seconds_of[fingerprint] = sum(values) / len(values) if values else 0.0
        return self.seconds_of[fingerprint]
