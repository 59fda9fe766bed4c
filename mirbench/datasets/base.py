"""Tracks and datasets: the index of audio files with labels that every protocol splits.

A dataset module knows its on-disk layout and builds a `Dataset`; everything
after that (protocols, systems, metrics) sees only `Track`s and label names.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, Mapping, Sequence

import numpy as np

from mirbench.audio import AudioError, check_samples, load_audio, probe
from mirbench.errors import MirbenchError

Task = Literal["single-label", "multi-label"]


class DatasetError(MirbenchError):
    """A dataset cannot be found or built; the message says where and how to fix it."""


class UnknownEntryError(DatasetError, ValueError):
    """A label file or split list names a class or track the dataset does not have; the message names the file,
    the line or track, and the unknown entry (a ValueError too, as protocols raise for lists that do not fit)."""


@dataclass(frozen=True)
class Track:
    """One audio file and its labels.

    `labels` holds one class name for single-label tasks and any number of tag
    names for multi-label tasks. Tracks sharing a `group` (excerpts of one work,
    one artist) are never split across train and test by a protocol.
    """

    id: str
    path: Path
    labels: tuple[str, ...]
    group: str | None = None
    meta: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class ValidationReport:
    """What `Dataset.validate` found.

    `problems` make a track unusable (it is skipped and counted in reports):
    kind "missing", "unreadable" (no decodable audio: empty, corrupt, not a
    file, not readable), "non-finite" (NaN or infinite samples, or features
    that come out NaN or infinite) or "out-of-range" (float samples above
    `mirbench.audio.ABSURD_PEAK`, 1e10: features of them overflow); the embedded
    corpus also files a clip shorter than its manifest says as "truncated". `warnings`
    leave it usable but worth a look: kind "sample-rate" (it will be
    resampled), "truncated" (shorter than its header says: it loads as far as
    it goes), "out-of-range" (float samples above `mirbench.audio.OUT_OF_RANGE_PEAK`,
    2: clipped or mis-scaled audio) or "checksum" (it differs from the published
    file, so results may not be comparable). A track has one kind: a problem's,
    else its last warning's.
    """

    dataset: str
    n_tracks: int
    problems: dict[str, str] = field(default_factory=dict)  # track id -> reason
    warnings: dict[str, str] = field(default_factory=dict)  # track id -> reason
    kinds: dict[str, str] = field(default_factory=dict)  # track id -> kind of its problem or warning

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, track_id: str, kind: str, reason: str) -> None:
        self.problems[track_id] = reason
        self.kinds[track_id] = kind

    def warn(self, track_id: str, kind: str, reason: str) -> None:
        if track_id not in self.problems:
            self.warnings[track_id] = reason
            self.kinds[track_id] = kind

    def summary(self, limit: int = 20) -> str:
        """A few lines for logs: the counts, the first `limit` problems one per track, then one line per kind of
        warning with its count and first example."""
        head = f"{self.dataset}: {self.n_tracks - len(self.problems)}/{self.n_tracks} tracks usable"
        lines = [head]
        items = sorted(self.problems.items())
        lines += [f"  skipped {tid}: {why}" for tid, why in items[:limit]]
        if len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more skipped (see 'mirbench data check')")
        for kind, ids in warnings_by_kind(self.warnings, self.kinds):
            lines.append(f"  warning {kind}: {len(ids)} track{'s' if len(ids) != 1 else ''}, "
                         f"e.g. {ids[0]}: {self.warnings[ids[0]]}")
        return "\n".join(lines)


def warnings_by_kind(warnings: Mapping[str, str], kinds: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    """(kind, sorted track ids) for each kind of warning, in kind order: warnings of one kind are one line."""
    by_kind: dict[str, list[str]] = {}
    for tid in sorted(warnings):
        by_kind.setdefault(kinds.get(tid, "other"), []).append(tid)
    return sorted(by_kind.items())


_VALIDATION_PROGRESS: ContextVar[Callable[[int], object] | None] = ContextVar("validation_progress", default=None)


@contextmanager
def validation_progress(callback: Callable[[int], object]) -> Iterator[None]:
    """Inside the block, `Dataset.validate` calls `callback(1)` per track checked, also when a subclass's
    `validate` (which takes no callback) calls it: how the runner's progress bar counts validated tracks."""
    token = _VALIDATION_PROGRESS.set(callback)
    try:
        yield
    finally:
        _VALIDATION_PROGRESS.reset(token)


class Dataset:
    """An index of tracks for one task, plus audio loading and validation.

    Subclasses set `name`, `task`, `classes`, `tracks` and `sample_rate` in their
    constructor (or pass them here) and may override `load_audio`/`validate`.
    """

    name: str = "dataset"
    needs_root: bool = False  # True for datasets read from the user's copy under <data root>/<name>
    expected_sample_rate: int | None = None  # files at another rate get a "sample-rate" warning
    fixed_task: Task | None = None  # the task kind, for datasets that offer only one

    def __init__(
        self,
        tracks: Sequence[Track],
        classes: Sequence[str],
        task: Task,
        sample_rate: int,
        name: str | None = None,
        params: Mapping[str, object] | None = None,
    ):
        if name is not None:
            self.name = name
        self.tracks = tuple(tracks)
        self.classes = tuple(classes)
        self.task = task
        self.sample_rate = int(sample_rate)
        self.params = dict(params or {})
        ids = [t.id for t in self.tracks]
        if len(set(ids)) != len(ids):
            raise DatasetError(f"dataset {self.name!r} has duplicate track ids")
        self._by_id = {t.id: t for t in self.tracks}
        unknown = [(t.id, lab) for t in self.tracks for lab in t.labels if lab not in set(self.classes)]
        if unknown:
            shown = "; ".join(f"track {tid!r} has {lab!r}" for tid, lab in unknown[:3])
            more = f"; and {len(unknown) - 3} more" if len(unknown) > 3 else ""
            raise UnknownEntryError(
                f"dataset {self.name!r}: labels {sorted({lab for _, lab in unknown})} are not among its classes "
                f"({', '.join(self.classes)}): {shown}{more}; correct the labels, or add the classes"
            )

    @classmethod
    def check_params(cls, **params) -> None:
        """Raise DatasetError for a parameter value the dataset cannot take, without opening it (suites are
        checked this way before any run); subclasses check theirs, and call it from `__init__` too."""

    @classmethod
    def locate_root(cls, data_root: Path, name: str) -> Path:
        """The folder this dataset reads under the data root: `<data root>/<name>`; a dataset whose copy may sit
        elsewhere under it (another tool's layout) or that reads the data root itself overrides this, and may raise
        DatasetError naming the places it looked."""
        return data_root / name

    @classmethod
    def task_for(cls, params: dict) -> Task | None:
        """The kind of task these constructor parameters give, when known without building (for `validate`)."""
        return cls.fixed_task

    def index(self) -> tuple[Track, ...]:
        """Every track the dataset's metadata names, with its labels (present on disk or not)."""
        return self.tracks

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, track_id: str) -> Track:
        return self._by_id[track_id]

    def subset(self, ids: Sequence[str]) -> list[Track]:
        return [self._by_id[i] for i in ids]

    def targets(self, tracks: Sequence[Track]) -> np.ndarray:
        """Class indices (n,) for single-label tasks, a 0/1 matrix (n, C) for multi-label ones."""
        index = {c: i for i, c in enumerate(self.classes)}
        if self.task == "single-label":
            return np.array([index[t.labels[0]] for t in tracks], dtype=np.int64)
        y = np.zeros((len(tracks), len(self.classes)), dtype=np.float32)
        for row, t in enumerate(tracks):
            y[row, [index[lab] for lab in t.labels]] = 1.0
        return y

    def load_audio(self, track: Track, sample_rate: int) -> np.ndarray:
        """Mono float32 audio of `track` at `sample_rate`; raises AudioError when unreadable."""
        return load_audio(track.path, sample_rate)

    def validate(self, progress: Callable[[int], object] | None = None) -> ValidationReport:
        """Check that every track's file exists, its audio decodes (header, first and last blocks, every sample of
        a float file: finite, and not far outside [-1, 1]), and its sample rate is the published one; tracks with a
        problem are skipped by runs.

        `progress(1)` is called as each track is checked (a progress bar's `update`); without it, the callback
        `validation_progress` set, if any: datasets that override `validate` and call this one pass none."""
        report = ValidationReport(self.name, len(self.tracks))
        progress = progress or _VALIDATION_PROGRESS.get()
        for t in self.tracks:
            if progress is not None:
                progress(1)
            if not Path(t.path).exists():
                report.problem(t.id, "missing", f"{t.path}: file not found")
                continue
            try:
                info = probe(t.path)
                found = check_samples(t.path, info)
            except AudioError as exc:
                report.problem(t.id, exc.kind, str(exc))
                continue
            for kind, reason in found:
                report.warn(t.id, kind, reason)
            if self.expected_sample_rate and info.sample_rate != self.expected_sample_rate:
                report.warn(
                    t.id, "sample-rate", f"{t.path}: {info.sample_rate} Hz, expected {self.expected_sample_rate} Hz (resampled on load)"
                )
        return report

    def fingerprint(self) -> str:
        """A hash of the index (ids, labels, groups, file names): identifies the track set in results."""
        h = hashlib.sha256()
        h.update(json.dumps([self.name, self.task, list(self.classes)]).encode())
        for t in self.tracks:
            h.update(json.dumps([t.id, list(t.labels), t.group, Path(t.path).name]).encode())
        return h.hexdigest()[:16]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "params": self.params,
            "task": self.task,
            "classes": list(self.classes),
            "n_tracks": len(self.tracks),
            "sample_rate": self.sample_rate,
            "fingerprint": self.fingerprint(),
        }
