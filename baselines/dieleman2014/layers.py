"""The raw-audio input layers of Dieleman & Schrauwen (2014): a strided convolution, its nonlinearity, feature pooling.

`StridedConv1d` is a convolution whose stride is large (the length of a
spectrogram hop): it frames the audio and takes one matrix product of the
frames with the filters. When stride == length the frames are a reshape of
the audio (no copy); otherwise `unfold` makes an overlapping view. Either way
it equals `torch.nn.functional.conv1d` with that stride (tested), and costs
one GEMM instead of a sliding-window kernel.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NONLINEARITIES = ("relu", "log-x2", "log-x")
POOLINGS = ("none", "l2", "max")


class StridedConv1d(nn.Module):
    """Audio (B, samples) -> (B, filters, frames), frames = 1 + (samples - length) // stride."""

    def __init__(self, filters: int, length: int, stride: int):
        super().__init__()
        if stride < 1 or length < 1:
            raise ValueError(f"length and stride must be positive, got length={length}, stride={stride}")
        self.length, self.stride = int(length), int(stride)
        self.weight = nn.Parameter(torch.empty(filters, length))
        self.bias = nn.Parameter(torch.empty(filters))
        bound = 1.0 / math.sqrt(length)  # nn.Conv1d's default initialisation
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def n_frames(self, n_samples: int) -> int:
        return 0 if n_samples < self.length else 1 + (n_samples - self.length) // self.stride

    def frames(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, frames, length): a reshape when stride == length, an overlapping view otherwise."""
        n = self.n_frames(audio.shape[-1])
        if n == 0:
            raise ValueError(f"a strided convolution of length {self.length} needs at least that many samples, got {audio.shape[-1]}")
        if self.stride == self.length:
            return audio[:, : n * self.length].reshape(audio.shape[0], n, self.length)
        return audio.unfold(-1, self.length, self.stride)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        out = torch.addmm(self.bias, self.frames(audio).reshape(-1, self.length), self.weight.t())
        return out.reshape(audio.shape[0], -1, self.weight.shape[0]).transpose(1, 2)


class Compression(nn.Module):
    """log(1 + C·x²) ("log-x2"), or log(1 + C·max(x, 0)) ("log-x": the spectrogram's compression, kept defined for x < 0)."""

    def __init__(self, kind: str, C: float = 10000.0):
        super().__init__()
        if kind not in ("log-x2", "log-x"):
            raise ValueError(f"compression must be 'log-x2' or 'log-x', got {kind!r}")
        self.kind, self.C = kind, float(C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inner = x.square() if self.kind == "log-x2" else torch.relu(x)
        return torch.log1p(self.C * inner)


class FeaturePool(nn.Module):
    """Pool (B, filters, T) over groups of `size` consecutive filters: L2 (sqrt of the sum of squares) or max (maxout)."""

    def __init__(self, kind: str, size: int):
        super().__init__()
        if kind not in ("l2", "max"):
            raise ValueError(f"feature pooling must be 'l2' or 'max', got {kind!r}")
        self.kind, self.size = kind, int(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, f, t = x.shape
        groups = x.reshape(b, f // self.size, self.size, t)
        if self.kind == "max":
            return groups.amax(dim=2)
        return torch.sqrt(groups.square().sum(dim=2) + 1e-8)  # the epsilon keeps the gradient finite at 0


def activation(nonlinearity: str, pooling: str, pool_size: int, C: float) -> nn.Module:
    """What follows the strided convolution: feature pooling (itself nonlinear) if any, else the nonlinearity."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {nonlinearity!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    if pooling != "none":
        return FeaturePool(pooling, pool_size)
    return nn.ReLU() if nonlinearity == "relu" else Compression(nonlinearity, C)
