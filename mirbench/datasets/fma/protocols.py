"""The official FMA split (the ('set', 'split') column of tracks.csv) on genre_top, one protocol per published task.

The split is artist-filtered and stratified by genre_top by the dataset's
authors, so the protocol only reads it: one fold, deterministic by construction.
Each protocol needs the `fma` dataset opened with a given subset and top_genres.
"""

from __future__ import annotations

from typing import ClassVar

from mirbench.datasets.base import Dataset, DatasetError
from mirbench.protocols import Fold, Protocol

PARTS = {"training": "train", "validation": "valid", "test": "test"}


class DatasetMismatch(DatasetError, ValueError):
    """The dataset given to an FMA protocol is not the one it is defined on (another dataset, subset or genre cut)."""


class FMAOfficialSplit(Protocol):
    """One fold: the training, validation and test tracks of the dataset, as tracks.csv assigns them."""

    name: ClassVar[str] = "fma-split"
    dataset: ClassVar[str | None] = "fma"
    subset: ClassVar[str] = "small"
    top_genres: ClassVar[int | None] = None

    def params(self) -> dict:
        return {}

    @classmethod
    def required(cls) -> dict:
        """The [dataset] table this protocol needs."""
        return {"name": cls.dataset, "subset": cls.subset, "top_genres": cls.top_genres}

    @classmethod
    def check_dataset(cls, name: str, params: dict) -> None:
        """Raise DatasetMismatch unless (name, params) open the dataset this protocol is defined on."""
        want = cls.required()
        got = {"name": name, "subset": params.get("subset", "small"), "top_genres": params.get("top_genres")}
        if got == want:
            return
        table = f'name = "fma", subset = "{cls.subset}"' + (
            f", top_genres = {cls.top_genres}" if cls.top_genres else " (and no top_genres)"
        )
        shown = f"dataset {name!r}" + (
            f" with subset={got['subset']!r}, top_genres={got['top_genres']!r}" if name == cls.dataset else ""
        )
        raise DatasetMismatch(
            f"protocol {cls.name!r} splits the fma dataset with subset={cls.subset!r} and top_genres={cls.top_genres!r}, "
            f"but was given {shown}; put this in the suite's [dataset] table: {table}"
        )

    def folds(self, dataset: Dataset) -> list[Fold]:
        self.check_dataset(dataset.name, dataset.params)
        parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
        for t in dataset.tracks:
            parts[PARTS[t.meta["split"]]].append(t.id)
        return [Fold(0, **parts)]


class FMASmall(FMAOfficialSplit):
    """fma_small, 8 balanced genres: 6,400 / 800 / 800 tracks."""

    name: ClassVar[str] = "fma-small"
    subset: ClassVar[str] = "small"


class FMAMedium(FMAOfficialSplit):
    """fma_medium, 16 unbalanced genres: 19,922 / 2,505 / 2,573 tracks."""

    name: ClassVar[str] = "fma-medium"
    subset: ClassVar[str] = "medium"


class FMATop10(FMAOfficialSplit):
    """fma_medium restricted to its 10 most frequent genre_top values (Rock ... Old-Time / Historic)."""

    name: ClassVar[str] = "fma-top10"
    subset: ClassVar[str] = "medium"
    top_genres: ClassVar[int | None] = 10
