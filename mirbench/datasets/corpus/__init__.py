"""The embedded default dataset: music21 corpus works rendered to audio, with style and tag labels.

Built on first use into the cache (see `build`) and reused after; needs
nothing but pip packages. Two tasks over the same clips: `style` (six
single-label classes) and `tags` (multi-label: instrument family, tempo,
metre, mode and style). See docs/datasets/corpus.md.
"""

from __future__ import annotations

import json
import numbers
from pathlib import Path

from mirbench.dataset import Dataset, DatasetError, Track
from mirbench.datasets.corpus.builder import build
from mirbench.datasets.corpus.cache import BUILD_VERSION, SAMPLE_RATE
from mirbench.datasets.corpus.labels import STYLES, TAG_VOCABULARY

__all__ = ["CorpusDataset", "build", "BUILD_VERSION", "STYLES", "TAG_VOCABULARY", "TASKS"]

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
        cls, task: str = "style", clips_per_class: int = 80, clip_seconds: float = 30.0, seed: int = 0, **_
    ) -> None:
        """A known task, at least one clip per class, clips of positive length, a seed >= 0 (cache_dir, root and
        progress take anything)."""
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
        manifest = json.loads(self.manifest_path.read_text())
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


def _is_int(value) -> bool:
    """An integer that is not a boolean (TOML's true would otherwise count as 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
