"""AlexNet- and VGG16-style networks on mel spectrograms: the image-classification baselines of size, 1D by default.

The study lists both under "CNN 1D raw mel spectrogram", so `conv = "1d"`
(the default) translates each layer pattern to 1D: convolutions along time
with the mel bands as input channels, the same kernel lengths, strides,
channel progression and pools. `conv = "2d"` builds the image networks (the
spectrogram as a one-channel image, k x k kernels and pools). Batch
normalisation follows every convolution (the zoo's block pattern), dropout
`conv_dropout` (0.1) the first pool, and the head is `fc-dropout`: dropout
(0.5) -> one hidden layer of `hidden` (4096) units -> dropout -> output.
- AlexNet: conv 11 stride 4 -> pool 3/2 -> conv 5 -> pool 3/2 -> three
  conv 3 -> pool 3/2; channels `width` x (1, 8/3, 4, 4, 8/3) (96 ... 256).
- VGG16: 13 conv 3 in groups of 2, 2, 3, 3, 3, each group followed by
  max-pool 2; channels `width` x (1, 2, 4, 8, 8) (64 ... 512).
"""

from __future__ import annotations

from torch import nn

from mirbench_baselines.fagan.blocks import Spec, ZooNetwork, conv_bn_relu, front_dropout, scaled
from mirbench.kit.nn import FlexibleMaxPool

ALEXNET = (1, 8 / 3, 4, 4, 8 / 3)
VGG16_GROUPS = ((1, 2), (2, 2), (4, 3), (8, 3), (8, 3))  # (channel multiplier, convolutions) per group


def dims_of(spec: Spec) -> int:
    """1 (mel bands as channels, the default) or 2 (the spectrogram as an image)."""
    return 2 if spec.conv == "2d" else 1


def network(spec: Spec, dims: int, layers: list[nn.Module]) -> ZooNetwork:
    layout = "mel-1d" if dims == 1 else "mel-2d"
    body = nn.Sequential(*layers)
    return ZooNetwork(layout, body, spec.frames, spec.bands, spec.classes, spec.head, spec.hidden, spec.dropout)


def alexnet(spec: Spec) -> ZooNetwork:
    dims = dims_of(spec)
    c1, c2, c3, c4, c5 = scaled(spec.width, ALEXNET)
    def pool():
        return FlexibleMaxPool((3,) * dims, (2,) * dims)  # overlapping 3/2

    first = [*conv_bn_relu(dims, spec.bands if dims == 1 else 1, c1, kernel=11, stride=4), pool()]
    rest = [
        *conv_bn_relu(dims, c1, c2, kernel=5), pool(),
        *conv_bn_relu(dims, c2, c3), *conv_bn_relu(dims, c3, c4), *conv_bn_relu(dims, c4, c5), pool(),
    ]  # fmt: skip
    return network(spec, dims, front_dropout(first + rest, spec.conv_dropout, after=len(first)))


def vgg16(spec: Spec) -> ZooNetwork:
    dims = dims_of(spec)
    groups: list[list[nn.Module]] = []
    cin = spec.bands if dims == 1 else 1
    for multiplier, convs in VGG16_GROUPS:
        cout = scaled(spec.width, (multiplier,))[0]
        group: list[nn.Module] = []
        for _ in range(convs):
            group += conv_bn_relu(dims, cin, cout)
            cin = cout
        groups.append([*group, FlexibleMaxPool((2,) * dims)])
    layers = [m for g in groups for m in g]
    return network(spec, dims, front_dropout(layers, spec.conv_dropout, after=len(groups[0])))
