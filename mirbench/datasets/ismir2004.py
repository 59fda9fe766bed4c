"""ISMIR 2004 Audio Description Contest, genre task: 6 classes, 729 tracks in each of three subsets.

Tracks are read from the tracklists under `metadata/` (quoted CSV without a
header) and their mp3 files under `audio/<subset>/`; the train/dev protocol of
Sigtia & Dixon (2014) trains on `training` and tests on `development`.
See docs/datasets/ismir2004.md.
"""

from __future__ import annotations

import csv
import numbers
from collections import Counter
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from mirbench.datasets.base import Dataset, DatasetError, Track, UnknownEntryError
from mirbench.protocols import Fold, Protocol, StratifiedGroupKFold

__all__ = ["ISMIR2004Dataset", "ISMIR2004TrainDev", "CLASSES", "SUBSETS", "read_tracklist"]

CLASSES = ("classical", "electronic", "jazz_blues", "metal_punk", "rock_pop", "world")
SUBSETS = ("training", "development", "evaluation")
COLUMNS = ("class", "artist", "album", "track", "track_number", "file_path")
SAMPLE_RATE = 44100  # the distributed mp3s

EXPECTED_LAYOUT = """\
    ismir2004/
      metadata/training/tracklist.csv      (also development/, evaluation/)
      audio/training/classical/<artist>/<album>/<n>-<title>.mp3
      audio/development/artist_1_album_1_track_1.mp3
      ..."""


def read_tracklist(path: Path) -> list[dict]:
    """The rows of one tracklist.csv as dicts of COLUMNS (+ `extra`: any further columns), with line numbers.

    Parsed with the csv module: fields are double-quoted and file paths hold
    apostrophes, brackets, ampersands and the like.
    """
    rows = []
    try:
        # utf-8-sig drops a byte-order mark; undecodable bytes become U+FFFD (the file is then reported missing)
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            for row in reader:
                line = reader.line_num
                if not any(field.strip() for field in row):
                    continue
                if len(row) < len(COLUMNS):
                    raise DatasetError(
                        f"ismir2004: {path} row {line}: {len(row)} fields, expected {len(COLUMNS)} "
                        f"({', '.join(COLUMNS)}); got {row!r}"
                    )
                entry = dict(zip(COLUMNS, (field.strip() for field in row)))
                entry["extra"] = row[len(COLUMNS):]
                entry["line"] = line
                if entry["class"] not in CLASSES:
                    raise UnknownEntryError(
                        f"ismir2004: {path} row {line}: unknown class {entry['class']!r}; "
                        f"expected one of {', '.join(CLASSES)}"
                    )
                rows.append(entry)
    except OSError as exc:
        raise DatasetError(f"ismir2004: cannot read {path}: {exc.strerror or exc}") from None
    except csv.Error as exc:
        raise DatasetError(f"ismir2004: {path} is not a valid CSV file: {exc}") from None
    return rows


def artist_group(subset: str, artist: str) -> str:
    """Training and evaluation name real artists (the same names); development anonymises them
    (`artist_N`), so its groups are kept apart from the others."""
    return f"development/{artist}" if subset == "development" else artist


class ISMIR2004Dataset(Dataset):
    """ISMIR2004 genre from `<root>/metadata/<subset>/tracklist.csv` and `<root>/audio/<subset>/<file_path>`.

    `subsets`: which tracklists to index (default training and development,
    the published train/test pair; evaluation is opt-in). Track ids are
    `<subset>/<file_path>`; groups are artists. `clip_seconds`: keep only the
    first N seconds of each track when loading (Sigtia & Dixon keep 30 s);
    None loads whole tracks.
    """

    name = "ismir2004"
    needs_root = True
    expected_sample_rate = SAMPLE_RATE
    expected_layout = EXPECTED_LAYOUT  # shown when the dataset is not found

    fixed_task = "single-label"

    def __init__(
        self, root=None, subsets: Sequence[str] = ("training", "development"), clip_seconds: float | None = None
    ):
        if root is None:
            raise DatasetError(
                "ismir2004 is read from your copy of the dataset, but no data root is set; pass --data-root DIR "
                f"or set MIRBENCH_DATA, with the dataset under DIR/ismir2004/:\n{EXPECTED_LAYOUT}"
            )
        self.check_params(subsets, clip_seconds)
        subsets = [subsets] if isinstance(subsets, str) else list(subsets)
        self.root = base = self.find_base(Path(root).expanduser(), subsets)
        tracks = []
        for subset in subsets:
            listing = base / "metadata" / subset / "tracklist.csv"
            rows = read_tracklist(listing)
            repeated = sorted(p for p, k in Counter(r["file_path"] for r in rows).items() if k > 1)
            if repeated:
                raise DatasetError(f"ismir2004: {listing} names {len(repeated)} file(s) twice, e.g. {repeated[0]!r}")
            for r in rows:
                meta = {k: r[k] for k in COLUMNS if k != "class"}
                meta.update(subset=subset, extra=list(r["extra"]))
                path = base / "audio" / subset / r["file_path"]
                group = artist_group(subset, r["artist"])
                tracks.append(Track(f"{subset}/{r['file_path']}", path, (r["class"],), group, meta))
        self.clip_seconds = None if clip_seconds is None else float(clip_seconds)
        params = {"subsets": subsets, "clip_seconds": self.clip_seconds}
        super().__init__(tracks, CLASSES, "single-label", SAMPLE_RATE, params=params)

    @classmethod
    def check_params(
        cls, subsets: Sequence[str] = ("training", "development"), clip_seconds: float | None = None
    ) -> None:
        """`subsets`: distinct names among training, development, evaluation; `clip_seconds`: positive or absent."""
        names = [subsets] if isinstance(subsets, str) else subsets
        listed = isinstance(names, (list, tuple))
        if not listed or not names or any(s not in SUBSETS for s in names) or len(set(names)) != len(names):
            raise DatasetError(f"ismir2004: subsets must be distinct names among {', '.join(SUBSETS)}, got {subsets!r}")
        if clip_seconds is not None and (
            isinstance(clip_seconds, bool) or not isinstance(clip_seconds, numbers.Real) or not clip_seconds > 0
        ):
            raise DatasetError(f"ismir2004: clip_seconds must be a positive number or absent, got {clip_seconds!r}")

    @staticmethod
    def find_base(root: Path, subsets: list[str]) -> Path:
        """`root`, or `root/ismir04_genre` (the archive's top folder), whichever holds the tracklists."""
        for base in (root, root / "ismir04_genre"):
            if all((base / "metadata" / s / "tracklist.csv").is_file() for s in subsets):
                return base
        looked = ", ".join(str(root / "metadata" / s / "tracklist.csv") for s in subsets)
        raise DatasetError(
            f"ismir2004: tracklists not found (looked for {looked}, and under {root / 'ismir04_genre'}).\n"
            f"Expected layout under the data root (--data-root DIR or MIRBENCH_DATA):\n{EXPECTED_LAYOUT}"
        )

    def load_audio(self, track: Track, sample_rate: int) -> np.ndarray:
        """Mono float32 audio at `sample_rate`, cut to the first `clip_seconds` when set: only that excerpt is
        decoded (its samples are the whole file's first ones)."""
        from mirbench.audio import load_audio

        if self.clip_seconds is None:
            return super().load_audio(track, sample_rate)
        return load_audio(track.path, sample_rate, duration=self.clip_seconds)


class ISMIR2004TrainDev(Protocol):
    """The contest's split (Sigtia & Dixon 2014): train on `training` (729), test on `development` (729).

    Validation is carved from training: `valid_fraction` of it (default 0.2),
    stratified by class, seeded, and by artist when `groups` is true (no artist
    in both train and valid). The contest split itself is not artist-filtered.
    """

    name: ClassVar[str] = "ismir2004-train-dev"
    dataset: ClassVar[str] = "ismir2004"

    def __init__(self, valid_fraction: float = 0.2, seed: int = 0, groups: bool = True):
        number = isinstance(valid_fraction, numbers.Real) and not isinstance(valid_fraction, bool)
        if not number or not 0 <= valid_fraction < 1:
            raise ValueError(f"valid_fraction must be a number in [0, 1), got {valid_fraction!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not isinstance(groups, bool):
            raise ValueError(f"groups must be true or false, got {groups!r}")
        self.valid_fraction = float(valid_fraction)
        self.seed = int(seed)
        self.groups = groups

    def params(self) -> dict:
        return {"valid_fraction": self.valid_fraction, "seed": self.seed, "groups": self.groups}

    def folds(self, dataset: Dataset) -> list[Fold]:
        parts = {s: [t for t in dataset.tracks if t.meta.get("subset") == s] for s in ("training", "development")}
        empty = [s for s, tracks in parts.items() if not tracks]
        if empty:
            raise ValueError(
                f"{self.name}: dataset {dataset.name!r} has no {' or '.join(empty)} tracks; "
                f"index both subsets (subsets = [\"training\", \"development\"])"
            )
        test = [t.id for t in parts["development"]]
        if self.valid_fraction == 0:
            return [Fold(0, [t.id for t in parts["training"]], [], test)]
        training = Dataset(
            parts["training"], dataset.classes, dataset.task, dataset.sample_rate, name=f"{dataset.name}/training"
        )
        f = self.valid_fraction
        carve = StratifiedGroupKFold(folds=1, proportions=(1 - f, f, 0.0), seed=self.seed, groups=self.groups)
        inner = carve.folds(training)[0]
        return [Fold(0, inner.train, inner.valid, test)]
