"""STFT magnitude frames (Sigtia & Dixon 2014), and the torch STFT the mel frontends share.

Matches `librosa.stft`: periodic window from `librosa.filters.get_window`, no
normalisation, and with `center=True` zero padding of n_fft // 2 on both sides
(librosa >= 0.10 pads with pad_mode="constant"). Zero padding is also what
makes a zero-padded batch give the same frames as each track on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from mirbench.frontends.base import Frontend


def n_stft_frames(n_samples: int, n_fft: int, hop_length: int, center: bool) -> int:
    """Frames librosa.stft returns for `n_samples` samples."""
    if center:
        return 1 + n_samples // hop_length
    return 0 if n_samples < n_fft else 1 + (n_samples - n_fft) // hop_length


BLOCK_BYTES = 2 * 2**20  # CPU: frames go through the FFT in blocks of this much framed audio (see `spectrogram`)


def spectrogram(
    audio: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor, center: bool, power: float = 1.0,
    project: Projection | None = None, finish: Callable[[torch.Tensor, slice], torch.Tensor] | None = None,
) -> torch.Tensor:  # fmt: skip
    """`finish(project(|STFT| ** power), rows)` of (B, T) float32 audio, (B, frames, dims). `project` maps the last
    axis (a filterbank), and without both the result is (B, frames, n_fft // 2 + 1); `finish` gets the projected
    frames of the rows `rows` of the batch, all of their frames at once (a compression, a per-track dB floor, a
    DCT). `window` has n_fft samples; a shorter analysis window comes zero-padded to n_fft around its centre
    (`window_array(..., win_length)`), as librosa does.

    The frames are a strided view of the audio (zero-padded only where a frame overhangs an end): one real FFT of
    the windowed frames, then the magnitude as sqrt(re^2 + im^2) on the real view (complex `abs` costs 3x as
    much), then `project`. On the CPU each clip goes through on its own, in blocks of frames of at most
    `BLOCK_BYTES`, each block projected straight into the clip's rows, and `finish` runs on that one clip: every
    intermediate is then at most a clip's features (0.7 MB for 128 bands of 30 s), served again from the same heap
    memory and from cache, where whole batches (tens of MB, above glibc's mmap threshold) get fresh pages and
    page-fault on every call (a batch of 8 cost more per clip than one clip). The only allocation the size of the
    batch is the output: each clip's finished rows are copied into it (without `finish`, projected into it) as the
    clip is done, and the next clip reuses the same buffer. On CUDA, and where autograd needs the intermediates,
    the batch goes at once.
    """
    n_frames = n_stft_frames(audio.shape[-1], n_fft, hop_length, center)
    n_dims = project.n_dims if project is not None else n_fft // 2 + 1
    project = project or _unprojected
    unfinished = finish is None  # then each clip is projected straight into its rows of the output
    finish = finish or (lambda values, rows: values)
    if n_frames == 0:
        return finish(audio.new_zeros(audio.shape[0], 0, n_dims), slice(0, audio.shape[0]))
    if audio.device.type != "cpu" or not in_place(audio):
        everything = slice(0, audio.shape[0])
        frames = framed(audio, 0, n_frames, n_fft, hop_length, center)
        return finish(project(_magnitude(frames, window, power)), everything)
    block = max(1, BLOCK_BYTES // (4 * n_fft))
    batch = audio.shape[0]
    out = audio.new_empty(batch, n_frames, n_dims) if unfinished else None
    values = None if unfinished else audio.new_empty(1, n_frames, n_dims)  # one clip's, reused clip after clip
    for row in range(batch):
        rows = slice(row, row + 1)
        clip = out[rows] if unfinished else values
        for start in range(0, n_frames, block):
            stop = min(start + block, n_frames)
            frames = framed(audio[rows], start, stop, n_fft, hop_length, center)
            project(_magnitude(frames, window, power), out=clip[:, start:stop])
        if unfinished:
            continue
        done = finish(clip, rows)
        if batch == 1:
            return done
        if out is None:
            out = done.new_empty(batch, *done.shape[1:])
        out[rows] = done
    return out


def framed(audio: torch.Tensor, start: int, stop: int, n_fft: int, hop_length: int, center: bool) -> torch.Tensor:
    """Frames `start` to `stop` of (B, T) audio as librosa frames it, (B, stop - start, n_fft): a strided view of
    the audio, or of a copy of the few samples around them with the zeros of centring where they overhang an end."""
    pad = n_fft // 2 if center else 0
    first, last = start * hop_length - pad, (stop - 1) * hop_length + n_fft - pad  # samples [first, last)
    n_samples = audio.shape[-1]
    lo, hi = min(max(first, 0), n_samples), max(min(last, n_samples), 0)
    hi = max(hi, lo)
    left, right = min(max(-first, 0), last - first), min(max(last - n_samples, 0), last - first)
    samples = audio[:, lo:hi]
    if left or right:
        samples = F.pad(samples, (left, right))
    return samples.unfold(-1, n_fft, hop_length)


class Projection(Protocol):
    """A linear map of the last axis to `n_dims` values, written into `out` when given (a filterbank)."""

    n_dims: int

    def __call__(self, spec: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor: ...


def _unprojected(spec: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    return spec if out is None else out.copy_(spec)


def in_place(tensor: torch.Tensor) -> bool:
    """Whether an intermediate may be overwritten: yes unless autograd needs it (the frontend inside a model)."""
    return not (tensor.requires_grad and torch.is_grad_enabled())


def _magnitude(frames: torch.Tensor, window: torch.Tensor, power: float) -> torch.Tensor:
    """|rfft(frames * window)| ** power, squaring the real view in place and adding its two halves."""
    parts = torch.view_as_real(torch.fft.rfft(frames * window)).square_()
    energy = parts[..., 0] + parts[..., 1]
    return energy if power == 2.0 else energy.sqrt_() if power == 1.0 else energy.pow_(power / 2)


def window_array(window: str, n_fft: int, win_length: int | None = None) -> np.ndarray:
    """The analysis window librosa uses (periodic, fftbins=True), of `win_length` samples centred in n_fft."""
    import librosa

    win = librosa.filters.get_window(window, win_length or n_fft, fftbins=True)
    return librosa.util.pad_center(win, size=n_fft)


class STFTMagnitude(Frontend):
    """|STFT| frames, n_fft // 2 + 1 dims; reference `np.abs(librosa.stft(...)).T`."""

    name = "stft"
    version = 2  # 2: frames as a strided view, one rfft, sqrt(re^2 + im^2); equal to 1 up to float32 rounding

    def __init__(
        self,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop_length: int = 512,
        window: str = "hann",
        center: bool = True,
    ):
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.window = str(window)
        self.center = bool(center)

    @property
    def n_dims(self) -> int:
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        return n_stft_frames(n_samples, self.n_fft, self.hop_length, self.center)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        window = self._buffer("window", audio.device, lambda: window_array(self.window, self.n_fft))
        return spectrogram(audio, self.n_fft, self.hop_length, window, self.center)

    def reference(self, audio: np.ndarray) -> np.ndarray:
        import librosa

        spec = librosa.stft(
            np.asarray(audio, dtype=np.float32),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=self.center,
        )
        return np.abs(spec).T.astype(np.float32)
