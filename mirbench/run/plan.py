"""Plan a suite's trials: every (variant, fold, seed), with --quick restrictions, each with its identity."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mirbench.cache import cache_root
from mirbench.datasets.base import Dataset
from mirbench.protocols import folds_of, quick_subset, redraws_folds
from mirbench.run.trial import TrialSpec, trial_id
from mirbench.suite import Suite


@dataclass
class RunOptions:
    """What a run is asked to do, as the command line gives it."""

    quick: bool = False
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16 (mirbench.device)
    workers: int = 1
    results: Path | None = None
    data_root: str | None = None
    retry_failed: bool = True
    progress: bool = True
    cluster: str | None = None  # a Dask scheduler address, or local:N (mirbench.run.cluster)


def plan(suite: Suite, dataset: Dataset, options: RunOptions, skipped: dict, kinds: dict | None = None) -> list[TrialSpec]:
    """Every (variant, fold, seed) of the suite, with --quick restrictions applied, each with its identity.

    `skipped` maps unusable track ids to their reason, `kinds` to their kind of problem (both from validation).
    """
    from mirbench.run.identity import (
        code_dependencies, code_versions, data_fingerprint, digest, identity, other_data, suite_parts,
    )
    from mirbench.registry import systems

    folds = folds_of(dataset, suite.protocol)
    seeds = list(suite.seeds)
    variants = list(suite.variants)
    quick = suite.quick if options.quick else {}
    if options.quick:
        folds = folds[: quick.get("folds", 2)]
        seeds = seeds[: quick.get("seeds", 1)]
        overrides = quick.get("params", {})
        accepted: dict = {}  # system name -> its parameters: a registry lookup scans the entry points
        variants = [apply_overrides(v, overrides, accepted) for v in variants]
    keeps = quick_keeps(suite.protocol, dataset, folds, quick.get("tracks_per_class"), skipped)
    cache_dir = str(cache_root())
    threads = max(1, (os.cpu_count() or 1) // max(1, options.workers))
    grid = [(variant, fold, seed) for variant in variants for fold in folds for seed in seeds]
    devices = trial_devices(options, len(grid))
    targets = {v.system: systems.target(v.system) for v in variants}  # a registry lookup scans entry points
    versions = {name: code_versions(systems.get(name), systems.entries()[name].origin) for name in targets}
    used = {i for fold in folds for i in fold.train + fold.valid + fold.test
            if keeps[fold.index] is None or i in keeps[fold.index]}
    data = data_fingerprint(dataset, used, skipped, kinds)
    memo: dict = {}
    other = {v.id: other_data(systems.get(v.system), v.params, options.data_root, memo) for v in variants}
    code = {v.id: versions[v.system] for v in variants}
    for v in variants:
        outside = code_dependencies(systems.get(v.system), v.params)
        if outside is not None:
            code[v.id] = {**code[v.id], "dependencies": outside}
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
                              fold.split_hash(), variant.describe(), seed, code[variant.id]),
        )
        for (variant, fold, seed), device in zip(grid, devices)
    ]


def quick_keeps(protocol: dict, dataset: Dataset, folds: list, per_class: int | None, skipped) -> dict:
    """Fold index -> the --quick subset of its tracks (None: all). Stratified folds are redrawn from any data, so
    one subset of the whole dataset feeds them; a fixed split's parts are given, so each part is subset on its own."""
    if per_class is None:
        return {fold.index: None for fold in folds}
    if redraws_folds(protocol):
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
