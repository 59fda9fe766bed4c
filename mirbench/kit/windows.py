"""Fixed-length windows cut from whole-clip features: random ones to train on, consecutive ones to predict with.

A window is `frames` time steps of the network's first layer: spectrogram
frames (mel input), or strided-convolution frames of `length` samples every
`stride` (raw input), i.e. (frames - 1) * stride + length samples. Windows
start on a frame boundary. A clip shorter than one window is zero-padded to one.

With `segments=True` a clip is cut into fixed segments instead (the 3 s
segments of a GTZAN study): as many windows as fit its length, rounded, the
last one moved back to end with the clip rather than dropped or padded, so a
29.9 s clip still gives ten 3 s segments. Training then draws whole segments,
each epoch a fresh random order over all of them; prediction tiles the same
segments.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np


class Windows:
    """Cut windows from per-clip arrays: (frames, bands) spectrograms, or 1-D audio."""

    def __init__(
        self, clips: Sequence[np.ndarray], frames: int, stride: int = 1, length: int = 1, raw: bool = False,
        segments: bool = False,
    ):  # fmt: skip
        self.raw, self.segments = raw, segments
        self.frames, self.stride, self.length = int(frames), int(stride), int(length)
        self.size = (self.frames - 1) * self.stride + self.length if raw else self.frames  # rows per window
        self.clips = [self._at_least_one_window(np.ascontiguousarray(c, dtype=np.float32)) for c in clips]
        self.n_starts = np.array([self.starts(i) for i in range(len(self.clips))], dtype=np.int64)
        self._order = np.zeros((0, 2), dtype=np.int64)  # segments mode: this epoch's (clip, start) order...
        self._taken = 0  # ...and how much of it has been drawn
        self._every: np.ndarray | None = None  # segments mode: `positions()` as an array, made at the first draw

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

    def window_shape(self) -> tuple[int, ...]:
        """The shape of one window: (frames, bands) of a spectrogram, or (samples,) of audio."""
        return (self.size, *self.clips[0].shape[1:]) if self.clips else (self.size,)

    def sample(self, rng: np.random.Generator, n: int, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`n` training windows and their clip indices: at random positions (a clip uniformly, then a position in it
        uniformly), or, with `segments`, the next `n` segments of a shuffled pass over all of them. The windows are
        written into `out` ((n, *window_shape()) float32, e.g. page-locked memory) when given."""
        clips, starts = self.draw(rng, n)
        return self.gather(clips, starts, out), clips

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Where `sample`'s `n` windows are: their clips and start positions (all of its random draws, in its order).
        Vectorised: `integers` with an array of bounds makes the draws that one call per window would make."""
        if self.segments:
            picked = self._next_segments(rng, n)
            return picked[:, 0], picked[:, 1]
        clips = rng.integers(len(self.clips), size=n)
        return clips, rng.integers(self.n_starts[clips])

    def gather(self, clips: np.ndarray, starts: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The windows at (clips, starts), stacked (into `out` when given)."""
        return np.stack([self.window(i, start) for i, start in zip(clips, starts)], out=out)

    def _next_segments(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """The next `n` (clip, start) rows of the shuffled passes over every segment, a fresh permutation each pass."""
        parts = []
        while n > 0:
            if self._taken == len(self._order):
                if self._every is None:
                    self._every = np.array(self.positions(), dtype=np.int64).reshape(-1, 2)
                self._order, self._taken = self._every[rng.permutation(len(self._every))], 0
            take = min(n, len(self._order) - self._taken)
            parts.append(self._order[self._taken : self._taken + take])
            self._taken, n = self._taken + take, n - take
        return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)

    def epoch_size(self) -> int:
        """Training items in one pass: clips (random windows), or segments."""
        return int(self.tile_counts().sum()) if self.segments else len(self.clips)

    def starts_of(self, i: int) -> list[int]:
        """Where clip `i`'s tiled windows start: every `frames` from 0 (a remainder shorter than a window is
        dropped), or, with `segments`, round(length / window) segments, the last one ending with the clip."""
        last = self.starts(i) - 1
        if not self.segments:
            return list(range(0, last + 1, self.frames))
        count = max(1, int((last + self.frames) / self.frames + 0.5))
        return [min(k * self.frames, last) for k in range(count)]

    def positions(self) -> list[tuple[int, int]]:
        """(clip, start) of every tiled window, clip by clip."""
        return [(i, start) for i in range(len(self.clips)) for start in self.starts_of(i)]

    def tile_counts(self) -> np.ndarray:
        """Tiled windows per clip (`starts_of`)."""
        return np.array([len(self.starts_of(i)) for i in range(len(self.clips))])

    def tiles(self, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every clip's tiled windows (`starts_of`), in batches of at most `chunk`, with their clip indices."""
        pending = self.positions()
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
