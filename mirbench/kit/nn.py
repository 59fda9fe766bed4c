"""Torch pieces the learned systems share: input standardisation carried by the model, pooling that fits any
input, and parameter counts."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Standardise(nn.Module):
    """x -> (x - mean) / scale over the last axis, with training statistics kept as buffers (a stored model carries them)."""

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("scale", torch.ones(size))

    def set_statistics(self, mean: np.ndarray, scale: np.ndarray) -> None:
        """Per-dimension mean and scale of the training inputs."""
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


class FlexibleMaxPool(nn.Module):
    """Max-pooling (1D or 2D, by the kernel's length) whose kernel is cut to the axis it pools, so short or narrow
    inputs still pass (ceil mode); the stride is the kernel unless given (AlexNet's overlapping 3/2)."""

    def __init__(self, kernel: tuple[int, ...], stride: tuple[int, ...] | None = None):
        super().__init__()
        self.kernel = tuple(int(k) for k in kernel)
        self.stride = tuple(int(s) for s in stride) if stride is not None else self.kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = x.shape[-len(self.kernel) :]
        kernel = tuple(min(k, s) for k, s in zip(self.kernel, sizes))
        stride = tuple(min(s, k) for s, k in zip(self.stride, kernel))  # a cut kernel cuts a stride equal to it
        pool = F.max_pool1d if len(kernel) == 1 else F.max_pool2d
        return pool(x, kernel, stride, ceil_mode=True)


def n_parameters(model: nn.Module) -> int:
    """Number of learned parameters (buffers such as batch-norm statistics and standardisation excluded)."""
    return int(sum(p.numel() for p in model.parameters()))
