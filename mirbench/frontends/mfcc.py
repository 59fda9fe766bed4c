"""MFCCs as `librosa.feature.mfcc` computes them: ortho DCT-II of the dB power mel spectrogram.

Power mel spectrogram (power=2, Slaney filterbank), `power_to_db` with ref=1,
amin=1e-10 and librosa's top_db=80 floor taken per track, then the first
n_mfcc rows of the orthonormal DCT-II, no liftering.
"""

from __future__ import annotations

import numpy as np
import torch

from mirbench.frontends.base import Frontend, valid_frames
from mirbench.frontends.mel import mel_projection, power_to_db
from mirbench.frontends.stft import n_stft_frames, spectrogram, window_array

TOP_DB = 80.0  # librosa.feature.mfcc's implicit power_to_db(top_db=80)


def dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """(n_mels, n_mfcc) so that `x @ D` is `scipy.fft.dct(x, type=2, norm="ortho")[..., :n_mfcc]`."""
    n = np.arange(n_mels)[:, None]
    k = np.arange(n_mfcc)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * np.sqrt(2.0 / n_mels)
    basis[:, 0] /= np.sqrt(2.0)
    return basis


class MFCC(Frontend):
    """Mel-frequency cepstral coefficients, n_mfcc dims."""

    name = "mfcc"
    version = 2  # 2: the STFT of version 2 and the mel filterbank band by band; equal to 1 up to float32 rounding

    def __init__(
        self,
        sample_rate: int = 22050,
        n_mfcc: int = 20,
        n_fft: int = 2048,
        hop_length: int = 512,
        n_mels: int = 128,
    ):
        if int(n_mfcc) > int(n_mels):
            raise ValueError(f"MFCC n_mfcc={n_mfcc} cannot exceed n_mels={n_mels}")
        self.sample_rate = int(sample_rate)
        self.n_mfcc = int(n_mfcc)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.n_mels = int(n_mels)

    @property
    def n_dims(self) -> int:
        return self.n_mfcc

    def n_frames(self, n_samples: int) -> int:
        return n_stft_frames(n_samples, self.n_fft, self.hop_length, center=True)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        device = audio.device
        window = self._buffer("window", device, lambda: window_array("hann", self.n_fft))
        project = mel_projection(self, device, self.sample_rate, self.n_fft, self.n_mels, 0.0, None)
        dct = self._buffer("dct", device, lambda: dct_matrix(self.n_mels, self.n_mfcc))
        valid = valid_frames(self, lengths)

        def cepstra(mel: torch.Tensor, rows: slice) -> torch.Tensor:
            return power_to_db(mel, TOP_DB, None if valid is None else valid[rows]) @ dct

        return spectrogram(audio, self.n_fft, self.hop_length, window, True, 2.0, project, cepstra)

    def reference(self, audio: np.ndarray) -> np.ndarray:
        import librosa

        mfcc = librosa.feature.mfcc(
            y=np.asarray(audio, dtype=np.float32),
            sr=self.sample_rate,
            n_mfcc=self.n_mfcc,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
        )
        return mfcc.T.astype(np.float32)
