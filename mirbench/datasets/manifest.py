"""`manifest`: the user's own audio listed in a CSV, TSV or JSON Lines file with labels. See docs/datasets/manifest.md.

Columns (JSON Lines: keys): `path` (or `audio`, or `file`) relative to the manifest's folder; `label` (one class:
single-label) or `tags` (`;`-separated, or a JSON list: multi-label); optional `group` and `split` (train, valid,
test: the `fixed-split` protocol with no lists replays it, through `ManifestDataset.splits`). Decisions:
- the format follows the extension: `.csv` (comma), `.tsv` (tab), `.jsonl`; UTF-8 (a BOM is allowed); CSV and TSV
  need a header row (row 1) and, on every row, as many cells as it has; blank rows and lines are skipped;
- errors name the file, the row (CSV/TSV: header = row 1) or line (JSON Lines), and the column, and are one
  DatasetError: a manifest is fixed, not partly read. Only audio is checked later: a missing or unreadable file
  is a recorded skip of `validate`;
- an audio path is `/`-separated (a `\\` is read as `/`) and must stay inside the manifest's folder: an absolute
  path, a `..` that climbs out, or a symbolic link that leads out is refused;
- track ids are those paths without their extension (the `folder` dataset's ids for the same files); two rows
  naming one file, or files that differ only by extension, are an error;
- a label is a non-empty string (a JSON number, null or list is refused: write "3"); a tags cell may be empty (the
  track is a negative for every tag); an empty group is no group (the track is a unit of its own); when a split
  column exists every row needs train, valid or test;
- other columns are ignored, except one whose name is close to a column mirbench reads that is absent (`lable`,
  `Label`, `spilt`): that is a typo, and an error;
- the classes (tags) are sorted and case-sensitive; a single-label manifest needs at least two; classes that
  differ only in case or spacing (`Jazz`, `jazz`) stay distinct and `mirbench data check` points them out.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
import posixpath
from pathlib import Path

from mirbench.datasets.base import DatasetError, Track
from mirbench.datasets.user import (
    NOMINAL_SAMPLE_RATE,
    UserDataset,
    check_path_param,
    resolve,
    where_from,
)

__all__ = ["FORMATS", "PATH_COLUMNS", "SPLITS", "ManifestDataset"]

FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None}  # extension -> CSV delimiter (None: JSON Lines)
PATH_COLUMNS = ("path", "audio", "file")  # the audio column, by any of these names
SPLITS = ("train", "valid", "test")
KNOWN = (*PATH_COLUMNS, "label", "tags", "group", "split")
TAG_SEPARATOR = ";"


class ManifestDataset(UserDataset):
    """Tracks and labels from the manifest at `path`; single-label with a `label` column, multi-label with `tags`.

    `splits`: the track ids of each part (train, valid, test) when the manifest has a `split` column, else None.
    """

    name = "manifest"

    def __init__(self, root=None, path: str | None = None):
        self.check_params(path)
        file = resolve(self.name, path, root)
        if not file.is_file():
            what = "is a folder, not a manifest file" if file.is_dir() else "does not exist"
            hint = " (a folder of class folders is read by the 'folder' dataset)" if file.is_dir() else ""
            raise DatasetError(f"manifest: {file} {what} (path {str(path)!r}, from {where_from(root)}){hint}; "
                               "point 'path' at a .csv, .tsv or .jsonl file")
        self.root = self.file = file  # `root`: what `mirbench data check` names
        rows, columns = read_manifest(file)
        table = Columns(file, columns)
        tracks = [table.track(where, row) for where, row in rows]
        check_unique(file, table, tracks)
        tracks.sort(key=lambda t: t.id)
        task = "multi-label" if table.labels == "tags" else "single-label"
        classes = sorted({lab for t in tracks for lab in t.labels})
        if task == "single-label" and len(classes) < 2:
            raise DatasetError(f"manifest: {file} names {len(classes)} class ({', '.join(map(repr, classes))}); "
                               "a classification task needs at least two: add tracks of the other classes")
        if not classes:
            raise DatasetError(f"manifest: {file} gives no track a tag; fill the 'tags' column (tags separated by ';')")
        self.splits = None
        if table.split:
            self.splits = {part: tuple(t.id for t in tracks if t.meta["split"] == part) for part in SPLITS}
        self.notes = tuple(notes(tracks, classes))
        super().__init__(tracks, classes, task, NOMINAL_SAMPLE_RATE, params={"path": str(path)})

    @classmethod
    def check_params(cls, path: str | None = None) -> None:
        """`path` a string ending in .csv, .tsv or .jsonl (the file is read only when the dataset is opened)."""
        check_path_param(cls.name, path, "a .csv, .tsv or .jsonl manifest")
        suffix = Path(str(path)).suffix.lower()
        if suffix not in FORMATS:
            raise DatasetError(f"manifest: 'path' {str(path)!r} must end in .csv, .tsv or .jsonl (the extension "
                               "chooses the format); rename the file")

    def describe(self) -> dict:
        out = super().describe()
        if self.splits is not None:
            out["splits"] = {part: len(ids) for part, ids in self.splits.items()}
        return out


def notes(tracks: list[Track], classes: list[str]) -> list[str]:
    """Lines for `mirbench data check`: tracks without tags, and classes that differ only in case or spacing."""
    out = []
    untagged = sum(1 for t in tracks if not t.labels)
    if untagged:
        out.append(f"{untagged} track(s) have no tags (negatives for every tag)")
    spelled: dict[str, list[str]] = {}
    for c in classes:
        spelled.setdefault(" ".join(c.lower().split()), []).append(c)
    alike = [names for names in spelled.values() if len(names) > 1]
    if alike:
        shown = "; ".join(" / ".join(repr(n) for n in names) for names in alike[:3])
        out.append(f"classes that differ only in case or spacing (distinct classes; check the spelling): {shown}")
    return out


def read_manifest(file: Path) -> tuple[list[tuple[str, dict]], list[str]]:
    """(where, row) for each non-blank row — `where` is "row N" (CSV/TSV) or "line N" (JSON Lines) — and the
    column names in file order."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DatasetError(f"manifest: cannot read {file}: {exc.strerror or exc}; make it readable") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError(f"manifest: {file} is not UTF-8 text ({exc.reason} at byte {exc.start}, line {line}); "
                           "save it as UTF-8") from None
    delimiter = FORMATS[file.suffix.lower()]
    rows, columns = read_jsonl(file, text) if delimiter is None else read_csv(file, text, delimiter)
    if not rows:
        raise DatasetError(f"manifest: {file} lists no tracks; add a row per audio file")
    return rows, columns


def read_csv(file: Path, text: str, delimiter: str) -> tuple[list[tuple[str, dict]], list[str]]:
    kind = "TSV" if delimiter == "\t" else "CSV"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows, header, n = [], None, 0
    try:
        for n, cells in enumerate(reader, 1):
            if header is None:
                header = check_header(file, cells)
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                sep = "a tab" if delimiter == "\t" else "a comma"
                raise DatasetError(f"manifest: {file} row {n} has {len(cells)} cell(s), the header (row 1) has "
                                   f"{len(header)}; give every row one cell per column (quote a cell with {sep} in it)")
            rows.append((f"row {n}", dict(zip(header, cells))))
    except csv.Error as exc:
        raise DatasetError(f"manifest: {file} is not valid {kind} at row {n + 1} (line {reader.line_num}): {exc}; "
                           "fix the quoting there") from None
    if header is None:
        raise DatasetError(f"manifest: {file} is empty; row 1 must be the header (path,label or path,tags)")
    return rows, header


def check_header(file: Path, cells: list[str]) -> list[str]:
    header = [c.strip() for c in cells]
    if not any(header):
        raise DatasetError(f"manifest: {file} row 1 must be the header naming the columns (e.g. path,label)")
    for k, name in enumerate(header, 1):
        if not name:
            raise DatasetError(f"manifest: {file} row 1: column {k} has no name; name it or delete the column")
        if header.count(name) > 1:
            raise DatasetError(f"manifest: {file} row 1: column {name!r} appears twice; keep one")
    return header


def read_jsonl(file: Path, text: str) -> tuple[list[tuple[str, dict]], list[str]]:
    rows, columns = [], {}
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"manifest: {file} line {n} is not valid JSON ({exc.msg} at column {exc.colno}); "
                               "write one JSON object per line") from None
        except RecursionError:
            raise DatasetError(f"manifest: {file} line {n} is nested too deeply; write one flat JSON object per "
                               "line") from None
        if not isinstance(row, dict):
            raise DatasetError(f"manifest: {file} line {n} is not a JSON object; write one object per line, "
                               'e.g. {"path": "jazz/take1.wav", "label": "jazz"}')
        columns.update(dict.fromkeys(row))
        rows.append((f"line {n}", row))
    return rows, list(columns)


class Columns:
    """Which column holds what, decided once from the header (CSV) or the keys of every line (JSON Lines);
    `track` reads one row with those."""

    def __init__(self, file: Path, names: list[str]):
        self.file = file
        self.jsonl = file.suffix.lower() == ".jsonl"
        self.field = "key" if self.jsonl else "column"
        paths = [c for c in PATH_COLUMNS if c in names]
        labels = [c for c in ("label", "tags") if c in names]
        if len(paths) > 1 or len(labels) > 1:
            both = paths if len(paths) > 1 else labels
            raise DatasetError(f"manifest: {file}{'' if self.jsonl else ' row 1 (the header)'} has both "
                               f"{self.field}s {both[0]!r} and {both[1]!r}; keep one "
                               + ("(they name the same audio)" if len(paths) > 1 else
                                  "('label' for one class per track, 'tags' for several)"))
        for name in names:  # a near miss of a column we read, which is absent, is a typo, not extra data
            if name in KNOWN:
                continue
            close = difflib.get_close_matches(name.lower(), [k for k in KNOWN if k not in names], n=1, cutoff=0.8)
            if close:
                raise DatasetError(f"manifest: {file}{'' if self.jsonl else ' row 1 (the header)'}: {self.field} "
                                   f"{name!r} is not one mirbench reads; did you mean "
                                   f"{close[0]!r}? (names are lowercase: {', '.join(KNOWN)})")
        lacks = f"{file}: no line has a key" if self.jsonl else f"{file} row 1 (the header) has no column"
        if not paths:
            raise DatasetError(f"manifest: {lacks} 'path' (each row's audio file, relative to {file.parent}); "
                               f"{self.found(names)}")
        if not labels:
            raise DatasetError(f"manifest: {lacks} 'label' (one class per track) or 'tags' (several, separated by "
                               f"';'); {self.found(names)}")
        self.path, self.labels = paths[0], labels[0]
        self.group = "group" in names
        self.split = "split" in names
        self.base = file.parent
        self.real_base = os.path.realpath(self.base)

    def found(self, names: list[str]) -> str:
        shown = ", ".join(repr(n) for n in names[:8]) + (" ..." if len(names) > 8 else "")
        return f"found {shown}" if names else "found none"

    def fail(self, where: str, column: str, problem: str) -> DatasetError:
        return DatasetError(f"manifest: {self.file} {where}, {self.field} {column!r}: {problem}")

    def value(self, where: str, row: dict, column: str, required: bool = True):
        """The row's value in `column`: CSV cells stripped; a JSON Lines value as it is. Missing: None."""
        if column not in row:
            if required:
                raise self.fail(where, column, f"missing; give every line a {column!r}")
            return None
        value = row[column]
        return value.strip() if isinstance(value, str) else value

    def text(self, where: str, column: str, value, what: str) -> str:
        """A non-empty string, else the one-line error saying what the cell holds instead."""
        if isinstance(value, str) and value:
            return value
        if value == "":
            raise self.fail(where, column, f"is empty; write {what} (or delete the row)")
        one = "; 'label' holds one class (use 'tags' for several)" if isinstance(value, list) and column == "label" else ""
        quote = ' (in quotes, e.g. "3")' if isinstance(value, (int, float)) else ""
        raise self.fail(where, column, f"is {kind_of(value)}, not a string{one}; write {what}{quote}")

    def track(self, where: str, row: dict) -> Track:
        rel = self.audio_path(where, self.text(where, self.path, self.value(where, row, self.path),
                                               "the audio file's path"))
        if self.labels == "label":
            labels = (self.text(where, "label", self.value(where, row, "label"), "the track's class"),)
        else:
            labels = self.tags(where, self.value(where, row, "tags"))
        group = None
        if self.group:
            value = self.value(where, row, "group", required=False)
            group = None if value in (None, "") else self.text(where, "group", value, "the group's name")
        meta = {"relative_path": rel, "format": posixpath.splitext(rel)[1][1:].lower(), "where": where}
        if self.split:
            part = self.value(where, row, "split")
            if part not in SPLITS:
                shown = "empty" if part == "" else repr(part[:40]) if isinstance(part, str) else kind_of(part)
                raise self.fail(where, "split", f"is {shown}; write train, valid or test")
            meta["split"] = part
        return Track(posixpath.splitext(rel)[0], self.base / rel, labels, group, meta)

    def tags(self, where: str, value) -> tuple[str, ...]:
        """Tags from a `;`-separated string (empty: none) or, in JSON Lines, a list of strings; each once, in order."""
        if isinstance(value, list) and self.jsonl:
            items = [self.text(where, "tags", v.strip() if isinstance(v, str) else v, "each tag as a string")
                     for v in value]
        elif isinstance(value, str):
            items = [s.strip() for s in value.split(TAG_SEPARATOR) if s.strip()]
        else:
            raise self.fail(where, "tags", f"is {kind_of(value)}, not a string; write the tags separated by ';' "
                            "(or a list of strings)")
        return tuple(dict.fromkeys(items))

    def audio_path(self, where: str, value: str) -> str:
        """The normalised relative POSIX path; an error for one that is absolute or leads outside the folder."""
        given = value.replace("\\", "/")
        if given.startswith("/") or (len(given) > 1 and given[1] == ":"):
            raise self.fail(where, self.path, f"{value!r} is an absolute path; write it relative to the manifest's "
                            f"folder {self.base} (or move the manifest to a folder that holds the audio)")
        rel = posixpath.normpath(given)
        if rel == ".." or rel.startswith("../"):
            raise self.fail(where, self.path, f"{value!r} leads outside the manifest's folder {self.base}; audio "
                            "must sit in that folder or below it (move the manifest up)")
        if rel == ".":
            raise self.fail(where, self.path, f"{value!r} names the manifest's folder itself; name an audio file")
        real = os.path.realpath(self.base / rel)
        if os.path.commonpath([real, self.real_base]) != self.real_base:
            raise self.fail(where, self.path, f"{value!r} leads outside the manifest's folder {self.base} through a "
                            "symbolic link; put the manifest in a folder that holds the audio itself")
        return rel


def kind_of(value) -> str:
    """What a JSON value is, in words (a message names the kind of a bad value, not its content)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else "a string"


def check_unique(file: Path, table: Columns, tracks: list[Track]) -> None:
    """Each audio file once, and no two files that differ only by extension (they would share a track id)."""
    seen: dict[str, Track] = {}
    for t in tracks:
        first = seen.setdefault(t.id, t)
        if first is t:
            continue
        a, b = first.meta["relative_path"], t.meta["relative_path"]
        problem = f"names {b!r} again (first at {first.meta['where']})" if a == b else (
            f"{b!r} would be the same track {t.id!r} as {a!r} at {first.meta['where']}")
        raise table.fail(t.meta["where"], table.path, f"{problem}; list each audio file once, with distinct names")
