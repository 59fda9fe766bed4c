"""Protocols: deterministic, disjoint, covering, stratified, group-preserving folds; fixed splits and their errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mirbench.datasets.base import Dataset, Track
from mirbench.protocols import FixedSplit, Fold, Protocol, StratifiedGroupKFold
from mirbench.registry import protocols

PARTS = ("train", "valid", "test")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def single_label(counts: dict[str, int], group_sizes: dict[str, list[int]] | None = None, name="fake") -> Dataset:
    """A single-label dataset with `counts[c]` tracks of class c; with `group_sizes`, class c's tracks
    form groups of the given sizes instead. Paths are dummies: Dataset never touches them."""
    tracks = []
    for c, n in counts.items():
        sizes = (group_sizes or {}).get(c)
        if sizes is None:
            tracks += [Track(f"{c}.{j:05d}", Path(f"{c}/{c}.{j:05d}.wav"), (c,)) for j in range(n)]
            continue
        assert sum(sizes) == n
        for g, size in enumerate(sizes):
            tracks += [Track(f"{c}.g{g}.{j}", Path("x.wav"), (c,), group=f"{c}-work{g}") for j in range(size)]
    return Dataset(tracks, list(counts), "single-label", 22050, name=name)


def gtzan_like() -> Dataset:
    return single_label({g: 100 for g in "blues classical country disco hiphop jazz metal pop reggae rock".split()})


def multi_label(n: int = 300, n_tags: int = 12, seed: int = 0, groups: bool = False) -> Dataset:
    """Tags with very different frequencies (tag0 on half the tracks, the last ones on a handful)."""
    rng = np.random.default_rng(seed)
    tags = [f"tag{k}" for k in range(n_tags)]
    freq = 0.5 / (1 + np.arange(n_tags)) ** 1.5
    tracks = []
    for i in range(n):
        labels = tuple(t for t, f in zip(tags, freq) if rng.random() < f)
        group = f"album{i // 4}" if groups else None
        tracks.append(Track(f"clip{i:04d}", Path("x.mp3"), labels, group=group))
    return Dataset(tracks, tags, "multi-label", 16000, name="tags")


def part_of(fold: Fold) -> dict[str, str]:
    return {i: part for part in PARTS for i in getattr(fold, part)}


def class_counts(dataset: Dataset, ids) -> Counter:
    return Counter(dataset[i].labels[0] for i in ids)


def check_partition(dataset: Dataset, fold: Fold) -> None:
    """Disjoint, sorted parts that together hold every track of the dataset."""
    ids = [i for part in PARTS for i in getattr(fold, part)]
    assert len(ids) == len(set(ids)) == len(dataset)
    assert set(ids) == {t.id for t in dataset.tracks}
    for part in PARTS:
        assert list(getattr(fold, part)) == sorted(getattr(fold, part))


# ----------------------------------------------------------------------------- repeated random splits


def test_gtzan_sizes_are_exact():
    dataset = gtzan_like()
    folds = StratifiedGroupKFold(folds=4, proportions=(0.5, 0.25, 0.25), seed=0).folds(dataset)
    assert [f.index for f in folds] == [0, 1, 2, 3]
    for fold in folds:
        check_partition(dataset, fold)
        assert (len(fold.train), len(fold.valid), len(fold.test)) == (500, 250, 250)
        for part, per_class in zip(PARTS, (50, 25, 25)):
            assert set(class_counts(dataset, getattr(fold, part)).values()) == {per_class}
    assert len({f.split_hash() for f in folds}) == 4  # four different random splits


def test_same_seed_same_folds_different_seed_different_folds():
    dataset = gtzan_like()
    a = StratifiedGroupKFold(seed=3).folds(dataset)
    b = StratifiedGroupKFold(seed=3).folds(dataset)
    c = StratifiedGroupKFold(seed=4).folds(dataset)
    assert a == b
    assert [f.split_hash() for f in a] == [f.split_hash() for f in b]
    assert all(x.test != y.test for x, y in zip(a, c))


def test_folds_do_not_depend_on_index_order_or_global_rng():
    dataset = gtzan_like()
    shuffled = list(dataset.tracks)
    np.random.default_rng(1).shuffle(shuffled)
    reordered = Dataset(shuffled, dataset.classes, "single-label", 22050)
    expected = StratifiedGroupKFold(seed=7).folds(dataset)
    np.random.seed(123)  # the global RNG must play no part
    assert StratifiedGroupKFold(seed=7).folds(reordered) == expected


def test_first_folds_stable_when_more_are_asked_for():
    dataset = gtzan_like()
    assert StratifiedGroupKFold(folds=6).folds(dataset)[:2] == StratifiedGroupKFold(folds=2).folds(dataset)


@pytest.mark.parametrize("proportions", [(0.5, 0.25, 0.25), (0.6, 0.2, 0.2), (0.7, 0.1, 0.2), (0.8, 0.0, 0.2)])
@pytest.mark.parametrize("seed", range(5))
def test_stratified_within_one_track_of_target(proportions, seed):
    rng = np.random.default_rng(seed)
    counts = {f"c{k}": int(n) for k, n in enumerate(rng.integers(1, 40, size=9))}
    dataset = single_label(counts)
    target = np.array(proportions)
    for fold in StratifiedGroupKFold(folds=3, proportions=proportions, seed=seed).folds(dataset):
        check_partition(dataset, fold)
        sizes = np.array([len(getattr(fold, part)) for part in PARTS])
        assert np.abs(sizes - len(dataset) * target).max() < 1
        for c, n in counts.items():
            got = np.array([class_counts(dataset, getattr(fold, part))[c] for part in PARTS])
            assert np.abs(got - n * target).max() < 1, (c, n, got)
        if proportions[1] == 0:
            assert fold.valid == ()


def test_rare_classes_go_to_train_first_and_never_crash():
    dataset = single_label({"common": 40, "one": 1, "two": 2})
    for fold in StratifiedGroupKFold(folds=5, seed=2).folds(dataset):
        check_partition(dataset, fold)
        assert class_counts(dataset, fold.train)["one"] == 1
        assert class_counts(dataset, fold.train)["two"] == 1
        assert class_counts(dataset, fold.test)["two"] == 1  # test before valid when they are equal


def test_whole_groups_of_unequal_size():
    rng = np.random.default_rng(11)
    group_sizes = {f"c{k}": [int(s) for s in rng.integers(1, 12, size=rng.integers(3, 15))] for k in range(8)}
    dataset = single_label({c: sum(s) for c, s in group_sizes.items()}, group_sizes)
    groups = {t.id: t.group for t in dataset.tracks}
    target = len(dataset) * np.array([0.5, 0.25, 0.25])
    for fold in StratifiedGroupKFold(folds=4, seed=1).folds(dataset):
        check_partition(dataset, fold)
        where = part_of(fold)
        parts_of_group = Counter()
        for group in set(groups.values()):
            parts_of_group[group] = len({where[i] for i, g in groups.items() if g == group})
        assert set(parts_of_group.values()) == {1}  # no group is split
        sizes = np.array([len(getattr(fold, part)) for part in PARTS])
        assert np.abs(sizes - target).max() <= 11  # within one of the largest groups
        for c in group_sizes:  # every class with >= 3 groups is in every part
            assert all(class_counts(dataset, getattr(fold, part))[c] > 0 for part in PARTS)


def test_class_with_too_few_groups_keeps_train_first():
    dataset = single_label({"a": 40, "b": 20, "c": 9}, {"b": [10, 10], "c": [9]})
    for fold in StratifiedGroupKFold(folds=4, seed=5).folds(dataset):
        check_partition(dataset, fold)
        assert class_counts(dataset, fold.train)["c"] == 9
        assert class_counts(dataset, fold.train)["b"] == 10
        assert class_counts(dataset, fold.test)["b"] == 10


def test_groups_false_ignores_groups():
    dataset = single_label({"a": 100, "b": 100}, {"a": [50, 50], "b": [25, 25, 25, 25]})
    for fold in StratifiedGroupKFold(folds=2, groups=False).folds(dataset):
        assert (len(fold.train), len(fold.valid), len(fold.test)) == (100, 50, 50)
        assert set(class_counts(dataset, fold.test).values()) == {25}
    grouped = StratifiedGroupKFold(folds=2, groups=True).folds(dataset)
    assert all(class_counts(dataset, f.train)["a"] in (0, 50, 100) for f in grouped)


def test_multi_label_stratifies_on_rarest_label():
    dataset = multi_label()
    counts = Counter(label for t in dataset.tracks for label in t.labels)
    rarity = {label: (counts[label], k) for k, label in enumerate(dataset.classes)}
    rarest = {t.id: min(t.labels, key=rarity.get) for t in dataset.tracks if t.labels}
    strata = Counter(rarest.values())
    target = len(dataset) * np.array([0.5, 0.25, 0.25])
    for fold in StratifiedGroupKFold(folds=3, seed=9).folds(dataset):
        check_partition(dataset, fold)
        sizes = np.array([len(getattr(fold, part)) for part in PARTS])
        assert np.abs(sizes - target).max() < 1
        for label, n in strata.items():
            got = np.array([sum(rarest.get(i) == label for i in getattr(fold, part)) for part in PARTS])
            assert np.abs(got - n * np.array([0.5, 0.25, 0.25])).max() < 1, (label, n, got)
            assert got[0] > 0  # every stratum is represented in train


def test_multi_label_with_groups():
    dataset = multi_label(groups=True)
    albums = {t.id: t.group for t in dataset.tracks}
    for fold in StratifiedGroupKFold(folds=2, seed=1).folds(dataset):
        check_partition(dataset, fold)
        where = part_of(fold)
        by_album = {}
        for i, album in albums.items():
            assert by_album.setdefault(album, where[i]) == where[i]


# ----------------------------------------------------------------------------- k-fold rotation


@pytest.mark.parametrize("k", [3, 5, 10])
def test_kfold_rotation(k):
    counts = {"a": 37, "b": 20, "c": 13, "d": 2}
    dataset = single_label(counts)
    folds = StratifiedGroupKFold(folds=k, proportions=None, seed=0).folds(dataset)
    assert len(folds) == k
    tested = Counter(i for f in folds for i in f.test)
    validated = Counter(i for f in folds for i in f.valid)
    assert set(tested.values()) == set(validated.values()) == {1} and len(tested) == len(dataset)
    for i, fold in enumerate(folds):
        check_partition(dataset, fold)
        assert fold.valid == folds[(i + 1) % k].test
        assert abs(len(fold.test) - len(dataset) / k) < 1
        for c, n in counts.items():
            assert abs(class_counts(dataset, fold.test)[c] - n / k) < 1


def test_kfold_spelling_for_toml():
    dataset = gtzan_like()
    a = StratifiedGroupKFold(folds=4, proportions="k-fold")
    assert a.folds(dataset) == StratifiedGroupKFold(folds=4, proportions=None).folds(dataset)
    assert a.params() == {"folds": 4, "proportions": "k-fold", "seed": 0, "groups": True}
    assert StratifiedGroupKFold(**a.params()).folds(dataset) == a.folds(dataset)


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"folds": 0}, "folds must be an integer >= 1, got 0"),
        ({"folds": 2.5}, "folds must be an integer >= 1"),
        ({"folds": True}, "folds must be an integer >= 1"),
        ({"folds": 2, "proportions": None}, "folds must be >= 3 for a k-fold rotation"),
        ({"proportions": (0.5, 0.25, 0.2)}, r"proportions must sum to 1, got \[0.5, 0.25, 0.2\]"),
        ({"proportions": (1.0, 0.0, 0.0)}, r"proportions must each be in \[0, 1\)"),
        ({"proportions": (1.2, -0.1, -0.1)}, r"proportions must each be in \[0, 1\)"),
        ({"proportions": (0.5, float("nan"), 0.5)}, r"proportions must each be in \[0, 1\)"),
        ({"proportions": (0.5, 0.5)}, "proportions must be three numbers"),
        ({"proportions": "half"}, "proportions must be three numbers"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"seed": 1.5}, "seed must be a non-negative integer"),
        ({"groups": "yes"}, "groups must be true or false"),
    ],
)
def test_parameter_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StratifiedGroupKFold(**kwargs)


def test_params_and_registry():
    p = StratifiedGroupKFold(folds=3, proportions=[0.6, 0.2, 0.2], seed=2, groups=False)
    assert p.params() == {"folds": 3, "proportions": [0.6, 0.2, 0.2], "seed": 2, "groups": False}
    assert p.describe() == {"name": "stratified-kfold", "params": p.params()}
    json.dumps(p.describe())
    assert protocols.get("stratified-kfold") is StratifiedGroupKFold
    assert protocols.get("fixed-split") is FixedSplit
    assert issubclass(StratifiedGroupKFold, Protocol) and FixedSplit.name == "fixed-split"
    assert abs(sum(StratifiedGroupKFold(proportions=(0.7, 0.2, 0.1)).proportions) - 1) < 1e-9


def test_empty_dataset_is_an_error():
    with pytest.raises(ValueError, match="has no tracks to split"):
        StratifiedGroupKFold().folds(Dataset([], ["a"], "single-label", 1, name="empty"))


# ----------------------------------------------------------------------------- Fold and its hash


def test_split_hash_is_sha256_of_ordered_parts():
    fold = Fold(0, ("b", "a"), ("c",), ("d", "e"))
    assert fold.train == ("a", "b")  # parts are kept sorted
    # printf '%s' '[["a","b"],["c"],["d","e"]]' | sha256sum
    expected = "6d119cdad0c17abf260a8f75b3ddcbb82c3b349cb3b4b815bffa00aec414645b"
    assert fold.split_hash() == expected
    assert Fold(5, ("a", "b"), ("c",), ("d", "e")).split_hash() == expected  # the index is not part of it


def test_split_hash_changes_with_the_partition():
    base = Fold(0, ("a", "b"), ("c",), ("d",)).split_hash()
    assert Fold(0, ("d",), ("c",), ("a", "b")).split_hash() != base  # train and test swapped
    assert Fold(0, ("a",), ("b", "c"), ("d",)).split_hash() != base  # one id moved
    assert Fold(0, ("a", "b"), (), ("c", "d")).split_hash() != base
    assert Fold(0, ("a", "b"), ("c",), ("d", "x")).split_hash() != base


def test_split_hash_stable_across_runs():
    """Pinned: the fold a seed draws and its hash are what results recorded before (a change orphans them)."""
    fold = StratifiedGroupKFold(folds=1, seed=0).folds(single_label({"a": 4, "b": 4}))[0]
    assert (fold.train, fold.valid, fold.test) == (
        ("a.00001", "a.00003", "b.00000", "b.00003"), ("a.00002", "b.00002"), ("a.00000", "b.00001"))
    # printf '%s' '[["a.00001","a.00003","b.00000","b.00003"],["a.00002","b.00002"],["a.00000","b.00001"]]' | sha256sum
    assert fold.split_hash() == "79398d4254b4d63fb36782b8eb7a93cbad402f12741bc6b2880bf6232d31f578"


def test_fold_rejects_overlap():
    with pytest.raises(ValueError, match="track 'b' is in both 'train' and 'test'"):
        Fold(0, ("a", "b"), (), ("b",))
    with pytest.raises(ValueError, match="track 'a' is twice in 'valid'"):
        Fold(0, (), ("a", "a"), ())
    with pytest.raises(TypeError, match="not a string"):
        Fold(0, "abc", (), ())


# ----------------------------------------------------------------------------- fixed splits


def test_fixed_split_from_lists():
    dataset = single_label({"a": 5, "b": 5})
    ids = sorted(t.id for t in dataset.tracks)
    fold, = FixedSplit(train=ids[5:], valid=ids[:1], test=ids[3:1:-1]).folds(dataset)
    assert fold == Fold(0, tuple(ids[5:]), (ids[0],), (ids[2], ids[3]))
    assert ids[1] not in part_of(fold) and ids[4] not in part_of(fold)  # unlisted tracks are left out


def test_fixed_split_from_files(tmp_path):
    dataset = single_label({"a": 3})
    (tmp_path / "train.txt").write_text("# train ids\na.00000\n\na.00001\n")
    (tmp_path / "test.txt").write_text("a.00002\n")
    split = FixedSplit(train=tmp_path / "train.txt", test=str(tmp_path / "test.txt"))
    assert split.folds(dataset) == [Fold(0, ("a.00000", "a.00001"), (), ("a.00002",))]
    assert split.params() == {"train": str(tmp_path / "train.txt"), "valid": [], "test": str(tmp_path / "test.txt")}


def test_fixed_split_unknown_ids_are_listed():
    dataset = single_label({"a": 3}, name="tiny")
    split = FixedSplit(train=["a.00000", "x1", "x2", "x3", "x4", "x5", "x6", "x7"], test=["a.00001"])
    with pytest.raises(ValueError, match=r"7 ids in 'train' are not tracks of dataset 'tiny': 'x1', .*'x5' and 2 more"):
        split.folds(dataset)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train": ["a", "b"], "test": ["b", "c"]}, "parts overlap: 1 ids are in both 'train' and 'test': 'b'"),
        ({"train": ["a"], "valid": ["c", "a"]}, "in both 'train' and 'valid'"),
        ({"train": ["a", "a"], "test": ["b"]}, "1 ids appear twice in 'train': 'a'"),
        ({"train": ["a", 3]}, "'train' must hold track ids \\(strings\\), got 3"),
        ({"train": 5}, "'train' must be a list of track ids or a path, got 5"),
        ({"train": "/nonexistent/mirbench/ids.txt"}, "cannot read the 'train' id list '/nonexistent/mirbench/ids.txt'"),
    ],
)
def test_fixed_split_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FixedSplit(**kwargs)


def test_fixed_split_needs_train_and_test():
    dataset = single_label({"a": 3})
    with pytest.raises(ValueError, match="'test' is empty"):
        FixedSplit(train=["a.00000"]).folds(dataset)
    with pytest.raises(ValueError, match="'train' is empty"):
        FixedSplit(test=["a.00000"]).folds(dataset)


@pytest.mark.skipif(not (SHARED_DATA / "gtzan").is_dir(), reason="needs ../shared/data (the published GTZAN lists)")
def test_fixed_split_reads_the_published_gtzan_fault_filtered_lists():
    files = {part: SHARED_DATA / "gtzan" / f"{part}_filtered.txt" for part in PARTS}
    ids = [line for f in files.values() for line in f.read_text().split()]
    tracks = [Track(i, Path(i), (i.split("/")[0],)) for i in ids]
    dataset = Dataset(tracks, sorted({t.labels[0] for t in tracks}), "single-label", 22050)
    fold, = FixedSplit(**files).folds(dataset)
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (443, 197, 290)
    assert "jazz/jazz.00054.wav" in fold.train
