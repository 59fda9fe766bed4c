"""The four networks Choi et al. (2017) compare, each of one width N, all taking any number of frames.

Input: a (B, frames, bands) log-mel window, standardised per band. Every
convolution is followed by batch normalisation and ELU; pooling kernels
shrink to what is left of an axis (`FlexibleMaxPool`), and the CNNs end on a
global max over time, so a window of any length gives a (B, classes) output.

- `k1c2`: 4 convolutions with 1D kernels spanning every band (4 frames),
  max-pooling over time, then 2 fully connected layers (N units, classes).
- `k2c1`: a 3x3 2D convolution, max-pooled over all bands, then 4 1D
  convolutions along time with pooling, then 2 fully connected layers.
- `k2c2`: 5 3x3 2D convolutions with max-pooling (2,4) (2,4) (2,4) (3,5)
  (4,4), fully convolutional, a linear output.
- `crnn`: 4 3x3 2D convolutions with pooling (2,2) (3,3) (4,4) (4,4) and
  dropout 0.1 between them, then 2 GRU layers of N units over the remaining
  time steps; the last step's state feeds the output.
"""

from __future__ import annotations

import torch
from torch import nn

from mirbench.kit.nn import FlexibleMaxPool, Standardise

ARCHITECTURES = ("k1c2", "k2c1", "k2c2", "crnn")
K2C2_POOLS = ((2, 4), (2, 4), (2, 4), (3, 5), (4, 4))
CRNN_POOLS = ((2, 2), (3, 3), (4, 4), (4, 4))
TIME_POOLS = (4, 4, 4, 4)  # k1c2 and k2c1, along time


def conv_block(conv: nn.Module, width: int, pool: tuple[int, ...], dropout: float = 0.0) -> nn.Sequential:
    norm = nn.BatchNorm1d(width) if isinstance(conv, nn.Conv1d) else nn.BatchNorm2d(width)
    layers = [conv, norm, nn.ELU(), FlexibleMaxPool(pool)]
    return nn.Sequential(*layers, *([nn.Dropout(dropout)] if dropout else []))


class K1C2(nn.Module):
    def __init__(self, bands: int, classes: int, width: int):
        super().__init__()
        self.standardise = Standardise(bands)
        channels = [bands] + [width] * 4
        self.convs = nn.Sequential(
            *(conv_block(nn.Conv1d(a, b, 4, padding=2), b, (p,)) for a, b, p in zip(channels, channels[1:], TIME_POOLS))
        )
        self.head = nn.Sequential(nn.Linear(width, width), nn.ELU(), nn.Linear(width, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(self.standardise(x).transpose(1, 2))  # bands are the channels: kernels span them all
        return self.head(h.amax(dim=-1))


class K2C1(nn.Module):
    def __init__(self, bands: int, classes: int, width: int):
        super().__init__()
        self.standardise = Standardise(bands)
        self.first = conv_block(nn.Conv2d(1, width, 3, padding=1), width, (bands, 1))  # pooled over every band
        self.convs = nn.Sequential(*(conv_block(nn.Conv1d(width, width, 4, padding=2), width, (p,)) for p in TIME_POOLS))
        self.head = nn.Sequential(nn.Linear(width, width), nn.ELU(), nn.Linear(width, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(self.standardise(x).transpose(1, 2)[:, None])  # (B, N, 1, frames)
        return self.head(self.convs(h[:, :, 0]).amax(dim=-1))


class K2C2(nn.Module):
    def __init__(self, bands: int, classes: int, width: int):
        super().__init__()
        self.standardise = Standardise(bands)
        channels = [1] + [width] * len(K2C2_POOLS)
        self.convs = nn.Sequential(
            *(conv_block(nn.Conv2d(a, b, 3, padding=1), b, p) for a, b, p in zip(channels, channels[1:], K2C2_POOLS))
        )
        self.out = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(self.standardise(x).transpose(1, 2)[:, None])  # (B, N, bands', frames')
        return self.out(h.amax(dim=(2, 3)))


class CRNN(nn.Module):
    def __init__(self, bands: int, classes: int, width: int, dropout: float = 0.1):
        super().__init__()
        self.standardise = Standardise(bands)
        channels = [1] + [width] * len(CRNN_POOLS)
        last = len(CRNN_POOLS) - 1  # dropout between convolutions, not between the last one and the GRU
        self.convs = nn.Sequential(
            *(
                conv_block(nn.Conv2d(a, b, 3, padding=1), b, p, dropout if i < last else 0.0)
                for i, (a, b, p) in enumerate(zip(channels, channels[1:], CRNN_POOLS))
            )
        )
        self.gru = nn.GRU(width, width, num_layers=2, batch_first=True)
        self.out = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(self.standardise(x).transpose(1, 2)[:, None])  # (B, N, bands', steps)
        sequence = h.amax(dim=2).transpose(1, 2)  # bands left after pooling (1 for 96 bands) are max-pooled away
        states, _ = self.gru(sequence)
        return self.out(states[:, -1])


def build(arch: str, bands: int, classes: int, width: int) -> nn.Module:
    """The network `arch` ("k1c2", "k2c1", "k2c2", "crnn") with convolutions (and GRUs) of `width` units."""
    networks = {"k1c2": K1C2, "k2c1": K2C1, "k2c2": K2C2, "crnn": CRNN}
    if arch not in networks:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    return networks[arch](bands, classes, int(width))
