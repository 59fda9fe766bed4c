"""The published lists of the cleaned MagnaTagATune split (tags, valid, test), fetched and md5-checked.

Source: minzwon/sota-music-tagging-models at a pinned commit (the split of
Lee et al. 2017, reused by Won et al. 2020). Each list entry is
"<row>\\t<mp3_path>", <row> being the 0-based data row of annotations_final.csv;
entries are matched to clips by row and checked against the mp3 path.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from mirbench.datasets.base import UnknownEntryError
from mirbench.fetch import FetchError, Resource, checked, fetch

REPOSITORY = "minzwon/sota-music-tagging-models"
COMMIT = "c5c726c0caff82d3c2127618bd4cd8185940837a"

# md5s recorded from a copy of these files vendored by another public repository
# (not from the source itself): a mismatch is reported with that caveat.
TAGS = Resource("mtat/tags.npy", REPOSITORY, COMMIT, "split/mtat/tags.npy", "c2cfea51f33b61f61b3bc145f28ea655")
VALID = Resource("mtat/valid.npy", REPOSITORY, COMMIT, "split/mtat/valid.npy", "7803995c247fc336f77f8f4b9128154d")
TEST = Resource("mtat/test.npy", REPOSITORY, COMMIT, "split/mtat/test.npy", "f283fbfd9374d3d55909c1496f78f7a0")
#: The published train list (split/mtat/train.npy) has no recorded md5, so it is not fetched:
#: the protocol derives the training part (see MTATCleaned) unless given a local copy.
PUBLISHED_SIZES = {"train": 15_244, "valid": 1_529, "test": 4_332}
VENDORED_NOTE = (
    " (mirbench's md5 for this file was recorded from a copy vendored by another repository; if your "
    "file is the one at the pinned commit and still differs, the recorded md5 may be wrong: please report it)"
)


def published(resource: Resource, local: str | os.PathLike | None = None, verify: bool = True) -> Path:
    """A verified copy of a published list: `local` if given (checked by md5 unless verify=False), else fetched."""
    try:
        if local is not None:
            path = Path(local)
            if not path.is_file():
                raise FetchError(f"{path}: no such file (given for {resource.name}, published at {resource.source})")
            return checked(path, resource) if verify else path
        return fetch(resource)
    except FetchError as exc:
        if "has md5" in str(exc):
            raise FetchError(str(exc) + VENDORED_NOTE) from None
        raise


def read_entries(path: str | os.PathLike, what: str) -> list[str]:
    """The entries of a list file: a .npy array of str (no pickles), or a text file with one entry a line."""
    path = Path(path)
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{what} {path}: not a numpy array of strings ({exc})") from None
        if array.ndim != 1 or array.dtype.kind != "U":
            raise ValueError(f"{what} {path}: expected a 1-D array of str, got {array.dtype} of shape {array.shape}")
        return [str(x) for x in array]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {path}: cannot read it ({exc})") from None
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


def _some(items: Sequence[str], k: int = 3) -> str:
    shown = "; ".join(items[:k])
    return shown + (f"; and {len(items) - k} more" if len(items) > k else "")


def resolve(entries: Sequence[str], rows: dict[int, tuple[str, str]], by_path: dict[str, str], what: str) -> list[str]:
    """Clip ids of list entries ("<row>\\t<mp3_path>", or a bare mp3 path).

    `rows` maps a data row of annotations_final.csv to (clip id, mp3 path), `by_path`
    an mp3 path to its clip id. An entry whose row is absent, or whose row holds
    another clip, is an error naming it: such a list does not belong to this copy
    of the annotations, and a split silently missing clips would not be the published one.
    """
    ids, wrong = [], []
    for entry in entries:
        row_text, tab, mp3_path = entry.partition("\t")
        if not tab:
            mp3_path = row_text
            if mp3_path in by_path:
                ids.append(by_path[mp3_path])
            else:
                wrong.append(f"{mp3_path!r} is not in annotations_final.csv")
            continue
        try:
            row = int(row_text)
        except ValueError:
            wrong.append(f"{entry!r} does not start with a row number")
            continue
        if row not in rows:
            wrong.append(f"row {row} ({mp3_path}) is not in annotations_final.csv")
        elif rows[row][1] != mp3_path:
            wrong.append(f"row {row} is {rows[row][1]!r} in annotations_final.csv, not {mp3_path!r}")
        else:
            ids.append(rows[row][0])
    if wrong:
        raise UnknownEntryError(
            f"{what}: {len(wrong)} of its {len(entries)} entries do not match this copy of "
            f"annotations_final.csv (list entries name its rows): {_some(wrong)}"
        )
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise ValueError(f"{what}: clips listed twice: {', '.join(repeated[:5])}")
    return ids
