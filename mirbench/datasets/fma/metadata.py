"""FMA's metadata files: the columns of `tracks.csv` a genre task needs, and header checks of the others.

`tracks.csv` is large (106,574 tracks with free-text columns), so only the
header rows are parsed by hand and pandas reads just the four columns used.
`genres.csv`, `features.csv` and the per-folder `checksums` files are checked
cheaply: they are not needed to index the tracks.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from mirbench.datasets.base import DatasetError

SUBSETS = ("small", "medium", "large")  # each includes the ones before it
SPLITS = ("training", "validation", "test")
#: our name -> the (first header row, second header row) column of tracks.csv
COLUMNS = {
    "split": ("set", "split"),
    "subset": ("set", "subset"),
    "genre_top": ("track", "genre_top"),
    "artist_id": ("artist", "id"),
}
GENRES_COLUMNS = ("genre_id", "#tracks", "parent", "title", "top_level")
FEATURES_HEADER = ("feature", "statistics", "number")
FEATURES_COLUMNS = 518


def head(path: Path, n: int) -> list[list[str]]:
    """The first `n` CSV records of `path` (fewer if the file is shorter)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            rows.append(row)
            if len(rows) == n:
                break
    return rows


def read_tracks(path: Path) -> pd.DataFrame:
    """track id (int index) -> split, subset, genre_top, artist_id as strings ('' where empty).

    The file has two header rows (e.g. `set`/`split`) and, as pandas writes a
    named index under a two-row header, a third row holding only `track_id`.
    """
    try:
        rows = head(path, 3)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read the FMA track table ({exc})") from None
    if len(rows) < 2 or len(rows[0]) != len(rows[1]):
        raise DatasetError(
            f"{path}: not FMA's tracks.csv: expected two header rows of equal length "
            f"(e.g. 'set,set,track' over 'split,subset,genre_top')"
        )
    pairs = list(zip(rows[0], rows[1]))
    missing = [pair for pair in COLUMNS.values() if pair not in pairs]
    if missing:
        raise DatasetError(f"{path}: not FMA's tracks.csv: no column {', '.join(map(str, missing))} in its two header rows")
    positions = {name: pairs.index(pair) for name, pair in COLUMNS.items()}
    index_row = len(rows) > 2 and rows[2][:1] == ["track_id"] and not any(rows[2][1:])
    try:
        table = pd.read_csv(
            path,
            header=None,
            skiprows=3 if index_row else 2,
            usecols=[0, *positions.values()],
            dtype=str,
            keep_default_na=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot parse FMA's tracks.csv ({str(exc).strip()})") from None
    table = table.rename(columns={0: "track_id", **{pos: name for name, pos in positions.items()}})
    ids = table["track_id"].str.strip()
    bad = ids[~ids.str.fullmatch(r"\d{1,6}")]
    if len(bad):
        raise DatasetError(f"{path}: {len(bad)} rows have a track id that is not a number of up to 6 digits, e.g. {bad.iloc[0]!r}")
    table.index = pd.Index(ids.astype(int), name="track_id")
    table = table.drop(columns="track_id")
    repeated = table.index[table.index.duplicated()]
    if len(repeated):
        raise DatasetError(f"{path}: {len(repeated)} track ids appear twice, e.g. {int(repeated[0]):06d}")
    for name, allowed in (("split", SPLITS), ("subset", SUBSETS)):
        odd = table[~table[name].isin(allowed)]
        if len(odd):
            raise DatasetError(
                f"{path}: column {COLUMNS[name]} must be one of {', '.join(allowed)}; {len(odd)} rows are not, "
                f"e.g. track {int(odd.index[0]):06d} has {odd[name].iloc[0]!r}"
            )
    return table


def top_level_genres(path: Path) -> tuple[set[str] | None, str | None]:
    """Titles of the root genres (parent 0) of genres.csv, or (None, what is wrong with the file)."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        return None, f"cannot read it ({str(exc).strip()})"
    absent = [c for c in GENRES_COLUMNS if c not in table.columns]
    if absent:
        return None, f"no column {', '.join(absent)} (expected {','.join(GENRES_COLUMNS)})"
    return set(table.loc[table["parent"].str.strip() == "0", "title"]), None


def features_problem(path: Path) -> str | None:
    """What is wrong with the header of features.csv (three header rows, 518 feature columns), or None."""
    try:
        rows = head(path, 4)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"cannot read it ({exc})"
    for i, label in enumerate(FEATURES_HEADER):
        if len(rows) <= i or rows[i][:1] != [label]:
            return f"header row {i + 1} should start with {label!r} (three header rows: {', '.join(FEATURES_HEADER)})"
        if len(rows[i]) - 1 != FEATURES_COLUMNS:
            return f"header row {i + 1} names {len(rows[i]) - 1} feature columns, expected {FEATURES_COLUMNS}"
    return None


def read_features(path: Path) -> pd.DataFrame:
    """features.csv as published: track id (int index) -> the 518 precomputed features, float64.

    Read as FMA's own `utils.load` reads it: three header rows (feature,
    statistics, number) over the columns and the track id in the first column.
    """
    try:
        table = pd.read_csv(path, header=[0, 1, 2], index_col=0)
        values = table.to_numpy(dtype=np.float64)
    except (OSError, pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read FMA's features.csv ({str(exc).strip()})") from None
    if values.shape[1] != FEATURES_COLUMNS:
        raise DatasetError(f"{path}: {values.shape[1]} feature columns, expected {FEATURES_COLUMNS} (FMA's features.csv)")
    try:
        index = pd.Index(table.index.astype(int), name="track_id")
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: the first column must hold numeric track ids") from None
    if index.has_duplicates:
        raise DatasetError(f"{path}: track id {int(index[index.duplicated()][0]):06d} has more than one row")
    return pd.DataFrame(values, index=index, columns=table.columns)


def read_checksums(path: Path) -> dict[str, str]:
    """`checksums` of an audio folder: relative path ('000/000002.mp3') -> sha1, from 'sha1  path' lines."""
    sums = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and len(parts[0]) == 40:
            sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums
