"""Protocols: a dataset -> a deterministic list of train/valid/test folds.

A `Fold` holds sorted track ids and a hash that names the split in results.
`StratifiedGroupKFold` draws stratified splits that never cut a group (repeated
random splits, or a k-fold rotation); `FixedSplit` replays published id lists.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from mirbench.datasets.base import Dataset, UnknownEntryError
from mirbench.errors import InputError

PARTS = ("train", "valid", "test")
KFOLD = "k-fold"  # proportions=None spelt so that a TOML suite can ask for it
EPS = 1e-9
CARRY = 0.5  # how far a stratum of groups leans to make up the shortfall of the strata dealt before it


def _some(ids: Sequence[str], k: int = 5) -> str:
    shown = ", ".join(repr(i) for i in list(ids)[:k])
    return shown + (f" and {len(ids) - k} more" if len(ids) > k else "")


@dataclass(frozen=True)
class Fold:
    """One split of a dataset: disjoint train/valid/test track ids, each part sorted."""

    index: int
    train: tuple[str, ...]
    valid: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self):
        seen: dict[str, str] = {}
        for part in PARTS:
            ids = getattr(self, part)
            if isinstance(ids, str):
                raise TypeError(f"Fold.{part} must be a sequence of track ids, not a string")
            ids = tuple(sorted(ids))
            object.__setattr__(self, part, ids)
            for i in ids:
                if i in seen:
                    where = f"twice in {part!r}" if seen[i] == part else f"in both {seen[i]!r} and {part!r}"
                    raise ValueError(f"fold {self.index}: track {i!r} is {where}")
                seen[i] = part

    def split_hash(self) -> str:
        """sha256 of the ids of train, valid and test in that order (sorted within a part).

        It identifies the partition in results: moving one id between parts, or
        swapping parts, changes it; the fold index does not enter it.
        """
        text = json.dumps([list(self.train), list(self.valid), list(self.test)], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Protocol:
    """Turns a dataset into folds; parameters are given to the constructor and reported by `params`."""

    name: ClassVar[str] = "protocol"
    #: The dataset a published protocol belongs to (None: applies to any dataset).
    dataset: ClassVar[str | None] = None

    def params(self) -> dict:
        raise NotImplementedError

    def folds(self, dataset: Dataset) -> list[Fold]:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "params": self.params()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


# ----------------------------------------------------------------------------- stratified, grouped


class StratifiedGroupKFold(Protocol):
    """Stratified splits that keep groups whole.

    With `proportions` (train, valid, test): `folds` independent random
    partitions; fold i draws from SeedSequence(seed, spawn_key=(i,)), so the
    first folds do not change when more are asked for. With proportions=None
    (or "k-fold", the spelling for TOML): a k-fold rotation, folds=k >= 3: the
    data are cut once into k stratified parts and fold i tests on part i,
    validates on part i+1 (mod k) and trains on the other k-2, so every track is
    tested exactly once. Sigtia & Dixon (2014) split GTZAN "into four 50/25/25
    train, validation, test splits": `gtzan-random-4fold` reads that as the
    rotation with k=4 (its four test sets partition GTZAN); the other reading,
    four independent splits, is folds=4, proportions=(0.5, 0.25, 0.25).

    Strata: a single-label track's class; a multi-label track's rarest label
    (fewest tracks in the dataset, ties by class order; no label is a stratum of
    its own). A group (or a lone track) takes its tracks' most common stratum.
    Sizes: per-part totals are the largest-remainder rounding of the
    proportions; per-stratum targets are rounded so that they add up to those
    totals (each within 1 track of the exact share), and units are dealt largest
    first to the part furthest below its target. A stratum with fewer units
    than non-empty parts is dealt train first, then the larger of test and valid
    (test on ties); in a rotation, to the parts furthest below their totals. Units are
    taken in id order before shuffling, so folds do not depend on the order of
    the dataset's index.
    """

    name: ClassVar[str] = "stratified-kfold"

    def __init__(self, folds=4, proportions=(0.5, 0.25, 0.25), seed=0, groups=True):
        if isinstance(folds, bool) or not isinstance(folds, numbers.Integral) or folds < 1:
            raise InputError(f"folds must be an integer >= 1, got {folds!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {seed!r}")
        if not isinstance(groups, bool):
            raise InputError(f"groups must be true or false, got {groups!r}")
        self.n_folds = int(folds)
        self.seed = int(seed)
        self.groups = groups
        rotation = proportions is None or (isinstance(proportions, str) and proportions == KFOLD)
        self.proportions = None if rotation else _check_proportions(proportions)
        if self.proportions is None and self.n_folds < 3:
            raise InputError(
                f"folds must be >= 3 for a k-fold rotation (proportions=None: test and validation "
                f"are one of the k parts each), got {folds!r}"
            )

    def params(self) -> dict:
        proportions = KFOLD if self.proportions is None else list(self.proportions)
        return {"folds": self.n_folds, "proportions": proportions, "seed": self.seed, "groups": self.groups}

    def folds(self, dataset: Dataset) -> list[Fold]:
        if not len(dataset):
            raise InputError(f"dataset {dataset.name!r} has no tracks to split")
        units = _units(dataset, self.groups)
        strata = _unit_strata(dataset, units)
        sizes = np.array([len(u) for u in units], dtype=np.int64)

        def ids_of(parts: np.ndarray, which) -> list[str]:
            return [i for u, p in zip(units, parts) if p in which for i in u]

        if self.proportions is None:
            k = self.n_folds
            rng = np.random.default_rng(np.random.SeedSequence(self.seed))
            parts = _partition(sizes, strata, np.full(k, 1.0 / k), rng, priority=None)
            return [
                Fold(
                    i,
                    train=ids_of(parts, {j for j in range(k) if j not in (i, (i + 1) % k)}),
                    valid=ids_of(parts, {(i + 1) % k}),
                    test=ids_of(parts, {i}),
                )
                for i in range(k)
            ]
        # a scarce stratum goes to train first, then to the larger of test and valid (test on ties)
        priority = (0, *sorted((2, 1), key=lambda q: -self.proportions[q]))
        folds = []
        for i in range(self.n_folds):
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(i,)))
            parts = _partition(sizes, strata, np.array(self.proportions), rng, priority)
            folds.append(Fold(i, ids_of(parts, {0}), ids_of(parts, {1}), ids_of(parts, {2})))
        return folds


def _check_proportions(proportions) -> tuple[float, float, float]:
    message = f"proportions must be three numbers (train, valid, test), None or {KFOLD!r}, got {proportions!r}"
    if isinstance(proportions, (str, bytes)):
        raise InputError(message)
    try:
        values = tuple(float(p) for p in proportions)
    except (TypeError, ValueError):
        raise InputError(message) from None
    if len(values) != 3:
        raise InputError(message)
    if not all(math.isfinite(p) and 0.0 <= p < 1.0 for p in values):
        raise InputError(f"proportions must each be in [0, 1), got {list(values)}")
    if abs(sum(values) - 1.0) > EPS:
        raise InputError(f"proportions must sum to 1, got {list(values)} (sum {sum(values)!r})")
    return values  # type: ignore[return-value]


def _units(dataset: Dataset, use_groups: bool) -> list[tuple[str, ...]]:
    """The indivisible units of a split: whole groups, and lone tracks; in a canonical (id) order."""
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    for t in sorted(dataset.tracks, key=lambda t: t.id):
        key = ("group", str(t.group)) if use_groups and t.group is not None else ("track", t.id)
        members[key].append(t.id)
    return [tuple(ids) for _, ids in sorted(members.items())]


def _unit_strata(dataset: Dataset, units: list[tuple[str, ...]]) -> list[str]:
    """The stratum of each unit (see StratifiedGroupKFold); '' for tracks without labels."""
    count = Counter(label for t in dataset.tracks for label in set(t.labels))
    order = {c: i for i, c in enumerate(dataset.classes)}

    def rarity(label: str) -> tuple:
        return (count[label] if label else math.inf, order.get(label, -1), label)

    def track_stratum(labels: tuple[str, ...]) -> str:
        if not labels:
            return ""
        return labels[0] if dataset.task == "single-label" else min(labels, key=rarity)

    strata = []
    for unit in units:
        votes = Counter(track_stratum(dataset[i].labels) for i in unit)
        strata.append(min(votes, key=lambda s: (-votes[s], rarity(s))))
    return strata


def _floors(total: int, proportions: np.ndarray) -> np.ndarray:
    """Floors of total*p, forgiving float noise, never adding up to more than `total`."""
    out = np.floor(total * proportions + EPS).astype(np.int64)
    while out.sum() > total:  # only reachable with proportions that sum to 1 + eps
        out[np.argmax(out)] -= 1
    return out


def _apportion(total: int, proportions: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Integers summing to `total`, each the floor or ceiling of total*p (largest remainder, ties by rank)."""
    out = _floors(total, proportions)
    left = total - int(out.sum())
    frac = total * proportions - out
    candidates = sorted(np.flatnonzero(proportions > 0), key=lambda q: (-frac[q], rank[q]))
    out[candidates[:left]] += 1
    return out


def _partition(
    sizes: np.ndarray, strata: list[str], proportions: np.ndarray, rng: np.random.Generator, priority
) -> np.ndarray:
    """The part index of each unit: part totals and per-stratum counts close to the proportions.

    `priority` orders the parts a scarce stratum (fewer units than non-empty parts) is dealt to;
    None deals such units to the parts furthest below their totals.
    """
    n_parts = len(proportions)
    positive = [q for q in range(n_parts) if proportions[q] > 0]
    preferred = [q for q in (priority or range(n_parts)) if q in positive]
    rank = np.empty(n_parts, dtype=np.int64)
    rank[preferred + [q for q in range(n_parts) if q not in preferred]] = np.arange(n_parts)
    total_target = _apportion(int(sizes.sum()), proportions, rank)
    filled = np.zeros(n_parts, dtype=np.int64)
    parts = np.full(len(sizes), -1, dtype=np.int64)

    members: dict[str, list[int]] = defaultdict(list)
    for u, s in enumerate(strata):
        members[s].append(u)
    names = sorted(members)
    scarce = [s for s in names if len(members[s]) < len(positive)]
    regular = [s for s in names if len(members[s]) >= len(positive)]

    def shuffled(items: list) -> list:
        return [items[j] for j in rng.permutation(len(items))]

    def largest_first(units: list[int]) -> list[int]:
        units = shuffled(units)  # random order among units of equal size
        return sorted(units, key=lambda u: -sizes[u])

    def put(u: int, q: int) -> None:
        parts[u] = q
        filled[q] += sizes[u]

    for s in shuffled(scarce):
        free = list(preferred)
        for u in largest_first(members[s]):
            q = free[0] if priority is not None else max(free, key=lambda q: (total_target[q] - filled[q], -rank[q]))
            free.remove(q)
            put(u, q)

    counts = {s: int(sizes[members[s]].sum()) for s in shuffled(regular)}
    target = _stratum_targets(counts, proportions, total_target - filled, rank)

    carry = np.zeros(n_parts)  # tracks the strata dealt so far are short of (0 without groups)
    for s in shuffled(regular):
        dealt = np.zeros(n_parts, dtype=np.int64)
        for u in largest_first(members[s]):
            q = max(
                positive,
                key=lambda q: (target[s][q] - dealt[q] + CARRY * carry[q], total_target[q] - filled[q], -rank[q]),
            )
            dealt[q] += sizes[u]
            put(u, q)
        carry += target[s] - dealt
    return parts


def _stratum_targets(
    counts: dict[str, int], proportions: np.ndarray, need: np.ndarray, rank: np.ndarray
) -> dict[str, np.ndarray]:
    """Integer targets per stratum and part: the floor or ceiling of each exact share, adding up
    to `need` per part wherever possible (controlled rounding: greedy, then augmenting paths).

    Strata are taken in the order of `counts`, which the caller shuffles.
    """
    positive = [q for q in range(len(proportions)) if proportions[q] > 0]
    need = need.astype(np.int64).copy()
    target, frac, eligible, chosen = {}, {}, {}, {}
    for s, n in counts.items():
        target[s] = _floors(n, proportions)
        need -= target[s]
        frac[s] = n * proportions - target[s]
        extra = n - int(target[s].sum())
        eligible[s] = [q for q in positive if frac[s][q] > EPS]
        if len(eligible[s]) < extra:  # float noise only
            eligible[s] = positive
        chosen[s] = set(sorted(eligible[s], key=lambda q: (-need[q], -frac[s][q], rank[q]))[:extra])
        need[list(chosen[s])] -= 1
    while any(need[q] < 0 for q in positive) and any(need[q] > 0 for q in positive):
        path = _augmenting_path([q for q in positive if need[q] < 0], need, chosen, eligible)
        if path is None:
            break
        for s, a, b in path:
            chosen[s].remove(a)
            chosen[s].add(b)
        need[path[0][1]] += 1
        need[path[-1][2]] -= 1
    for s in counts:
        target[s][list(chosen[s])] += 1
    return target


def _augmenting_path(over: list[int], need: np.ndarray, chosen: dict, eligible: dict):
    """Moves (stratum, from part, to part) that shift one extra track from an over-full part to one
    that still needs it, each stratum keeping its count; None when there is no such chain."""
    came_from: dict[int, tuple[str, int]] = {}
    seen, frontier = set(over), deque(over)
    while frontier:
        a = frontier.popleft()
        for s in chosen:
            if a not in chosen[s]:
                continue
            for b in eligible[s]:
                if b in seen or b in chosen[s]:
                    continue
                seen.add(b)
                came_from[b] = (s, a)
                if need[b] > 0:
                    path = []
                    while b in came_from:
                        s_, a_ = came_from[b]
                        path.append((s_, a_, b))
                        b = a_
                    return path[::-1]
                frontier.append(b)
    return None


# ----------------------------------------------------------------------------- fixed lists


class FixedSplit(Protocol):
    """One fold from given id lists (a published split), or, given no lists, from the dataset's own split.

    Each part is a list of track ids, or a path to a text file with one id per
    line (blank lines and lines starting with '#' are skipped). Tracks of the
    dataset that no list names are left out of the fold. An error about ids read
    from a file names the file and the line numbers, never the lines themselves. With no list given at all, a
    dataset with a `splits` attribute (part -> track ids, or None) gives the fold: a manifest's `split` column.
    """

    name: ClassVar[str] = "fixed-split"

    def __init__(self, train=(), valid=(), test=()):
        self._given = {"train": train, "valid": valid, "test": test}
        self._lines: dict[str, list[int] | None] = {}  # the line number of each id read from a file
        self._ids = {}
        for part, value in self._given.items():
            self._ids[part], self._lines[part] = _read_ids(part, value)
        for part, ids in self._ids.items():
            repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
            if repeated:
                raise InputError(f"fixed-split: {len(repeated)} ids appear twice in {part!r}: {self._which(part, repeated)}")
        for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
            both = sorted(set(self._ids[a]) & set(self._ids[b]))
            if both:
                shown = self._which(a, both) if self._lines[a] is not None else self._which(b, both)
                raise InputError(f"fixed-split: parts overlap: {len(both)} ids are in both {a!r} and {b!r}: {shown}")

    def _which(self, part: str, ids) -> str:
        """The ids themselves when the suite lists them; the line numbers of the file when they were read from one."""
        lines = self._lines[part]
        if lines is None:
            return _some(ids)
        wanted = set(ids)
        numbers = [n for i, n in zip(self._ids[part], lines) if i in wanted]
        shown = ", ".join(str(n) for n in numbers[:5]) + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")
        return f"{'line' if len(numbers) == 1 else 'lines'} {shown} of {self._given[part]}"

    def params(self) -> dict:
        return {
            part: str(value) if isinstance(value, (str, os.PathLike)) else list(value)
            for part, value in self._given.items()
        }

    def folds(self, dataset: Dataset) -> list[Fold]:
        own = getattr(dataset, "splits", None)  # a dataset that carries its split (a manifest's split column)
        listed = any(self._ids.values()) or any(isinstance(v, (str, os.PathLike)) for v in self._given.values())
        if own is not None and not listed:
            for part in ("train", "test"):
                if not own.get(part):
                    raise InputError(f"fixed-split: dataset {dataset.name!r} has no {part!r} tracks in its split; "
                                     f"mark some tracks {part!r}, or give the protocol its lists")
            return [Fold(0, **{part: tuple(own.get(part, ())) for part in PARTS})]
        known = {t.id for t in dataset.tracks}
        for part, ids in self._ids.items():
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise UnknownEntryError(
                    f"fixed-split: {len(unknown)} ids in {part!r} are not tracks of dataset "
                    f"{dataset.name!r}: {self._which(part, unknown)} (list only ids of the dataset's tracks)"
                )
        for part in ("train", "test"):
            if not self._ids[part]:
                raise InputError(f"fixed-split: {part!r} is empty; give its track ids or an id file "
                                 "(or use a manifest whose split column marks the tracks)")
        return [Fold(0, **{part: tuple(ids) for part, ids in self._ids.items()})]


def _read_ids(part: str, value) -> tuple[list[str], list[int] | None]:
    """The ids of one part, and the line number of each when they come from a file (None for a list)."""
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if path.exists() and not path.is_file():
            raise InputError(f"fixed-split: the {part!r} id list {str(path)!r} is not a regular file")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or exc
            raise InputError(f"fixed-split: cannot read the {part!r} id list {str(path)!r}: {reason}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"fixed-split: the {part!r} id list {str(path)!r} is not UTF-8 text "
                             f"({exc.reason} at byte {exc.start})") from None
        kept = [(s, n) for n, s in enumerate((line.strip() for line in text.splitlines()), 1)
                if s and not s.startswith("#")]
        return [s for s, _ in kept], [n for _, n in kept]
    try:
        ids = list(value)
    except TypeError:
        raise InputError(f"fixed-split: {part!r} must be a list of track ids or a path, got {value!r}") from None
    bad = [i for i in ids if not isinstance(i, str)]
    if bad:
        raise InputError(f"fixed-split: {part!r} must hold track ids (strings), got {_some(bad)}")
    return ids, None


def folds_of(dataset: Dataset, spec: dict) -> list[Fold]:
    """The folds that the protocol `spec` (a suite's [protocol] table: its name and parameters) makes of `dataset`:
    the one road from a dataset and a protocol to folds, for the runner, `mirbench data splits` and pre-training."""
    from mirbench.registry import protocols

    params = {k: v for k, v in spec.items() if k != "name"}
    factory = protocols.get(spec["name"])
    bound = getattr(factory, "dataset", None)
    if bound and bound != dataset.name:
        raise InputError(f"protocol {spec['name']!r} is defined for the {bound!r} dataset, not {dataset.name!r}: "
                         "choose a protocol for that dataset")
    return factory(**params).folds(dataset)


def redraws_folds(spec: dict) -> bool:
    """Whether the protocol draws its folds from whatever tracks it is given (stratified k-fold), so that a subset of
    the whole dataset feeds it; a fixed split's parts are given, and each is subset on its own (`quick_subset`)."""
    from mirbench.registry import protocols

    factory = protocols.get(spec["name"])
    return isinstance(factory, type) and issubclass(factory, StratifiedGroupKFold)


def quick_subset(dataset: Dataset, per_class: int, unusable=(), seed: int = 0, fold=None) -> set[str]:
    """Up to `per_class` usable tracks of each (first) label, whole groups at a time, deterministically.

    With `fold` (a fixed split's: its parts are not redrawn from the subset) each part is subset on its own:
    a class keeps its part's share of `per_class`, and at least one group, in every part that has its tracks.
    """
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
