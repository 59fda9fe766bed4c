"""Torch pieces the learned systems share: input standardisation carried by the model, and parameter counts."""

from __future__ import annotations

import numpy as np
import torch
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


def n_parameters(model: nn.Module) -> int:
    """Number of learned parameters (buffers such as batch-norm statistics and standardisation excluded)."""
    return int(sum(p.numel() for p in model.parameters()))
