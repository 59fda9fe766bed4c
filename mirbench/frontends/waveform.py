"""The raw waveform as a one-dimensional feature per sample, for end-to-end models."""

from __future__ import annotations

import numpy as np
import torch

from mirbench.frontends.base import Frontend


class Waveform(Frontend):
    """Samples themselves: (B, T) -> (B, T, 1). Cached like any feature, so resampling runs once."""

    name = "waveform"
    version = 1

    def __init__(self, sample_rate: int = 22050):
        self.sample_rate = int(sample_rate)

    @property
    def n_dims(self) -> int:
        return 1

    def n_frames(self, n_samples: int) -> int:
        return int(n_samples)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        return audio.unsqueeze(-1)

    def reference(self, audio: np.ndarray) -> np.ndarray:
        return np.asarray(audio, dtype=np.float32)[:, None]
