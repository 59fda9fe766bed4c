"""One trial = one (system variant, fold, seed), run to its result record.

`execute` is a plain function of a picklable `TrialSpec`, so every executor
(mirbench.run.executors) can call it: in this process, in a pool or on a cluster. It never raises: a failure
becomes a record with status "failed" and its reason.
"""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mirbench.protocols import Fold
from mirbench.record import (finished, new_record, started, timings, with_data, with_error, with_fold, with_machine,
                             with_result)
from mirbench.record import now, scalar_metrics  # noqa: F401 (the runner and submissions import them from here)
from mirbench.suite import Variant


@dataclass(frozen=True)
class TrialSpec:
    """Everything a worker needs to run one trial, and nothing it would have to look up."""

    trial_id: str
    variant: Variant
    fold: Fold
    seed: int
    dataset: dict  # the suite's [dataset] table
    data_root: str | None
    protocol: dict
    suite: dict  # name, version, hash, path
    metrics: tuple[str, ...]
    cache_dir: str | None
    device: str
    threads: int
    quick: bool
    skipped: dict = field(default_factory=dict, hash=False)  # track id -> reason (unusable audio)
    keep: frozenset | None = None  # the --quick subset of track ids, None for all
    precision: str = "auto"  # auto | fp32 | bf16 (mirbench.device.resolve_precision)
    system_target: str | None = None  # "module:attr" of the system, so workers need not share the parent's registry
    identity: dict = field(default_factory=dict, hash=False)  # mirbench.run.identity: what the stored record must match

    def usable(self, ids) -> list[str]:
        return [i for i in ids if i not in self.skipped and (self.keep is None or i in self.keep)]


def trial_id(variant: Variant, fold: Fold, seed: int) -> str:
    return f"{variant.id}.fold{fold.index}.seed{seed}"


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_system(variant: Variant, seed: int, target: str | None = None):
    """Instantiate the variant's system (from its "module:attr" `target` when given, else by name), passing the
    trial seed to `random_state` when it has one."""
    from mirbench.registry import load_target, systems

    system = (load_target(target) if target else systems.get(variant.system))(**variant.params)
    if "random_state" in system.get_params():
        system.set_params(random_state=seed)
    return system


def failed_record(spec: TrialSpec, error: dict | None = None) -> dict:
    """What every record of `spec` starts as: its identity, status "failed" until it succeeds."""
    return new_record(spec, error)


def class_counts(part) -> dict[str, int]:
    """Tracks per class (single-label) or positives per tag (multi-label) of one split: how it was stratified."""
    if not len(part):
        return {c: 0 for c in part.classes}
    targets = np.asarray(part.targets)
    counts = targets.sum(axis=0) if part.multilabel else np.bincount(targets, minlength=len(part.classes))
    return {c: int(n) for c, n in zip(part.classes, counts)}


def execute(spec: TrialSpec) -> dict:
    """Run one trial and return its record (status "ok" or "failed").

    A track whose audio turns out unusable only when the trial decodes it (validation
    passed it) is skipped like the ones validation found: the trial starts again without
    it, and the record lists it among `skipped` with the reason. Features computed before
    are in the cache, so the restart costs little.
    """
    from mirbench.cache import using
    from mirbench.run.allocator import keep_freed_memory, release_freed_memory

    keep_freed_memory()  # a network's large buffers are reused from step to step, not mapped afresh
    try:
        with using(spec.cache_dir):  # the cache root the run was planned with, in whichever process this runs
            while True:
                record, unusable = attempt(spec)
                if unusable is None:
                    return record
                spec = replace(spec, skipped={**spec.skipped, **unusable})
    finally:
        release_freed_memory()  # what the trial kept goes back before the next one


def attempt(spec: TrialSpec) -> tuple[dict, dict | None]:
    """One run of a trial: its record, and {track id: reason} when a track's audio failed to decode (else None)."""
    import torch

    from mirbench.audio import AudioError
    from mirbench.datasets import open_dataset
    from mirbench.device import memory_meter, out_of_memory, precision_used, release, resolve_device, resolve_precision
    from mirbench.features import FeatureStore
    from mirbench.metrics import evaluate
    from mirbench.provenance import provenance
    from mirbench.system import Stopwatch, TrackSet

    record = started(failed_record(spec), spec)
    watch = Stopwatch()
    device = unusable = None
    try:
        torch.set_num_threads(max(1, spec.threads))
        device = resolve_device(spec.device)
        precision = resolve_precision(spec.precision, device)
        with_machine(record, provenance(device), precision)
        dataset = open_dataset(spec.dataset, spec.data_root)
        with_data(record, dataset.describe(), spec.identity.get("data"))  # the audio bytes' fingerprint too
        store = FeatureStore(Path(spec.cache_dir) if spec.cache_dir else None, device=device)
        parts = {
            name: TrackSet(dataset, dataset.subset(spec.usable(ids)), store, device, spec.data_root, precision)
            for name, ids in (("train", spec.fold.train), ("valid", spec.fold.valid), ("test", spec.fold.test))
        }
        with_fold(record, {name: len(part) for name, part in parts.items()},
                  {name: class_counts(part) for name, part in parts.items()})
        if not len(parts["train"]) or not len(parts["test"]):
            raise ValueError("the fold has no usable training or test tracks")
        seed_everything(spec.seed)
        system = build_system(spec.variant, spec.seed, spec.system_target)
        precision_used(reset=True)
        with memory_meter(device) as record["resources"]:  # filled on exit, a failed trial's too
            with watch.time("fit"):
                system.fit(parts["train"], parts["valid"] if len(parts["valid"]) else None)
            fit_features = store.seconds
            with watch.time("predict"):
                scores = np.asarray(system.predict(parts["test"]), dtype=np.float64)
        record["provenance"]["precision"] = precision_used()  # what the trial computed in, not what was asked
        truth = parts["test"].targets
        expected = (len(parts["test"]), len(dataset.classes))
        if scores.shape != expected:
            raise ValueError(f"predict returned scores of shape {scores.shape}, expected {expected}")
        values = evaluate(truth, scores, dataset.task, list(spec.metrics) or None)
        with_result(record, values, {"track_ids": parts["test"].ids, "scores": scores, "truth": truth}, system,
                    timings(store.seconds, fit_features, watch.seconds, store.hits, store.misses))
    except AudioError as exc:
        if exc.track_id is None or exc.track_id in spec.skipped:  # not one track's audio: the trial fails
            with_error(record, {"type": "AudioError", "message": str(exc)}, traceback.format_exc())
        else:
            unusable = {exc.track_id: f"{exc} (found during the trial)"}
    except Exception as exc:  # a failed trial is a result too; the run goes on
        reason = out_of_memory(exc, device) or {"type": type(exc).__name__, "message": str(exc)}
        with_error(record, reason, traceback.format_exc())
    if device is not None:
        release(device)  # after the except block: the traceback no longer holds the trial's tensors
    return finished(record), unusable


def crashed(spec: TrialSpec, kind: str = "WorkerDied", message: str = "the worker process running this trial died") -> dict:
    """The record of a trial whose worker process died (killed, out of memory), or was lost on a cluster."""
    record = failed_record(spec, {"type": kind, "message": message, "traceback": ""})
    record["provenance"]["finished_at"] = now()
    return record
