"""LSTM on mel frames, and the recurrent hybrids: conv blocks -> LSTM/GRU -> FC or GAP head.

The study's pattern ([conv -> BN -> ReLU -> pool] x b) -> (RNN x a) -> head:
the recurrent layers read every step the convolutions leave and pass all
their outputs to the head (not only the last state). `conv` picks the trunk:
- "none": the RNN reads the standardised mel frames themselves (base LSTM);
- "1d" / "2d": `blocks` (3) blocks of the CNN 1D / 2D (`cnn.trunk`), pooled
  or, with `downsample="stride"`, strided (the ACN RCNN); a 2D map's
  frequency rows join the features of each step;
- on raw input (`spec.raw`): the SampleCNN trunk with `blocks` (6) blocks.
A conv trunk has dropout `conv_dropout` (0.1) after its first block, as the
CNNs do. The base LSTM reads 512-sample frames by default (`n_fft`), the
hybrids 1024 (`system.FAMILIES`). `cell` is "lstm" or "gru", `rnn_layers`
deep, `rnn_hidden` units.
"""

from __future__ import annotations

from torch import nn

from mirbench_baselines.fagan import cnn, samplecnn
from mirbench_baselines.fagan.blocks import Spec, ZooNetwork

CONVS = ("none", "1d", "2d")


def rnn(spec: Spec) -> ZooNetwork:
    if spec.raw:
        strided = spec.blocks if spec.downsample == "stride" else 0
        layout, body = "raw", samplecnn.trunk(spec.width, spec.blocks, strided, spec.conv_dropout)
    elif spec.conv == "none":
        layout, body = "mel-1d", nn.Identity()
    else:
        dims = 1 if spec.conv == "1d" else 2
        body = cnn.trunk(dims, spec.bands, spec.width, spec.blocks, spec.downsample, spec.conv_dropout)
        layout = f"mel-{dims}d"
    recurrent = {"cell": spec.cell, "hidden": spec.rnn_hidden, "layers": spec.rnn_layers}
    return ZooNetwork(layout, body, spec.frames, spec.bands, spec.classes, spec.head, spec.hidden, spec.dropout, recurrent)
