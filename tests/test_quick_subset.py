"""--quick's subset of tracks: on a fixed split every class keeps tracks in every part that has them."""

from __future__ import annotations

from collections import Counter

from mirbench.datasets import open_dataset
from mirbench.protocols import quick_subset
from mirbench.run.plan import RunOptions, plan
from mirbench.suite import load_suite
from tests.conftest import SMOKE_SUITE

CLASSES = ("high", "low", "mid")


def fixed_split_suite(write_suite, per_class: int = 2) -> str:
    """One test and one validation track per class (the first of each), the other five of each class to train."""
    test = [f"{c}.000" for c in CLASSES]
    valid = [f"{c}.001" for c in CLASSES]
    train = [f"{c}.{k:03d}" for c in CLASSES for k in range(2, 6)]
    return write_suite(f"""
version = "1"
metrics = ["accuracy"]
seeds = [0]
[dataset]
name = "synthetic"
per_class = 6
[protocol]
name = "fixed-split"
train = {train!r}
valid = {valid!r}
test = {test!r}
[[systems]]
name = "mfcc"
[quick]
tracks_per_class = {per_class}
""")


def kept_per_part(spec) -> dict[str, Counter]:
    return {part: Counter(i.split(".")[0] for i in getattr(spec.fold, part) if i in spec.keep)
            for part in ("train", "valid", "test")}


def test_quick_keeps_every_class_in_every_part_of_a_fixed_split(write_suite):
    suite = load_suite(fixed_split_suite(write_suite))
    dataset = open_dataset(suite.dataset)
    spec, = plan(suite, dataset, RunOptions(quick=True), skipped={})
    kept = kept_per_part(spec)
    assert all(kept[part][c] >= 1 for part in kept for c in CLASSES), kept
    assert sum(kept["train"].values()) < 12  # still a subset: the point of --quick
    assert spec.keep == frozenset(quick_subset(dataset, 2, fold=spec.fold))  # deterministic


def test_quick_on_a_fixed_split_skips_no_class_for_an_unusable_track(write_suite):
    """A class whose only test track is unusable has no test track to keep; the others keep theirs."""
    suite = load_suite(fixed_split_suite(write_suite))
    dataset = open_dataset(suite.dataset)
    spec, = plan(suite, dataset, RunOptions(quick=True), skipped={"low.000": "unreadable"})
    kept = kept_per_part(spec)
    assert "low.000" not in spec.keep and kept["test"] == Counter({"high": 1, "mid": 1})
    assert all(kept[part]["low"] >= 1 for part in ("train", "valid"))


def test_quick_on_stratified_folds_takes_one_subset_of_the_whole_dataset(write_suite):
    suite = load_suite(write_suite(SMOKE_SUITE + "\n[quick]\ntracks_per_class = 3\n"))  # stratified-kfold, 2 folds
    dataset = open_dataset(suite.dataset)
    specs = plan(suite, dataset, RunOptions(quick=True), skipped={})
    whole = frozenset(quick_subset(dataset, 3))
    assert specs and all(s.keep == whole for s in specs)
    assert Counter(dataset[i].labels[0] for i in whole) == Counter({c: 4 for c in CLASSES})  # whole groups of 2
