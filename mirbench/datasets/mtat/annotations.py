"""MagnaTagATune's `annotations_final.csv`: read it, check its shape, and pick the top-N tags.

The file is TAB-separated with every field double-quoted: a header
`clip_id, <188 tags>, mp3_path` and one row per clip with 0/1 tag values.
Reading it never opens audio, so a full-size index builds in about a second.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirbench.datasets.base import DatasetError

ANNOTATIONS = "annotations_final.csv"
#: The 16 directories of the published archive, in order.
DIRECTORIES = tuple("0123456789abcdef")
N_ROWS = 25_863  # rows of the published annotations_final.csv
N_TAG_COLUMNS = 188
_SEGMENT = re.compile(r"^(?P<song>.+)-\d+-\d+\.mp3$")


@dataclass(frozen=True)
class Annotations:
    """The parsed file: tag names in column order, and per row its clip id, mp3 path and 0/1 tags."""

    path: Path
    tag_names: tuple[str, ...]
    clip_ids: tuple[str, ...]
    mp3_paths: tuple[str, ...]
    tags: np.ndarray  # (rows, tag columns) uint8

    def sums(self) -> np.ndarray:
        return self.tags.sum(axis=0, dtype=np.int64)


def _fail(path: Path, line: int | None, reason: str) -> DatasetError:
    where = f"{path}, line {line}" if line else str(path)
    return DatasetError(f"mtat: {where}: {reason}")


def read_annotations(path: str | Path) -> Annotations:
    """Parse annotations_final.csv; a DatasetError names the line and what is wrong with it."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f, delimiter="\t", quotechar='"'))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _fail(path, None, f"cannot read the file ({exc})") from None
    if not rows:
        raise _fail(path, None, "the file is empty")
    header = rows[0]
    if len(header) < 3 or header[0] != "clip_id" or header[-1] != "mp3_path":
        shown = "\t".join(header[:3])[:80]
        raise _fail(
            path, 1,
            f"expected a TAB-separated header 'clip_id', <tag columns>, 'mp3_path', got {shown!r}...",
        )
    tag_names = tuple(header[1:-1])
    repeated = sorted({t for t in tag_names if tag_names.count(t) > 1})
    if repeated:
        raise _fail(path, 1, f"tag columns named twice: {repeated}")
    width = len(header)
    body = [r for r in rows[1:] if r]  # a trailing newline gives no row; blank lines are not data
    clip_ids, mp3_paths = [], []
    seen: dict[str, int] = {}
    for i, row in enumerate(body):
        line = i + 2
        if len(row) != width:
            raise _fail(path, line, f"{len(row)} fields, but the header has {width}")
        clip_id, mp3_path = row[0].strip(), row[-1].strip()
        if not clip_id:
            raise _fail(path, line, "empty clip_id")
        if clip_id in seen:
            raise _fail(path, line, f"clip_id {clip_id!r} already on line {seen[clip_id]}")
        seen[clip_id] = line
        if "/" not in mp3_path or mp3_path.split("/", 1)[0] not in DIRECTORIES:
            raise _fail(
                path, line,
                f"mp3_path {mp3_path!r} is not '<d>/<file>.mp3' with <d> one of the 16 directories 0-9, a-f",
            )
        clip_ids.append(clip_id)
        mp3_paths.append(mp3_path)
    values = np.array([r[1:-1] for r in body], dtype=str).reshape(len(body), len(tag_names))
    ones = values == "1"
    bad = np.argwhere(~(ones | (values == "0")))
    if len(bad):
        i, j = bad[0]
        raise _fail(path, int(i) + 2, f"tag values must be 0 or 1, got {str(values[i, j])!r} for tag {tag_names[j]!r}")
    tags = ones.astype(np.uint8)
    return Annotations(path, tag_names, tuple(clip_ids), tuple(mp3_paths), tags)


def top_tags(annotations: Annotations, n: int) -> tuple[str, ...]:
    """The `n` tag columns with the largest sums, largest first; equal sums keep column order.

    On the published file this gives the 50 tags of the cleaned split's
    tags.npy in the same order.
    """
    if n > len(annotations.tag_names):
        raise DatasetError(
            f"mtat: n_tags={n} but {annotations.path} has only {len(annotations.tag_names)} tag columns"
        )
    sums = annotations.sums()
    order = sorted(range(len(sums)), key=lambda j: (-int(sums[j]), j))  # stable: ties by column position
    return tuple(annotations.tag_names[j] for j in order[:n])


def song_of(mp3_path: str) -> str:
    """The song a clip was cut from: its file name without the '-<start>-<end>.mp3' segment suffix."""
    name = mp3_path.rsplit("/", 1)[-1]
    match = _SEGMENT.match(name)
    return match.group("song") if match else name.rsplit(".", 1)[0]
