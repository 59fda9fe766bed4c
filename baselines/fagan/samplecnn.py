"""SampleCNN on the raw waveform (Lee et al. 2018): very small kernels, deep.

A strided first convolution over frames of 3 samples, then `blocks` (9)
blocks of conv 3 -> batch norm -> ReLU -> max-pool 3 with `width` x (1, 1, 2,
2, 2, 2, 2, 2, 4) channels (128 ... 512): a 3 s segment at 22050 Hz (66,150
samples) comes out as two positions. Dropout `conv_dropout` (0.1) follows the
first block (the study applied its front dropout "successfully" to the deeper
raw-waveform models). `strided` of the last blocks replace their pool by a
stride-3 convolution (the study's "convs replacing a few max-pooling layers").
Heads: `fc` (the original), `fc-dropout` or `gap`.
"""

from __future__ import annotations

from torch import nn

from mirbench_baselines.fagan.blocks import Spec, ZooNetwork, block, conv_bn_relu, front_dropout, scaled

MULTIPLIERS = (1, 1, 2, 2, 2, 2, 2, 2, 4)


def trunk(width: int, blocks: int, strided: int, dropout: float) -> nn.Sequential:
    """The frame convolution and `blocks` blocks, with dropout `dropout` after the first block (none at 0)."""
    channels = [width] + scaled(width, MULTIPLIERS, blocks)
    frame = conv_bn_relu(1, 1, width, kernel=3, stride=3)
    layers = [block(1, a, b, "stride" if i >= blocks - strided else "pool", factor=3)
              for i, (a, b) in enumerate(zip(channels, channels[1:]))]  # fmt: skip
    return nn.Sequential(*frame, *front_dropout(layers, dropout))


def samplecnn(spec: Spec) -> ZooNetwork:
    body = trunk(spec.width, spec.blocks, spec.strided, spec.conv_dropout)
    return ZooNetwork("raw", body, spec.frames, 1, spec.classes, spec.head, spec.hidden, spec.dropout)
