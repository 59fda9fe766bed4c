"""STFT magnitude frames (Sigtia & Dixon 2014), and the torch STFT the mel frontends share.

Matches `librosa.stft`: periodic window from `librosa.filters.get_window`, no
normalisation, and with `center=True` zero padding of n_fft // 2 on both sides
(librosa >= 0.10 pads with pad_mode="constant"). Zero padding is also what
makes a zero-padded batch give the same frames as each track on its own.
"""

from __future__ import annotations

from typing import Callable

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
    project: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:  # fmt: skip
    """`project(|STFT| ** power)` of (B, T) float32 audio, (B, frames, dims); `project` maps the last axis (a
    filterbank), and without it the result is (B, frames, n_fft // 2 + 1). `window` has n_fft samples; a shorter
    analysis window comes zero-padded to n_fft around its centre (`window_array(..., win_length)`), as librosa does.

    The frames are a strided view of the (zero-padded) audio: one real FFT of the windowed frames, then the
    magnitude as sqrt(re^2 + im^2) on the real view (complex `abs` costs 3x as much), then `project`. On the
    CPU each clip goes through in blocks of frames of at most `BLOCK_BYTES`: every intermediate is then a few MB
    that glibc serves again from the same heap memory, where whole clips or batches (tens of MB, above its mmap
    threshold) get fresh pages and page-fault on every call, 2-4x slower per clip. On CUDA the batch goes at once.
    """
    n_frames = n_stft_frames(audio.shape[-1], n_fft, hop_length, center)
    project = project or (lambda spec: spec)
    if n_frames == 0:
        return project(audio.new_zeros(audio.shape[0], 0, n_fft // 2 + 1))

    def framed(rows: torch.Tensor) -> torch.Tensor:
        padded = F.pad(rows, (n_fft // 2, n_fft // 2)) if center else rows
        return padded.unfold(-1, n_fft, hop_length)[:, :n_frames]

    if audio.is_cuda:
        return project(_magnitude(framed(audio), window, power))
    block = max(1, BLOCK_BYTES // (4 * n_fft))
    rows = []
    for row in audio.split(1):
        frames = framed(row)
        parts = [project(_magnitude(frames[:, s : s + block], window, power)) for s in range(0, n_frames, block)]
        rows.append(torch.cat(parts, dim=1))
    return torch.cat(rows)


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
