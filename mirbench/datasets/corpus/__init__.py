"""The embedded default dataset: music21 corpus works rendered to audio, with style and tag labels.

Built on first use into the cache (see `build`) and reused after; needs
nothing but pip packages. Two tasks over the same clips: `style` (six
single-label classes) and `tags` (multi-label: instrument family, tempo,
metre, mode and style). See docs/datasets/corpus.md.
"""

from __future__ import annotations

import numbers
from pathlib import Path

from mirbench.datasets.base import Dataset, DatasetError, Track
from mirbench.datasets.corpus.builder import build, build_many
from mirbench.datasets.corpus.cache import BUILD_VERSION, SAMPLE_RATE, read_manifest
from mirbench.datasets.corpus.labels import STYLES, TAG_VOCABULARY

__all__ = ["CorpusDataset", "build", "build_many", "BUILD_VERSION", "STYLES", "TAG_VOCABULARY", "TASKS"]

#: Task name -> kind of task.
TASKS = {"style": "single-label", "tags": "multi-label"}


class CorpusDataset(Dataset):
    """Rendered music21 corpus excerpts; `task="style"` or `task="tags"`.

    `root` is accepted for uniformity with the other datasets and ignored: this
    dataset lives in the cache (`cache_dir`, else `$MIRBENCH_CACHE`, else the
    user cache directory).
    """

    name = "corpus"

    @classmethod
    def task_for(cls, params: dict):
        return TASKS.get(params.get("task", "style"))

    @classmethod
    def check_params(
        cls, task: str = "style", clips_per_class: int = 80, clip_seconds: float = 30.0, seed: int = 0,
        root: object = None, **_,
    ) -> None:  # fmt: skip
        """A known task, at least one clip per class, clips of positive length, a seed >= 0, no `root` (a suite's
        `root` would clash with the data root every dataset is given; cache_dir and progress take anything)."""
        if root is not None:
            raise DatasetError(
                "corpus: takes no 'root': the embedded dataset is built into the cache, not read from a directory; "
                "remove 'root' (set 'cache_dir', or pass --cache-dir, to choose where it is built)"
            )
        if task not in TASKS:
            raise DatasetError(f"corpus: unknown task {task!r}; valid tasks are {', '.join(repr(t) for t in TASKS)}")
        if not _is_int(clips_per_class) or clips_per_class < 1:
            raise DatasetError(f"corpus: clips_per_class must be an integer of at least 1, got {clips_per_class!r}")
        number = isinstance(clip_seconds, numbers.Real) and not isinstance(clip_seconds, bool)
        if not number or not clip_seconds > 0:
            raise DatasetError(f"corpus: clip_seconds must be a positive number, got {clip_seconds!r}")
        if not _is_int(seed) or seed < 0:
            raise DatasetError(f"corpus: seed must be an integer >= 0, got {seed!r}")

    def __init__(
        self,
        task: str = "style",
        clips_per_class: int = 80,
        clip_seconds: float = 30.0,
        seed: int = 0,
        cache_dir: str | Path | None = None,
        root: str | Path | None = None,
        progress: bool = True,
    ):
        self.check_params(task, clips_per_class, clip_seconds, seed)
        self.manifest_path = build(cache_dir, int(clips_per_class), float(clip_seconds), int(seed), progress)
        manifest = read_manifest(self.manifest_path)  # checked: every key this reads is there, paths stay inside
        if manifest is None:
            raise DatasetError(f"corpus: {self.manifest_path} vanished while it was read; run again")
        self.clip_seconds = float(clip_seconds)
        base = self.manifest_path.parent
        tracks = [
            Track(
                id=clip["id"],
                path=base / clip["wav"],
                labels=(clip["style"],) if task == "style" else tuple(clip["tags"]),
                group=clip["group"],
                meta=clip,
            )
            for clip in manifest["clips"]
        ]
        classes = manifest["styles"] if task == "style" else manifest["tags"]
        params = {
            "task": task,
            "clips_per_class": int(clips_per_class),
            "clip_seconds": float(clip_seconds),
            "seed": int(seed),
            "build_version": BUILD_VERSION,
        }
        super().__init__(tracks, classes, TASKS[task], SAMPLE_RATE, params=params)

    def validate(self):
        """The checks of every dataset, and each clip's length against the manifest's clip_seconds: a clip of the
        build that is shorter (or longer) than that is a damaged cache, so it is a problem (the track is skipped,
        the run names it and its report lists it), not a warning."""
        from mirbench.audio import probe

        report = super().validate()
        expected = int(round(self.clip_seconds * SAMPLE_RATE))
        fix = f"delete {self.manifest_path.parent} to rebuild the corpus"
        for t in self.tracks:
            if t.id in report.problems:
                continue
            if report.kinds.get(t.id) == "truncated":  # the header promises more audio than the file holds
                why = report.warnings.pop(t.id)
                report.problem(t.id, "truncated", f"{why}; a corpus clip must be whole: {fix}")
                continue
            frames = probe(t.path).frames
            if frames != expected:
                report.warnings.pop(t.id, None)
                report.problem(
                    t.id, "truncated",
                    f"{t.path}: {frames / SAMPLE_RATE:.2f} s of audio, the corpus manifest says {self.clip_seconds:g} s "
                    f"(a truncated or replaced clip): {fix}",
                )  # fmt: skip
        return report


def _is_int(value) -> bool:
    """An integer that is not a boolean (TOML's true would otherwise count as 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
