"""Every split is what its protocol declares, and the report shows it: class counts per split, per fold.

A validation set that is one genre because the file was sorted and never
shuffled must not be possible unnoticed: stratified protocols spread every
class over every part even when the index is sorted by class, and each
trial records (and the report prints) how many tracks of each class went
where.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mirbench.datasets.base import Dataset, Track
from mirbench.registry import protocols
from mirbench.report import markdown
from mirbench.results import ResultStore
from mirbench.run import RunOptions, run_suite
from mirbench.suite import load_suite


def sorted_by_class() -> Dataset:
    """90 tracks listed class by class (what a sorted metadata file gives), one group per track."""
    tracks = [Track(f"{c}{i:02d}", f"/nowhere/{c}{i}.wav", (c,), f"{c}{i}") for c in "abc" for i in range(30)]
    return Dataset(tracks, ("a", "b", "c"), "single-label", 22050, name="sorted")


@pytest.mark.parametrize("proportions", [(0.5, 0.25, 0.25), "k-fold"])
def test_every_part_of_a_sorted_index_holds_every_class_in_proportion(proportions):
    dataset = sorted_by_class()
    folds = protocols.get("stratified-kfold")(folds=4, proportions=proportions, seed=0).folds(dataset)
    label = {t.id: t.labels[0] for t in dataset.tracks}
    for fold in folds:
        for part, share in zip((fold.train, fold.valid, fold.test), (0.5, 0.25, 0.25)):
            counts = Counter(label[i] for i in part)
            assert all(abs(counts[c] - 30 * share) <= 1 for c in "abc"), (fold.index, counts)  # never one class


def test_trials_record_and_the_report_prints_class_counts_per_split(write_suite, tmp_path):
    options = RunOptions(results=tmp_path / "results", progress=False, device="cpu")
    run_suite(load_suite(write_suite()), options)
    store = ResultStore(options.results)
    records = list(store.records())
    for r in records:
        counts = r["fold"]["class_counts"]
        assert set(counts) == {"train", "valid", "test"}
        assert {p: sum(c.values()) for p, c in counts.items()} == {p: r["fold"][p] for p in counts}
        assert all(n > 0 for part in counts.values() for n in part.values())  # stratified: every class everywhere
    text = markdown(store.read_suite(), records, "results", None)
    section = text.split("## Split sizes by class", 1)[1].split("\n## ", 1)[0]
    first = next(r for r in records if r["fold"]["index"] == 0)["fold"]
    name = next(iter(first["class_counts"]["train"]))
    expected = "/".join(str(first["class_counts"][p][name]) for p in ("train", "valid", "test"))
    assert f"| {name} " in section and expected in section
    assert "| tracks " in section and f"{first['train']}/{first['valid']}/{first['test']}" in section
