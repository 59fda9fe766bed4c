"""Fixed-length windows cut from whole-clip features: random ones to train on, consecutive ones to predict with.

A window is `frames` time steps of the network's first layer: spectrogram
frames (mel input), or strided-convolution frames of `length` samples every
`stride` (raw input), i.e. (frames - 1) * stride + length samples. Windows
start on a frame boundary. A clip shorter than one window is zero-padded to one.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np


class Windows:
    """Cut windows from per-clip arrays: (frames, bands) spectrograms, or 1-D audio."""

    def __init__(self, clips: Sequence[np.ndarray], frames: int, stride: int = 1, length: int = 1, raw: bool = False):
        self.raw = raw
        self.frames, self.stride, self.length = int(frames), int(stride), int(length)
        self.size = (self.frames - 1) * self.stride + self.length if raw else self.frames  # rows per window
        self.clips = [self._at_least_one_window(np.ascontiguousarray(c, dtype=np.float32)) for c in clips]

    def _at_least_one_window(self, clip: np.ndarray) -> np.ndarray:
        clip = clip.reshape(-1) if self.raw else clip
        if len(clip) >= self.size:
            return clip
        pad = [(0, self.size - len(clip))] + [(0, 0)] * (clip.ndim - 1)
        return np.pad(clip, pad)

    def __len__(self) -> int:
        return len(self.clips)

    def starts(self, i: int) -> int:
        """Number of frame-aligned window positions in clip `i`."""
        n = len(self.clips[i])
        return (n - self.size) // self.stride + 1 if self.raw else n - self.size + 1

    def window(self, i: int, start: int) -> np.ndarray:
        offset = start * self.stride if self.raw else start
        return self.clips[i][offset : offset + self.size]

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """`n` windows at random (a clip uniformly, then a position in it uniformly) and their clip indices."""
        clips = rng.integers(len(self.clips), size=n)
        batch = np.stack([self.window(i, rng.integers(self.starts(i))) for i in clips])
        return batch, clips

    def tile_counts(self) -> np.ndarray:
        """Windows per clip when clips are tiled from their start (a remainder shorter than a window is dropped)."""
        return np.array([(self.starts(i) - 1) // self.frames + 1 for i in range(len(self.clips))])

    def tiles(self, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every clip's non-overlapping windows, in batches of at most `chunk`, with their clip indices."""
        pending: list[tuple[int, int]] = [
            (i, k * self.frames) for i, count in enumerate(self.tile_counts()) for k in range(count)
        ]
        for s in range(0, len(pending), chunk):
            part = pending[s : s + chunk]
            yield np.stack([self.window(i, start) for i, start in part]), np.array([i for i, _ in part])


def band_statistics(clips) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per band over every frame of `clips`, one clip in memory at a time."""
    total = squares = 0.0
    count = 0
    for clip in clips:
        frames = np.asarray(clip, dtype=np.float64)
        total, squares, count = total + frames.sum(axis=0), squares + np.square(frames).sum(axis=0), count + len(frames)
    mean = total / count
    return mean, np.sqrt(np.maximum(squares / count - mean**2, 1e-10))
