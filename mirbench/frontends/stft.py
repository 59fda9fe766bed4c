"""STFT magnitude frames (Sigtia & Dixon 2014), and the torch STFT the mel frontends share.

Matches `librosa.stft`: periodic window from `librosa.filters.get_window`, no
normalisation, and with `center=True` zero padding of n_fft // 2 on both sides
(librosa >= 0.10 pads with pad_mode="constant"). Zero padding is also what
makes a zero-padded batch give the same frames as each track on its own.
"""

from __future__ import annotations

import numpy as np
import torch

from mirbench.frontends.base import Frontend


def n_stft_frames(n_samples: int, n_fft: int, hop_length: int, center: bool) -> int:
    """Frames librosa.stft returns for `n_samples` samples."""
    if center:
        return 1 + n_samples // hop_length
    return 0 if n_samples < n_fft else 1 + (n_samples - n_fft) // hop_length


def stft_magnitude(
    audio: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor, center: bool
) -> torch.Tensor:
    """|STFT| of (B, T) float32 audio as (B, frames, n_fft // 2 + 1).

    `window` has n_fft samples; a shorter analysis window comes zero-padded to
    n_fft around its centre (`window_array(..., win_length)`), as librosa does.
    """
    n_samples = audio.shape[-1]
    if not center and n_samples < n_fft:
        return audio.new_zeros(audio.shape[0], 0, n_fft // 2 + 1)
    spec = torch.stft(
        audio,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=n_fft,
        window=window,
        center=center,
        pad_mode="constant",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    return spec.abs().transpose(1, 2)


def window_array(window: str, n_fft: int, win_length: int | None = None) -> np.ndarray:
    """The analysis window librosa uses (periodic, fftbins=True), of `win_length` samples centred in n_fft."""
    import librosa

    win = librosa.filters.get_window(window, win_length or n_fft, fftbins=True)
    return librosa.util.pad_center(win, size=n_fft)


class STFTMagnitude(Frontend):
    """|STFT| frames, n_fft // 2 + 1 dims; reference `np.abs(librosa.stft(...)).T`."""

    name = "stft"
    version = 1

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
        return stft_magnitude(audio, self.n_fft, self.hop_length, window, self.center)

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
