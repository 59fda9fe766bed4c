"""Plan a suite's trials, skip the finished ones, run the rest inline or in a process pool.

The parent process writes every result file (atomically) as trials complete, so
a run killed at any moment loses at most the trials in flight, and the next
run of the same suite does only what is missing.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from mirbench.dataset import Dataset
from mirbench.results import ResultStore
from mirbench.suite import Suite
from mirbench.trial import TrialSpec, execute, failed_record, now, trial_id

log = logging.getLogger("mirbench")


@dataclass
class RunOptions:
    quick: bool = False
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16 (mirbench.device)
    workers: int = 1
    results: Path | None = None
    data_root: str | None = None
    retry_failed: bool = True
    progress: bool = True
    cluster: str | None = None  # a Dask scheduler address, or local:N (mirbench.cluster)


@dataclass
class RunSummary:
    results: Path
    planned: int
    skipped_done: int
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    unusable_tracks: dict = field(default_factory=dict)
    rerun: dict[str, int] = field(default_factory=dict)  # why stored trials were run again -> how many
    set_aside: list[str] = field(default_factory=list)  # invalid records renamed out of the way, with the problem


def results_dir(suite: Suite, options: RunOptions) -> Path:
    if options.results:
        return Path(options.results)
    return Path("results") / (suite.name + ("-quick" if options.quick else ""))


def quick_subset(dataset: Dataset, per_class: int, unusable=(), seed: int = 0, fold=None) -> set[str]:
    """Up to `per_class` usable tracks of each (first) label, whole groups at a time, deterministically.

    With `fold` (a fixed split's: its parts are not redrawn from the subset) each part is subset on its own:
    a class keeps its part's share of `per_class`, and at least one group, in every part that has its tracks.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    if fold is None:
        groups = _label_groups(dataset.tracks, unusable)
        return _take(groups, {label: per_class for label in groups}, rng)
    parts = [_label_groups([dataset[i] for i in getattr(fold, part)], unusable) for part in ("train", "valid", "test")]
    totals: dict[str, int] = {}
    for groups in parts:
        for label, members in groups.items():
            totals[label] = totals.get(label, 0) + sum(len(ids) for ids in members.values())
    keep: set[str] = set()
    for groups in parts:
        sizes = {label: sum(len(ids) for ids in members.values()) for label, members in groups.items()}
        keep |= _take(groups, {label: max(1, round(per_class * n / totals[label])) for label, n in sizes.items()}, rng)
    return keep


def _label_groups(tracks, unusable) -> dict[str, dict[str, list[str]]]:
    """(first) label -> group (or lone track id) -> the usable track ids of that group."""
    groups: dict[str, dict[str, list[str]]] = {}
    for t in tracks:
        if t.id in unusable:
            continue
        groups.setdefault(t.labels[0] if t.labels else "", {}).setdefault(t.group or t.id, []).append(t.id)
    return groups


def _take(groups: dict[str, dict[str, list[str]]], budget: dict[str, int], rng) -> set[str]:
    """Whole groups of each label, in a random order, until the label's budget of tracks is reached."""
    keep: set[str] = set()
    for label in sorted(groups):
        names = sorted(groups[label])
        taken = 0
        for idx in rng.permutation(len(names)):
            if taken >= budget[label]:
                break
            members = groups[label][names[idx]]
            keep.update(members)
            taken += len(members)
    return keep


def plan(suite: Suite, dataset: Dataset, options: RunOptions, skipped: dict, kinds: dict | None = None) -> list[TrialSpec]:
    """Every (variant, fold, seed) of the suite, with --quick restrictions applied, each with its identity.

    `skipped` maps unusable track ids to their reason, `kinds` to their kind of problem (both from validation).
    """
    from mirbench.identity import code_versions, data_fingerprint, digest, identity, other_data, suite_parts
    from mirbench.registry import protocols, systems

    proto_params = {k: v for k, v in suite.protocol.items() if k != "name"}
    protocol = protocols.get(suite.protocol["name"])(**proto_params)
    folds = protocol.folds(dataset)
    seeds = list(suite.seeds)
    variants = list(suite.variants)
    quick = suite.quick if options.quick else {}
    if options.quick:
        folds = folds[: quick.get("folds", 2)]
        seeds = seeds[: quick.get("seeds", 1)]
        overrides = quick.get("params", {})
        accepted: dict = {}  # system name -> its parameters: a registry lookup scans the entry points
        variants = [apply_overrides(v, overrides, accepted) for v in variants]
    keeps = quick_keeps(protocol, dataset, folds, quick.get("tracks_per_class"), skipped)
    cache_dir = default_cache()
    threads = max(1, (os.cpu_count() or 1) // max(1, options.workers))
    grid = [(variant, fold, seed) for variant in variants for fold in folds for seed in seeds]
    devices = trial_devices(options, len(grid))
    targets = {v.system: systems.target(v.system) for v in variants}  # a registry lookup scans entry points
    versions = {name: code_versions(systems.get(name)) for name in targets}
    used = {i for fold in folds for i in fold.train + fold.valid + fold.test
            if keeps[fold.index] is None or i in keeps[fold.index]}
    data = data_fingerprint(dataset, used, skipped, kinds)
    memo: dict = {}
    other = {v.id: other_data(systems.get(v.system), v.params, options.data_root, memo) for v in variants}
    parts = suite_parts(suite.data, options.quick)
    return [
        TrialSpec(
            trial_id=trial_id(variant, fold, seed),
            variant=variant,
            fold=fold,
            seed=seed,
            dataset=suite.dataset,
            data_root=options.data_root,
            protocol=suite.protocol,
            suite=suite.describe(),
            metrics=tuple(suite.metrics),
            cache_dir=cache_dir,
            device=device,
            threads=threads,
            quick=options.quick,
            skipped=skipped,
            keep=keeps[fold.index],
            precision=options.precision,
            system_target=targets[variant.system],
            identity=identity(parts, options.quick, data if other[variant.id] is None else digest([data, other[variant.id]]),
                              fold.split_hash(), variant.describe(), seed, versions[variant.system]),
        )
        for (variant, fold, seed), device in zip(grid, devices)
    ]


def quick_keeps(protocol, dataset: Dataset, folds: list, per_class: int | None, skipped) -> dict:
    """Fold index -> the --quick subset of its tracks (None: all). Stratified folds are redrawn from any data, so
    one subset of the whole dataset feeds them; a fixed split's parts are given, so each part is subset on its own."""
    from mirbench.protocols import StratifiedGroupKFold

    if per_class is None:
        return {fold.index: None for fold in folds}
    if isinstance(protocol, StratifiedGroupKFold):
        whole = frozenset(quick_subset(dataset, per_class, skipped))
        return {fold.index: whole for fold in folds}
    return {fold.index: frozenset(quick_subset(dataset, per_class, skipped, fold=fold)) for fold in folds}


def trial_devices(options: RunOptions, n: int) -> list[str]:
    """The device of each trial: with parallel local workers and several GPUs, `auto`/`cuda` go round-robin over
    cuda:0..K-1 so that the workers share the GPUs; otherwise every trial gets `options.device` as given (a
    cluster's workers each see their own GPUs)."""
    spread = options.device in ("auto", "cuda") and options.workers > 1 and not options.cluster
    count = gpu_count() if spread else 0
    if count < 2:
        return [options.device] * n
    return [f"cuda:{i % count}" for i in range(n)]


def gpu_count() -> int:
    """GPUs torch sees (0 without CUDA); asks the driver without creating a CUDA context in this process."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def apply_overrides(variant, overrides: dict, accepted: dict | None = None):
    """Apply --quick parameter overrides that this variant's system accepts (`accepted` memoises, per system
    name, what `accepted_params` says)."""
    from mirbench.registry import systems
    from mirbench.suite import Variant, accepted_params

    if not overrides:
        return variant
    accepted = {} if accepted is None else accepted
    if variant.system not in accepted:
        accepted[variant.system] = accepted_params(systems.get(variant.system))
    names, open_ended = accepted[variant.system]
    params = {**variant.params, **{k: v for k, v in overrides.items() if k in names or open_ended}}
    return Variant(variant.system, variant.label, params)


def default_cache() -> str:
    from mirbench.features import default_cache_dir

    return str(default_cache_dir())


def run_suite(suite: Suite, options: RunOptions) -> RunSummary:
    """Run every trial of `suite` that has no valid stored record of the same identity; returns what was done.

    One run at a time writes to a results directory (a second one stops with ResultsError), and a directory that
    holds another suite's results is an error, not a merge.
    """
    store = ResultStore(results_dir(suite, options))
    with store.lock():
        return _run_locked(suite, options, store)


def _run_locked(suite: Suite, options: RunOptions, store: ResultStore) -> RunSummary:
    from mirbench.datasets import open_dataset
    from mirbench.identity import digest

    check_owner(store, suite)
    swept = store.sweep_temporary()
    if swept:
        log.info("removed %d temporary file(s) left by a killed run in %s", swept, store.root)
    dataset = open_dataset(suite.dataset, options.data_root)
    validation = dataset.validate()
    if validation.problems:
        log.warning(validation.summary())
    specs = plan(suite, dataset, options, dict(validation.problems), validation.kinds)
    triage = Triage.of(store, specs, options.retry_failed)
    store.write_plan({s.trial_id: digest(s.identity) for s in specs})
    store.write_suite({**suite.data, "name": suite.name, "hash": suite.hash(), "quick_run": options.quick})
    todo = [s for s in specs if s.trial_id not in triage.done]
    summary = RunSummary(store.root, len(specs), len(triage.done), unusable_tracks=dict(validation.problems),
                         rerun=dict(triage.reasons), set_aside=triage.set_aside)
    bar = tqdm(total=len(todo), desc=f"{suite.name} trials", unit="trial", disable=not options.progress)

    def finish(record: dict) -> None:
        store.write(record)
        if record["status"] == "ok":
            summary.ok += 1
        else:
            summary.failed.append(f"{record['trial_id']}: {record['error']['type']}: {record['error']['message']}")
            bar.write(f"trial {record['trial_id']} failed: {record['error']['message']}")
        bar.update(1)

    try:
        if options.cluster:
            from mirbench.cluster import run_on_cluster

            run_on_cluster(todo, options.cluster, finish)
        elif options.workers <= 1:
            for spec in todo:
                finish(execute(spec))
        else:
            run_pool(todo, options.workers, finish)
    finally:
        bar.close()
    return summary


def check_owner(store: ResultStore, suite: Suite) -> None:
    """Refuse a results directory that holds another suite's results (its suite.json, or any of its records)."""
    from mirbench.results import ResultsError

    names = set()
    if (store.root / "suite.json").exists():
        names.add(store.read_suite()["name"])
    for path in sorted(store.trials_dir.glob("*.json")):
        record, _ = store._load(path)
        if record is not None:
            names.add(record["suite"]["name"])
    others = sorted(names - {suite.name})
    if others:
        raise ResultsError(
            f"{store.root} holds results of suite {others[0]!r}, not {suite.name!r}: give this run another "
            "--results directory (or delete that one to start over)"
        )


@dataclass
class Triage:
    """Which planned trials have a valid stored record of the same identity, and why the others rerun."""

    done: set[str]
    reasons: dict[str, int]  # reason -> trials rerun for it (stored trials only; trials never run are not counted)
    set_aside: list[str]  # "file: problem" of invalid records renamed out of the way

    @classmethod
    def of(cls, store: ResultStore, specs: list[TrialSpec], retry_failed: bool) -> "Triage":
        from mirbench.identity import why_rerun

        done, reasons, aside = set(), {}, []
        for spec in specs:
            record, problem = store.load(spec.trial_id)
            if problem:
                moved = store.set_aside(spec.trial_id)
                aside.append(f"{moved}: {problem}")
                reasons["its stored record was invalid"] = reasons.get("its stored record was invalid", 0) + 1
                continue
            if record is None:
                continue
            why = why_rerun(record.get("identity"), spec.identity)
            if why is None and (record["status"] == "ok" or not retry_failed):
                done.add(spec.trial_id)
            elif why is not None:
                reasons[why] = reasons.get(why, 0) + 1
        return cls(done, reasons, aside)


def run_pool(specs: list[TrialSpec], workers: int, finish) -> None:
    """Run specs in `workers` processes. A worker that dies breaks the pool: the trials in flight are then suspects,
    re-run one at a time in a process of their own, and one that kills that process too is recorded as failed;
    a fresh pool takes the trials not started yet."""
    queue = deque(specs)
    while queue:
        for spec in _run_parallel(queue, workers, finish):
            finish(_run_alone(spec))


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes that end themselves when this process dies (SIGKILL, SIGTERM): an
    orphaned worker would otherwise hold its memory (about 0.5 GB) for good."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                               initializer=watch_parent, initargs=(os.getpid(),))


def watch_parent(parent: int, interval: float = 0.5) -> None:
    """Start a daemon thread that exits this process once `parent` is no longer its parent (it died, and the
    process was re-parented)."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="mirbench-parent-watch", daemon=True).start()


def _run_parallel(queue: deque, workers: int, finish) -> list[TrialSpec]:
    """Run trials from `queue`, at most `workers` in flight, until it is empty or the pool breaks; the trials in
    flight when it broke (the one whose worker died among them)."""
    with worker_pool(workers) as pool:
        running: dict = {}
        try:
            while queue or running:
                while queue and len(running) < workers:  # no backlog in the pool: a break names only real suspects
                    try:
                        running[pool.submit(execute, queue[0])] = queue[0]
                    except BrokenProcessPool:  # it broke since the last trial finished
                        return list(running.values())
                    queue.popleft()
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = []
                for fut in finished:
                    spec = running.pop(fut)
                    try:
                        record = fut.result()
                    except BrokenProcessPool:
                        broken.append(spec)
                        continue
                    finish(record)
                if broken:
                    return broken + list(running.values())
        except BaseException:  # Ctrl-C, or a result that cannot be written: stop the trials in flight
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return []


def _run_alone(spec: TrialSpec) -> dict:
    """A suspect's retry in a process of its own: its record, or a WorkerDied record if it kills this one too."""
    with worker_pool(1) as pool:
        try:
            return pool.submit(execute, spec).result()
        except BrokenProcessPool:
            return crashed(spec, message="the worker process running this trial died, and died again when the trial "
                           "ran alone (killed, or out of memory)")


def crashed(spec: TrialSpec, kind: str = "WorkerDied", message: str = "the worker process running this trial died") -> dict:
    """The record of a trial whose worker process died (killed, out of memory), or was lost on a cluster."""
    record = failed_record(spec, {"type": kind, "message": message, "traceback": ""})
    record["provenance"]["finished_at"] = now()
    return record
