"""CNN 1D and CNN 2D on mel spectrograms, and their all-convolutional (ACN) forms.

Five blocks of conv (3, or 3x3) -> batch norm -> ReLU -> max-pool 2, with
`width` x (1, 2, 2, 4, 4) channels and dropout `conv_dropout` (0.1) after the
first block. The 1D network convolves along time with the mel bands as input
channels (on 512-sample frames by default, `n_fft`); the 2D one reads the
spectrogram as an image and pools both axes. `downsample="stride"` (ACN)
replaces each pool by a stride-2 convolution; any head (`blocks.HEADS`) sits
on top.
"""

from __future__ import annotations

from torch import nn

from mirbench_baselines.fagan.blocks import Spec, ZooNetwork, block, front_dropout, scaled

MULTIPLIERS = (1, 2, 2, 4, 4)


def trunk(dims: int, bands: int, width: int, blocks: int, downsample: str, dropout: float) -> nn.Sequential:
    """`blocks` conv blocks, with dropout `dropout` after the first (none at 0)."""
    channels = [bands if dims == 1 else 1] + scaled(width, MULTIPLIERS, blocks)
    layers = [block(dims, a, b, downsample) for a, b in zip(channels, channels[1:])]
    return nn.Sequential(*front_dropout(layers, dropout))


def cnn1d(spec: Spec) -> ZooNetwork:
    return network(spec, 1)


def cnn2d(spec: Spec) -> ZooNetwork:
    return network(spec, 2)


def network(spec: Spec, dims: int) -> ZooNetwork:
    body = trunk(dims, spec.bands, spec.width, spec.blocks, spec.downsample, spec.conv_dropout)
    layout = "mel-1d" if dims == 1 else "mel-2d"
    return ZooNetwork(layout, body, spec.frames, spec.bands, spec.classes, spec.head, spec.hidden, spec.dropout)
