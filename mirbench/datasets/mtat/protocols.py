"""The two published MagnaTagATune splits: by archive directory (12/1/3), and the cleaned lists.

Both give one fold and leave out the three known-bad clips of the published
archive (KNOWN_BAD), so their sizes are the published ones on any copy.
Clips whose audio is missing stay in the fold; the runner skips and counts them.
"""

from __future__ import annotations

import os
import warnings
from typing import ClassVar

from mirbench.datasets.base import Dataset
from mirbench.datasets.mtat.annotations import DIRECTORIES, N_ROWS
from mirbench.datasets.mtat.dataset import KNOWN_BAD
from mirbench.datasets.mtat.lists import PUBLISHED_SIZES, TAGS, TEST, VALID, published, read_entries, resolve
from mirbench.protocols import Fold, Protocol

#: Dieleman & Schrauwen 2014: of the 16 parts, "the first 12 for training, the 13th for validation
#: and the remaining 3 for testing".
PART_OF = {d: "train" for d in DIRECTORIES[:12]} | {"c": "valid"} | {d: "test" for d in "def"}


def _check_dataset(protocol: str, dataset: Dataset) -> None:
    if not dataset.tracks or not all("row" in t.meta and "directory" in t.meta for t in dataset.tracks[:1]):
        raise ValueError(
            f"{protocol}: needs the 'mtat' dataset (clips indexed from annotations_final.csv), got {dataset.name!r}"
        )


class MTAT1213(Protocol):
    """Dieleman & Schrauwen 2014: directories 0-b train, c valid, d-f test; 18,706 / 1,825 / 5,329 clips.

    Every clip of those directories is used, including clips without any top-50
    tag (an all-zero target; the paper describes no filtering); only the three
    known-bad clips are left out. No parameters.
    """

    name: ClassVar[str] = "mtat-12-1-3"
    dataset: ClassVar[str | None] = "mtat"

    def params(self) -> dict:
        return {}

    def folds(self, dataset: Dataset) -> list[Fold]:
        _check_dataset(self.name, dataset)
        parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
        for t in dataset.tracks:
            if t.id not in KNOWN_BAD:
                parts[PART_OF[t.meta["directory"]]].append(t.id)
        return [Fold(0, **parts)]


def _path_param(name: str, value):
    if value is None or isinstance(value, (str, os.PathLike)):
        return value
    raise ValueError(f"mtat-cleaned: {name} must be a path to a list file, got {value!r}")


class MTATCleaned(Protocol):
    """Lee et al. 2017 / Won et al. 2020: the cleaned lists; 15,244 / 1,529 / 4,332 clips, top-50 tags.

    valid and test are the published lists (minzwon/sota-music-tagging-models,
    pinned commit, md5-checked), fetched or given as local copies (`valid`,
    `test`: paths; `verify=false` accepts copies whose md5 differs, and the
    parameter is recorded in results). The published train list has no recorded
    md5 and is not fetched: by default train is derived by the lists' own rule,
    the clips of directories 0-b with at least one of the 50 tags, less the
    three known-bad clips (the same rule gives exactly the published valid and
    test lists from directories c and d-f); `train` may name a local copy of the
    published list instead. Requires the dataset's classes to be the published
    50 tags (`tags = "published"` in the suite's [dataset] table).
    """

    name: ClassVar[str] = "mtat-cleaned"
    dataset: ClassVar[str | None] = "mtat"

    def __init__(self, train=None, valid=None, test=None, verify: bool = True):
        self.train = _path_param("train", train)
        self.valid = _path_param("valid", valid)
        self.test = _path_param("test", test)
        if not isinstance(verify, bool):
            raise ValueError(f"mtat-cleaned: verify must be true or false, got {verify!r}")
        if not verify and valid is None and test is None:
            raise ValueError("mtat-cleaned: verify=false only applies to local copies given as valid or test")
        self.verify = verify

    def params(self) -> dict:
        lists = {"train": self.train, "valid": self.valid, "test": self.test}
        return {**{k: None if v is None else str(v) for k, v in lists.items()}, "verify": self.verify}

    def folds(self, dataset: Dataset) -> list[Fold]:
        _check_dataset(self.name, dataset)
        self._check_classes(dataset)
        rows = {t.meta["row"]: (t.id, t.meta["mp3_path"]) for t in dataset.tracks}
        by_path = {t.meta["mp3_path"]: t.id for t in dataset.tracks}

        def listed(part: str, path) -> list[str]:
            entries = read_entries(path, f"the {part} list")
            return resolve(entries, rows, by_path, f"mtat-cleaned: the {part} list {path}")

        valid = listed("valid", published(VALID, self.valid, self.verify))
        test = listed("test", published(TEST, self.test, self.verify))
        if self.train is not None:
            train = listed("train", self.train)
        else:
            held_out = set(valid) | set(test)
            excluded = held_out | set(KNOWN_BAD)
            train = [
                t.id
                for t in dataset.tracks
                if PART_OF[t.meta["directory"]] == "train" and t.labels and t.id not in excluded
            ]
        if len(dataset) == N_ROWS and len(train) != PUBLISHED_SIZES["train"]:
            source = f"the list {self.train}" if self.train is not None else "the derived training part"
            warnings.warn(
                f"mtat-cleaned: {source} has {len(train)} clips, the published train list "
                f"{PUBLISHED_SIZES['train']}; results may not be comparable with published ones",
                stacklevel=2,
            )
        return [Fold(0, train=train, valid=valid, test=test)]

    @staticmethod
    def _check_classes(dataset: Dataset) -> None:
        names = read_entries(published(TAGS), "the published tag list")
        missing, extra = sorted(set(names) - set(dataset.classes)), sorted(set(dataset.classes) - set(names))
        if missing or extra:
            raise ValueError(
                f"mtat-cleaned: the split is defined on the 50 tags of the published tags.npy, but the dataset's "
                f"classes differ (not among them: {missing}; not published: {extra}); set tags = \"published\" "
                "in the suite's [dataset] table"
            )
