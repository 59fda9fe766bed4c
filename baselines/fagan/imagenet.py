"""AlexNet- and VGG16-style 2D networks on mel spectrograms: the image-classification baselines of size.

Both read the spectrogram as a one-channel image; batch normalisation follows
every convolution (the zoo's block pattern), and the classifier is the
original's: two dropout-regularised fully connected layers of `hidden` units
(4096) before the output (`head="fc-dropout"`).
- AlexNet: conv 11x11 stride 4 -> pool 3/2 -> conv 5x5 -> pool 3/2 -> three
  conv 3x3 -> pool 3/2; channels `width` x (1, 8/3, 4, 4, 8/3) (96 ... 256).
- VGG16: 13 conv 3x3 in groups of 2, 2, 3, 3, 3, each group followed by
  max-pool 2; channels `width` x (1, 2, 4, 8, 8) (64 ... 512).
"""

from __future__ import annotations

from torch import nn

from mirbench_baselines.fagan.blocks import Spec, ZooNetwork, conv_bn_relu, scaled
from mirbench.kit.nn import FlexibleMaxPool

ALEXNET = (1, 8 / 3, 4, 4, 8 / 3)
VGG16_GROUPS = ((1, 2), (2, 2), (4, 3), (8, 3), (8, 3))  # (channel multiplier, convolutions) per group


def alexnet(spec: Spec) -> ZooNetwork:
    c1, c2, c3, c4, c5 = scaled(spec.width, ALEXNET)
    pool = FlexibleMaxPool((3, 3), (2, 2))
    body = nn.Sequential(
        *conv_bn_relu(2, 1, c1, kernel=11, stride=4), pool,
        *conv_bn_relu(2, c1, c2, kernel=5), pool,
        *conv_bn_relu(2, c2, c3), *conv_bn_relu(2, c3, c4), *conv_bn_relu(2, c4, c5), pool,
    )  # fmt: skip
    return ZooNetwork("mel-2d", body, spec.frames, spec.bands, spec.classes, spec.head, spec.hidden, spec.dropout)


def vgg16(spec: Spec) -> ZooNetwork:
    layers: list[nn.Module] = []
    cin = 1
    for multiplier, convs in VGG16_GROUPS:
        cout = scaled(spec.width, (multiplier,))[0]
        for _ in range(convs):
            layers += conv_bn_relu(2, cin, cout)
            cin = cout
        layers.append(FlexibleMaxPool((2, 2)))
    body = nn.Sequential(*layers)
    return ZooNetwork("mel-2d", body, spec.frames, spec.bands, spec.classes, spec.head, spec.hidden, spec.dropout)
