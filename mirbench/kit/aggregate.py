"""Shared helpers that turn frame- or window-level data into track-level vectors and scores."""

from __future__ import annotations

from typing import Sequence

import numpy as np

STATISTICS = {
    "mean": lambda x: x.mean(axis=0),
    "var": lambda x: x.var(axis=0),
    "std": lambda x: x.std(axis=0),
    "max": lambda x: x.max(axis=0),
    "min": lambda x: x.min(axis=0),
}


def pool(frames: np.ndarray, stats: Sequence[str] = ("mean", "var")) -> np.ndarray:
    """Concatenate summary statistics over the frame axis of a (frames, dims) array."""
    unknown = [s for s in stats if s not in STATISTICS]
    if unknown:
        raise ValueError(f"unknown statistics {unknown}; choose from {sorted(STATISTICS)}")
    if len(frames) == 0:
        raise ValueError("cannot pool an empty sequence of frames")
    return np.concatenate([STATISTICS[s](frames) for s in stats]).astype(np.float32)


def windows(frames: np.ndarray, size: int, hop: int, stats: Sequence[str] = ("mean", "var")) -> np.ndarray:
    """Pool frames over sliding windows of `size` frames every `hop` frames: (n_windows, dims * len(stats)).

    A track shorter than one window gives one window over all its frames, so no track is lost.
    """
    if size < 1 or hop < 1:
        raise ValueError(f"window size and hop must be >= 1 frame, got {size} and {hop}")
    starts = range(0, max(1, len(frames) - size + 1), hop)
    return np.stack([pool(frames[s : s + size], stats) for s in starts])


def mean_scores(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Track scores as the mean of each track's frame/window scores: list of (k_i, C) -> (n, C)."""
    return np.stack([np.asarray(p, dtype=np.float64).mean(axis=0) for p in parts])


def majority_vote(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Track scores as the fraction of each track's frames/windows voting for each class (ties keep the mean)."""
    out = []
    for p in parts:
        p = np.asarray(p, dtype=np.float64)
        votes = np.bincount(p.argmax(axis=1), minlength=p.shape[1]) / len(p)
        out.append(votes + 1e-6 * p.mean(axis=0))  # break exact ties by the mean posterior
    return np.stack(out)


def split_by_track(values: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    """Undo a concatenation of per-track rows."""
    return np.split(values, np.cumsum(counts)[:-1])
