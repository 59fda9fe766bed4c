"""MagnaTagATune as a multi-label tagging dataset: every clip of annotations_final.csv with its top-N tags.

Indexing reads only the CSV (no audio). Every row stays in the index, with or
without audio on disk and with or without a top-N tag, so published split
sizes stay exact; `validate` reports missing and unreadable clips.
"""

from __future__ import annotations

import difflib
import numbers
from pathlib import Path

import numpy as np

from mirbench.datasets.base import Dataset, DatasetError, Track, UnknownEntryError, ValidationReport
from mirbench.datasets.mtat.annotations import ANNOTATIONS, DIRECTORIES, read_annotations, song_of, top_tags
from mirbench.fetch import FetchError

SAMPLE_RATE = 16_000
TAG_CHOICES = ("top", "published")
#: Clips of the published archive known to be unusable; `validate` reports them like any other
#: missing or unreadable clip, and the protocols leave them out so that their sizes are the published ones.
KNOWN_BAD = {
    "35644": "missing from the published mp3 archive",
    "55753": "corrupt in the published mp3 archive",
    "57881": "corrupt in the published mp3 archive",
}
LAYOUT = """\
  <data root>/mtat/
    annotations_final.csv      TAB-separated, quoted: clip_id, 188 tag columns, mp3_path
    0/ 1/ ... 9/ a/ ... f/     the 16 directories of mp3 clips (or the same under mtat/mp3/)
      f/american_bach_soloists-joseph_haydn__masses-08-agnus_dei_cum_sancto_spiritu-0-29.mp3
"""


def locate(root) -> Path:
    """The dataset folder holding annotations_final.csv; a DatasetError shows where it looked otherwise."""
    if root is None:
        raise DatasetError(
            "mtat: no data root is set; pass --data-root DIR or set MIRBENCH_DATA, with MagnaTagATune "
            f"laid out as:\n{LAYOUT}"
        )
    root = Path(root)
    csv_path = root / ANNOTATIONS
    if not csv_path.is_file():
        found = "does not exist" if not root.is_dir() else f"has no {ANNOTATIONS}"
        raise DatasetError(
            f"mtat: looked for {csv_path}, but {root} {found}; expected this layout:\n{LAYOUT}"
            "Point --data-root (or MIRBENCH_DATA) at the folder that contains mtat/."
        )
    return root


def audio_root(root: Path) -> Path:
    """Where the 16 mp3 directories are: `root` itself, or `root/mp3` (a common alternative layout)."""
    for candidate in (root, root / "mp3"):
        if any((candidate / d).is_dir() for d in DIRECTORIES):
            return candidate
    return root  # no audio at all: every clip is reported missing under root/<d>/


class MTATDataset(Dataset):
    """MagnaTagATune tagging: clips of the 16 archive directories, labelled with the `n_tags` most frequent tags.

    `tags="top"` (default) takes the `n_tags` tag columns with the largest sums
    (ties: earlier column first); `tags="published"` takes the 50 tags of the
    cleaned split's published tags.npy (fetched and md5-checked). Track ids are
    clip ids; clips without any of these tags keep an empty label set.
    """

    name = "mtat"
    needs_root = True
    expected_sample_rate = SAMPLE_RATE
    expected_layout = LAYOUT  # shown when the dataset is not found

    fixed_task = "multi-label"

    def __init__(self, root=None, n_tags: int = 50, tags: str = "top"):
        self.check_params(n_tags, tags)
        self.root = locate(root)
        self.audio_root = audio_root(self.root)
        annotations = read_annotations(self.root / ANNOTATIONS)
        classes = top_tags(annotations, int(n_tags)) if tags == "top" else published_tags(annotations.tag_names, annotations.path)
        columns = annotations.tags[:, [annotations.tag_names.index(c) for c in classes]]
        tracks = [
            Track(
                id=clip_id,
                path=self.audio_root / mp3_path,
                labels=tuple(classes[j] for j in np.flatnonzero(columns[row])),
                group=song_of(mp3_path),
                meta={"row": row, "directory": mp3_path.split("/", 1)[0], "mp3_path": mp3_path},
            )
            for row, (clip_id, mp3_path) in enumerate(zip(annotations.clip_ids, annotations.mp3_paths))
        ]
        super().__init__(tracks, classes, "multi-label", SAMPLE_RATE, params={"n_tags": int(n_tags), "tags": tags})

    @classmethod
    def check_params(cls, n_tags: int = 50, tags: str = "top") -> None:
        """`n_tags` a positive integer; `tags` "top" or "published" (which is 50 tags)."""
        if isinstance(n_tags, bool) or not isinstance(n_tags, numbers.Integral) or n_tags < 1:
            raise DatasetError(f"mtat: n_tags must be a positive integer, got {n_tags!r}")
        if tags not in TAG_CHOICES:
            raise DatasetError(f"mtat: tags must be one of {', '.join(map(repr, TAG_CHOICES))}, got {tags!r}")
        if tags == "published" and n_tags != 50:
            raise DatasetError(
                f"mtat: tags='published' is the published list of 50 tags; n_tags={n_tags} contradicts it"
            )

    def validate(self) -> ValidationReport:
        """Missing, unreadable and off-rate clips; the known-bad clips of the published archive say so."""
        report = super().validate()
        for clip_id, why in KNOWN_BAD.items():
            if clip_id in report.problems:
                report.problems[clip_id] += f" (a known-bad clip: {why})"
        return report


def published_tags(columns: tuple[str, ...], annotations: Path | str = ANNOTATIONS) -> tuple[str, ...]:
    """The 50 tags of the published tags.npy, in its order; each must be a column of the annotations file."""
    from mirbench.datasets.mtat.lists import TAGS, published, read_entries

    try:
        path = published(TAGS)
        names = tuple(read_entries(path, "the published tag list"))
    except (FetchError, ValueError) as exc:
        raise DatasetError(f"mtat: tags='published' needs the published tag list: {exc}") from None
    absent = [t for t in names if t not in columns]
    if absent:
        hint = "".join(f"{t!r}{similar(t, columns)}; " for t in absent[:3])
        hint += f"and {len(absent) - 3} more; " if len(absent) > 3 else ""
        raise UnknownEntryError(
            f"mtat: the published tag list {path} names {len(absent)} tag(s) that are not columns of {annotations}: "
            f"{hint}use the published {ANNOTATIONS}, or tags = \"top\""
        )
    return names


def similar(name: str, options) -> str:
    """' (a column is named 'x')' for the closest of `options`, or nothing: the likely renamed column."""
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (a column is named {close[0]!r})" if close else ""
