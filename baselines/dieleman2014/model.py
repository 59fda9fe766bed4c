"""The network of Dieleman & Schrauwen (2014), Figure 1: an input stage, then conv-pool-conv-pool-dense-dense.

Input stage: (a) a mel spectrogram window (B, frames, bands), standardised per
band with training statistics; (b) a raw audio window (B, samples) through a
strided convolution and its nonlinearity; (c) the same with feature pooling.
The trunk convolves and pools over time only: two convolutions of `filters`
filters of length `conv_length`, each followed by ReLU and max-pooling of
`pool_length`, a dense layer of `hidden` ReLU units and one output unit per
class (sigmoid or softmax in the loss). Pooling keeps a partial last window
(Theano's `ignore_border=False`), so 3 s windows fit even at a 1024 stride.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mirbench_baselines.dieleman2014.layers import StridedConv1d, activation
from mirbench.kit.nn import Standardise


@dataclass(frozen=True)
class Architecture:
    """Everything that fixes the network's shape."""

    input: str  # "mel" | "raw"
    frames: int  # time steps entering the trunk (spectrogram frames or strided-conv outputs)
    length: int  # window / filter length in samples
    stride: int
    n_classes: int
    bands: int = 128  # mel bands (mel input)
    raw_filters: int = 32  # strided-convolution filters (raw input)
    nonlinearity: str = "relu"
    pooling: str = "none"
    pool_size: int = 1
    C: float = 10000.0
    filters: int = 32
    conv_length: int = 8
    pool_length: int = 4
    hidden: int = 100
    dropout: float = 0.0

    @property
    def samples(self) -> int:
        """Raw samples per window: enough for `frames` strided-convolution outputs."""
        return (self.frames - 1) * self.stride + self.length

    @property
    def trunk_channels(self) -> int:
        if self.input == "mel":
            return self.bands
        return self.raw_filters // self.pool_size if self.pooling != "none" else self.raw_filters

    def trunk_steps(self) -> int:
        """Time steps left after the two conv-pool stages (must be >= 1)."""
        steps = self.frames
        for _ in range(2):
            steps = steps - self.conv_length + 1
            if steps < 1:
                return 0
            steps = math.ceil(steps / self.pool_length)
        return steps


class TagCNN(nn.Module):
    """Window in, one logit per class out."""

    def __init__(self, arch: Architecture):
        super().__init__()
        if arch.trunk_steps() < 1:
            raise ValueError(
                f"a window of {arch.frames} frames is too short for two convolutions of length "
                f"{arch.conv_length} with pooling {arch.pool_length}; use longer windows (window_seconds)"
            )
        self.arch = arch
        if arch.input == "mel":
            self.standardise = Standardise(arch.bands)
        else:
            self.strided = StridedConv1d(arch.raw_filters, arch.length, arch.stride)
            self.compress = activation(arch.nonlinearity, arch.pooling, arch.pool_size, arch.C)
        c, k, p = arch.filters, arch.conv_length, arch.pool_length
        self.trunk = nn.Sequential(
            nn.Conv1d(arch.trunk_channels, c, k), nn.ReLU(), nn.MaxPool1d(p, ceil_mode=True),
            nn.Conv1d(c, c, k), nn.ReLU(), nn.MaxPool1d(p, ceil_mode=True),
            nn.Flatten(),
            nn.Dropout(arch.dropout),
            nn.Linear(c * arch.trunk_steps(), arch.hidden), nn.ReLU(),
            nn.Dropout(arch.dropout),
            nn.Linear(arch.hidden, arch.n_classes),
        )  # fmt: skip

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's input (B, channels, frames): standardised spectrogram, or the strided layer's output."""
        if self.arch.input == "mel":
            return self.standardise(x).transpose(1, 2)
        return self.compress(self.strided(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.features(x))

    def filter_spectra(self, sample_rate: int, n_fft: int = 512) -> dict:
        """Squared magnitude spectra of the strided-layer filters (raw input), for the report's filter figure."""
        weights = self.strided.weight.detach().cpu().numpy().astype(np.float64)
        power = np.abs(np.fft.rfft(weights, n=max(n_fft, weights.shape[1]), axis=1)) ** 2
        power /= np.maximum(power.max(axis=1, keepdims=True), 1e-30)
        return {"sample_rate": int(sample_rate), "spectra": np.round(power, 4).tolist()}
