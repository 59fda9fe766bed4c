"""`folder`: the user's own audio, one sub-folder per class (`my-audio/jazz/take1.wav`). See docs/datasets/folder.md.

Decisions, for a benchmark that must not be silently wrong:
- the classes are the sub-folders of `path` (sorted); a file deeper down belongs to the class of its top folder;
- audio is recognised by extension (`mirbench.datasets.user.AUDIO_SUFFIXES`, any case); other files, hidden files
  and folders (a leading dot) and files beside the class folders are ignored, and counted (`notes`, `describe()`);
- a class folder without audio, fewer than two classes, two files with one id (`a.wav` and `a.flac`), a name that
  is not UTF-8, or a folder that cannot be listed is one DatasetError: a class must not quietly vanish;
- track ids are the POSIX path under `path` without its extension (`jazz/take1`): stable, and unique by the rule above;
- `group_by` is searched in that relative path *with* its extension; the group is its first capture group, or the
  whole match; a file it does not match is an error, never a group of its own (which could leak across a split);
- folders reached through symbolic links are followed (each real folder once); a file whose link is broken is
  indexed and reported "missing" by `validate`, like an unreadable file is reported "unreadable".
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from mirbench.datasets.base import DatasetError, Track
from mirbench.datasets.user import (
    AUDIO_SUFFIXES,
    NOMINAL_SAMPLE_RATE,
    UserDataset,
    check_path_param,
    compile_group_by,
    group_of,
    is_audio,
    is_hidden,
    resolve,
    where_from,
)

__all__ = ["EXPECTED_LAYOUT", "FolderDataset"]

EXPECTED_LAYOUT = """\
    my-audio/
      jazz/take1.wav          (any of .wav .flac .ogg .mp3 .au .aiff; any rate, mono or stereo)
      jazz/live/take2.flac    (deeper files belong to the top folder's class)
      rock/riff.mp3
      ..."""


class FolderDataset(UserDataset):
    """Single-label classes from the sub-folders of `path`; optional `group_by` (a regular expression) keeps the
    excerpts of one recording on one side of every split. See the module docstring for the rules."""

    name = "folder"
    fixed_task = "single-label"
    expected_layout = EXPECTED_LAYOUT

    def __init__(self, root=None, path: str | None = None, group_by: str | None = None):
        self.check_params(path, group_by)
        pattern = compile_group_by(self.name, group_by)
        folder = resolve(self.name, path, root)
        if not folder.is_dir():
            what = "is a file, not a folder of class folders" if folder.exists() else "does not exist"
            hint = " (a CSV, TSV or JSON Lines list of files is read by the 'manifest' dataset)" if folder.suffix.lower() in (
                ".csv", ".tsv", ".jsonl") else ""
            raise DatasetError(f"folder: {folder} {what} (path {str(path)!r}, from {where_from(root)}){hint}; "
                               "point 'path' at a folder with one sub-folder of audio per class")
        self.root = folder
        found, ignored = scan(folder)
        tracks, unmatched = [], []
        for cls, files in found.items():
            for rel, full in files:
                group = group_of(pattern, rel) if pattern else None
                if pattern and group is None:
                    unmatched.append(rel)
                meta = {"class": cls, "format": os.path.splitext(rel)[1][1:].lower(), "relative_path": rel}
                tracks.append(Track(os.path.splitext(rel)[0], full, (cls,), group, meta))
        if unmatched:
            raise DatasetError(
                f"folder: group_by {group_by!r} finds no group in {len(unmatched)} of {len(tracks)} files under "
                f"{folder}, e.g. {unmatched[0]!r}; every file needs one, or excerpts of a recording could straddle "
                "train and test: fix the expression (it is searched in the path under 'path', extension included)"
            )
        check_unique_ids(folder, tracks)
        tracks.sort(key=lambda t: t.id)
        self.ignored = dict(sorted(ignored.items()))
        self.notes = tuple(ignored_notes(ignored))
        super().__init__(tracks, sorted(found), "single-label", NOMINAL_SAMPLE_RATE,
                         params={"path": str(path), "group_by": group_by})

    @classmethod
    def check_params(cls, path: str | None = None, group_by: str | None = None) -> None:
        """`path` a non-empty string (the folder is opened only when the dataset is); `group_by` a valid expression."""
        compile_group_by(cls.name, group_by)  # first: a suite's check blames each key alone, the others absent
        check_path_param(cls.name, path, "the folder of class folders")

    def describe(self) -> dict:
        return {**super().describe(), "ignored": dict(self.ignored)}


def scan(folder: Path) -> tuple[dict[str, list[tuple[str, Path]]], Counter]:
    """Class name -> (relative POSIX path, path) of each audio file under its folder, classes sorted; and the
    counts of what was ignored."""
    ignored: Counter = Counter()
    classes: dict[str, list[tuple[str, Path]]] = {}
    for entry in sorted(listing(folder), key=lambda e: e.name):
        if is_hidden(entry.name):
            ignored["hidden"] += 1
        elif entry.is_dir():
            classes[entry.name] = walk(folder, Path(entry.path), ignored)
        else:
            ignored["outside class folders"] += 1
    if not classes:
        raise DatasetError(f"folder: {folder} has no class folders; put each class's audio in a sub-folder named "
                           f"after the class:\n{EXPECTED_LAYOUT}")
    empty = [name for name, files in classes.items() if not files]
    if empty:
        raise DatasetError(
            f"folder: the class folder {folder / empty[0]} holds no audio files ({' '.join(AUDIO_SUFFIXES)})"
            + (f", nor do {len(empty) - 1} other class folder(s)" if len(empty) > 1 else "")
            + f"; add audio to it, or move it out of {folder}"
        )
    if len(classes) < 2:
        raise DatasetError(f"folder: {folder} has one class folder ({next(iter(classes))!r}); a classification "
                           "task needs at least two: add a sub-folder of audio for each other class")
    return classes, ignored


def listing(folder: Path) -> list[os.DirEntry]:
    """The entries of `folder`; DatasetError when it cannot be listed (files must not vanish unnoticed)."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as exc:
        raise DatasetError(f"folder: cannot list {folder}: {exc.strerror or exc}; make it readable "
                           "(chmod a+rx) or move it out of the dataset") from None


def walk(folder: Path, top: Path, ignored: Counter) -> list[tuple[str, Path]]:
    """Every audio file under `top` (links to folders followed, each real folder once), sorted by relative path."""
    out, seen, todo = [], set(), [top]
    while todo:
        here = todo.pop()
        real = os.path.realpath(here)
        if real in seen:
            continue
        seen.add(real)
        for entry in listing(here):
            if is_hidden(entry.name):
                ignored["hidden"] += 1
            elif entry.is_dir():
                todo.append(Path(entry.path))
            elif is_audio(entry.name):
                rel = Path(entry.path).relative_to(folder).as_posix()
                check_utf8(folder, rel)
                out.append((rel, Path(entry.path)))
            else:
                ignored["not audio"] += 1
    return sorted(out)


def check_utf8(folder: Path, rel: str) -> None:
    """A file name that is not UTF-8 cannot be a track id in result files; rename it."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise DatasetError(f"folder: the file name {rel!r} under {folder} is not valid UTF-8; rename it") from None


def check_unique_ids(folder: Path, tracks: list[Track]) -> None:
    """Two files whose paths differ only by extension would share a track id; keep one of them."""
    by_id: dict[str, list[str]] = {}
    for t in tracks:
        by_id.setdefault(t.id, []).append(t.meta["relative_path"])
    clashes = [paths for paths in by_id.values() if len(paths) > 1]
    if clashes:
        more = f" (and {len(clashes) - 1} more such pairs)" if len(clashes) > 1 else ""
        raise DatasetError(f"folder: {' and '.join(repr(p) for p in clashes[0])} under {folder} would be the same "
                           f"track {os.path.splitext(clashes[0][0])[0]!r}{more}; keep one file of each name")


def ignored_notes(ignored: Counter) -> list[str]:
    """One line saying what indexing left out, or none."""
    if not ignored:
        return []
    what = {"hidden": "hidden (dot) file(s) or folder(s)", "not audio": "file(s) that are not audio by extension",
            "outside class folders": "file(s) beside the class folders"}
    return ["ignored while indexing: " + ", ".join(f"{n} {what[k]}" for k, n in sorted(ignored.items()))]
