"""The four networks Choi et al. (2017) compare, each scaled by one width W, all taking any number of frames.

Input: a (B, frames, bands) log-mel window, standardised per band. Every
convolution is followed by batch normalisation and ELU; pooling kernels
shrink to what is left of an axis (`FlexibleMaxPool`), and the CNNs end on a
global max over time, so a window of any length gives a (B, classes) output.

W is the width of a network's widest layer; the others keep the proportions
of the authors' released networks (`LAYER_RATIOS`; see docs/systems/choi2017.md):

- `k1c2`: 4 convolutions with 1D kernels spanning every band (4 frames),
  max-pooling over time, then 2 fully connected layers (W units, classes).
- `k2c1`: a 3x3 2D convolution, max-pooled over all bands, then 4 1D
  convolutions along time with pooling, then 2 fully connected layers.
- `k2c2`: 5 3x3 2D convolutions of W/8, W/2, W/2, 3W/4, W feature maps
  (the authors' 32-128-128-192-256) with max-pooling (2,4) (2,4) (2,4) (3,5)
  (4,4), fully convolutional, a linear output.
- `crnn`: 4 3x3 2D convolutions of W/2, W, W, W feature maps with pooling
  (2,2) (3,3) (4,4) (4,4), each followed by dropout 0.1, then 2 GRU layers of
  W/4 units (the authors' 64-128-128-128 and 32-32) over the remaining time
  steps; the last step's state, after dropout 0.3, feeds the output.

The three CNNs have dropout `conv_dropout` after each convolution block but
the last (0.5 by default: the paper gives the CRNN a "weaker" 0.1 than the
others, whose rate it does not give).
"""

from __future__ import annotations

import torch
from torch import nn

from mirbench.kit.nn import FlexibleMaxPool, Standardise

ARCHITECTURES = ("k1c2", "k2c1", "k2c2", "crnn")
K2C2_POOLS = ((2, 4), (2, 4), (2, 4), (3, 5), (4, 4))
CRNN_POOLS = ((2, 2), (3, 3), (4, 4), (4, 4))
TIME_POOLS = (4, 4, 4, 4)  # k1c2 and k2c1, along time
#: Each layer's width as a fraction of the widest one's, W: convolutions, then the dense or GRU layers. k2c2 and
#: crnn keep the proportions of the authors' released networks (keunwoochoi/music-auto_tagging-keras:
#: music_tagger_cnn.py 32-128-128-192-256, music_tagger_crnn.py 64-128-128-128 + GRU 32-32); no released
#: k1c2 or k2c1 exists, so theirs are one width.
LAYER_RATIOS = {
    "k1c2": ((1, 1, 1, 1), (1,)),
    "k2c1": ((1, 1, 1, 1, 1), (1,)),
    "k2c2": ((1 / 8, 1 / 2, 1 / 2, 3 / 4, 1), ()),
    "crnn": ((1 / 2, 1, 1, 1), (1 / 4, 1 / 4)),
}
CONV_DROPOUT = 0.5  # k1c2, k2c1, k2c2: the paper's "stronger" rate is not given; dropout's usual 0.5
CRNN_CONV_DROPOUT = 0.1  # the paper's "weaker dropout (0.1)", after every convolution as in the released CRNN
CRNN_GRU_DROPOUT = 0.3  # the released CRNN, on the last GRU state


def layer_widths(arch: str, width: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(convolution widths, dense or GRU widths) of `arch` whose widest layer has `width` units."""
    convs, tops = LAYER_RATIOS[arch]
    return tuple(max(1, round(r * width)) for r in convs), tuple(max(1, round(r * width)) for r in tops)


def conv_block(conv: nn.Module, width: int, pool: tuple[int, ...], dropout: float = 0.0) -> nn.Sequential:
    norm = nn.BatchNorm1d(width) if isinstance(conv, nn.Conv1d) else nn.BatchNorm2d(width)
    layers = [conv, norm, nn.ELU(), FlexibleMaxPool(pool)]
    return nn.Sequential(*layers, *([nn.Dropout(dropout)] if dropout else []))


def between(i: int, n: int, dropout: float) -> float:
    """The dropout after block i of n when it is applied between blocks (not after the last)."""
    return dropout if i < n - 1 else 0.0


class K1C2(nn.Module):
    def __init__(self, bands: int, classes: int, width: int, conv_dropout: float = CONV_DROPOUT):
        super().__init__()
        self.standardise = Standardise(bands)
        widths, (dense,) = layer_widths("k1c2", width)
        channels = [bands, *widths]
        self.convs = nn.Sequential(
            *(
                conv_block(nn.Conv1d(a, b, 4, padding=2), b, (p,), between(i, len(widths), conv_dropout))
                for i, (a, b, p) in enumerate(zip(channels, channels[1:], TIME_POOLS))
            )
        )
        self.head = nn.Sequential(nn.Linear(widths[-1], dense), nn.ELU(), nn.Linear(dense, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(self.standardise(x).transpose(1, 2))  # bands are the channels: kernels span them all
        return self.head(h.amax(dim=-1))


class K2C1(nn.Module):
    def __init__(self, bands: int, classes: int, width: int, conv_dropout: float = CONV_DROPOUT):
        super().__init__()
        self.standardise = Standardise(bands)
        (first, *widths), (dense,) = layer_widths("k2c1", width)
        self.first = conv_block(nn.Conv2d(1, first, 3, padding=1), first, (bands, 1), conv_dropout)  # every band
        channels = [first, *widths]
        self.convs = nn.Sequential(
            *(
                conv_block(nn.Conv1d(a, b, 4, padding=2), b, (p,), between(i, len(widths), conv_dropout))
                for i, (a, b, p) in enumerate(zip(channels, channels[1:], TIME_POOLS))
            )
        )
        self.head = nn.Sequential(nn.Linear(widths[-1], dense), nn.ELU(), nn.Linear(dense, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(self.standardise(x).transpose(1, 2)[:, None])  # (B, N, 1, frames)
        return self.head(self.convs(h[:, :, 0]).amax(dim=-1))


class K2C2(nn.Module):
    def __init__(self, bands: int, classes: int, width: int, conv_dropout: float = CONV_DROPOUT):
        super().__init__()
        self.standardise = Standardise(bands)
        widths, _ = layer_widths("k2c2", width)
        channels = [1, *widths]
        self.convs = nn.Sequential(
            *(
                conv_block(nn.Conv2d(a, b, 3, padding=1), b, p, between(i, len(widths), conv_dropout))
                for i, (a, b, p) in enumerate(zip(channels, channels[1:], K2C2_POOLS))
            )
        )
        self.out = nn.Linear(widths[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(self.standardise(x).transpose(1, 2)[:, None])  # (B, N, bands', frames')
        return self.out(h.amax(dim=(2, 3)))


class CRNN(nn.Module):
    def __init__(
        self, bands: int, classes: int, width: int, conv_dropout: float = CRNN_CONV_DROPOUT,
        gru_dropout: float = CRNN_GRU_DROPOUT,
    ):  # fmt: skip
        super().__init__()
        self.standardise = Standardise(bands)
        widths, (units, _) = layer_widths("crnn", width)
        channels = [1, *widths]
        self.convs = nn.Sequential(
            *(
                conv_block(nn.Conv2d(a, b, 3, padding=1), b, p, conv_dropout)
                for a, b, p in zip(channels, channels[1:], CRNN_POOLS)
            )
        )
        self.gru = nn.GRU(widths[-1], units, num_layers=2, batch_first=True)
        self.dropout = nn.Dropout(gru_dropout)
        self.out = nn.Linear(units, classes)  # both GRU layers have `units`

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(self.standardise(x).transpose(1, 2)[:, None])  # (B, N, bands', steps)
        sequence = h.amax(dim=2).transpose(1, 2)  # bands left after pooling (1 for 96 bands) are max-pooled away
        states, _ = self.gru(sequence)
        return self.out(self.dropout(states[:, -1]))


def build(arch: str, bands: int, classes: int, width: int, conv_dropout: float | None = None) -> nn.Module:
    """The network `arch` ("k1c2", "k2c1", "k2c2", "crnn") whose widest layer has `width` units.

    `conv_dropout` None keeps the architecture's default (0.1 for the CRNN, 0.5 for the others).
    """
    networks = {"k1c2": K1C2, "k2c1": K2C1, "k2c2": K2C2, "crnn": CRNN}
    if arch not in networks:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    extra = {} if conv_dropout is None else {"conv_dropout": float(conv_dropout)}
    return networks[arch](bands, classes, int(width), **extra)


def describe(arch: str, width: int) -> str:
    """The layer widths of `arch` at `width`, e.g. "conv 64-128-128-128, gru 32-32"."""
    convs, tops = layer_widths(arch, width)
    top = {"crnn": "gru", "k2c2": ""}.get(arch, "dense")
    return ", ".join(f"{name} {'-'.join(map(str, w))}" for name, w in (("conv", convs), (top, tops)) if w)
