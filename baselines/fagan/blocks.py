"""Building blocks every network of the GTZAN zoo shares: conv blocks that pool or stride, the three heads, the
input adapter, and Xavier/He initialisation.

A network is `ZooNetwork`: input -> trunk (conv blocks) -> optional recurrent
layer -> head. Blocks follow the study's pattern conv -> batch norm -> ReLU ->
max-pool; the all-convolutional (ACN) form replaces the pool by a strided
convolution -> batch norm -> ReLU, padded so borders are kept. Every trunk
has one dropout (`front_dropout`, 0.1) after its first downsampling: the
study's 0.1 "at front of the CNN networks", "after maxpooling". Heads:
- `fc`: flatten -> linear (`hidden` units) -> ReLU -> linear to the classes;
- `fc-dropout`: the same with dropout before each linear layer;
- `gap`: a 1x1 convolution stack to one map per class (a confidence map),
  averaged over every position: the logits are the maps' means.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mirbench.kit.nn import FlexibleMaxPool, Standardise

HEADS = ("fc", "fc-dropout", "gap")
DOWNSAMPLES = ("pool", "stride")
INPUTS = ("mel-1d", "mel-2d", "raw")  # how a window enters the trunk: mel bands as channels, a mel image, samples


def conv(dims: int, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Module:
    """A convolution padded by half its (odd) kernel, so a stride of s keeps ceil(n / s) positions."""
    layer = nn.Conv1d if dims == 1 else nn.Conv2d
    return layer(cin, cout, kernel, stride=stride, padding=kernel // 2)


def norm(dims: int, channels: int) -> nn.Module:
    return nn.BatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)


def conv_bn_relu(dims: int, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    return [conv(dims, cin, cout, kernel, stride), norm(dims, cout), nn.ReLU()]


def block(dims: int, cin: int, cout: int, downsample: str = "pool", factor: int = 2, kernel: int = 3) -> nn.Sequential:
    """conv -> BN -> ReLU, then down by `factor` along every axis: max-pool, or (ACN) a strided conv -> BN -> ReLU."""
    layers = conv_bn_relu(dims, cin, cout, kernel)
    if downsample == "pool":
        layers.append(FlexibleMaxPool((factor,) * dims))
    else:
        layers += conv_bn_relu(dims, cout, cout, kernel, stride=factor)
    return nn.Sequential(*layers)


def front_dropout(layers: list[nn.Module], rate: float, after: int = 1) -> list[nn.Module]:
    """`layers` with dropout `rate` after the first `after` of them (the first downsampling), none at rate 0: the
    study found 0.1 at the front of a CNN best and dropout at every layer far worse."""
    return [*layers[:after], *([nn.Dropout(rate)] if rate else []), *layers[after:]]


class GAPHead(nn.Module):
    """1x1 convolutions to one map per class; the logits are each map's mean over all positions."""

    def __init__(self, dims: int, channels: int, classes: int):
        super().__init__()
        middle = max(classes, channels // 2)
        self.maps = nn.Sequential(*conv_bn_relu(dims, channels, middle, kernel=1), conv(dims, middle, classes, kernel=1))

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        """(B, classes, positions...) confidence maps."""
        return self.maps(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.class_maps(x).flatten(2).mean(dim=-1)


def fc_head(flat: int, classes: int, hidden: int, dropout: float = 0.0) -> nn.Sequential:
    """Flatten -> [dropout] -> linear -> ReLU -> [dropout] -> linear."""
    drop = [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(nn.Flatten(), *drop, nn.Linear(flat, hidden), nn.ReLU(), *drop, nn.Linear(hidden, classes))


def head(kind: str, shape: torch.Size, classes: int, hidden: int, dropout: float) -> nn.Module:
    """The head for a trunk output of `shape` (channels, positions...)."""
    if kind == "gap":
        return GAPHead(len(shape) - 1, shape[0], classes)
    return fc_head(shape.numel(), classes, hidden, dropout if kind == "fc-dropout" else 0.0)


class Recurrent(nn.Module):
    """An LSTM or GRU over the time axis of a (B, C, [F,] T) map; returns its outputs at every step as (B, H, T)."""

    def __init__(self, cell: str, size: int, hidden: int, layers: int):
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(size, hidden, num_layers=layers, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.flatten(1, -2).transpose(1, 2)  # (B, T, C * F): a 2D map's frequency rows join the features
        out, _ = self.rnn(steps)
        return out.transpose(1, 2)


class ZooNetwork(nn.Module):
    """input -> trunk -> [recurrent] -> head, for windows of `frames` mel frames x `bands` (mel) or `frames` samples."""

    def __init__(
        self, layout: str, trunk: nn.Module, frames: int, bands: int, classes: int, head_kind: str,
        hidden: int = 256, dropout: float = 0.5, recurrent: dict | None = None,
    ):  # fmt: skip
        super().__init__()
        self.layout = layout
        self.standardise = Standardise(bands) if layout != "raw" else None
        self.trunk = trunk
        example = torch.zeros((1, frames, bands) if layout != "raw" else (1, frames))
        with torch.no_grad():
            shape = self.trunk.eval()(self.prepare(example)).shape[1:]
        self.trunk.train()
        self.recurrent = None
        if recurrent is not None:
            self.recurrent = Recurrent(recurrent["cell"], shape[:-1].numel(), recurrent["hidden"], recurrent["layers"])
            shape = torch.Size((recurrent["hidden"], shape[-1]))
        self.head = head(head_kind, shape, classes, hidden, dropout)
        initialise(self)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of windows as the trunk reads them: (B, bands, T), (B, 1, bands, T) or (B, 1, samples)."""
        if self.layout == "raw":
            return x.unsqueeze(1)
        x = self.standardise(x).transpose(1, 2)
        return x.unsqueeze(1) if self.layout == "mel-2d" else x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(self.prepare(x))
        return self.recurrent(h) if self.recurrent is not None else h

    def class_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The GAP head's per-class maps (its logits are their means)."""
        if not isinstance(self.head, GAPHead):
            raise TypeError("class maps exist only with head='gap'")
        return self.head.class_maps(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def initialise(model: nn.Module) -> None:
    """He (Kaiming normal, fan-in) for convolutions before ReLUs, Xavier uniform for linear and recurrent input
    weights, orthogonal recurrent weights, zero biases."""
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.LSTM, nn.GRU)):
            for name, weight in module.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(weight)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(weight)
                else:
                    nn.init.zeros_(weight)


@dataclass(frozen=True)
class Spec:
    """Everything a family needs to build its network for windows of `frames` x `bands` (`bands` 1 for raw audio)."""

    frames: int
    bands: int
    classes: int
    head: str = "gap"
    downsample: str = "pool"
    width: int = 64
    blocks: int = 5
    hidden: int = 256
    dropout: float = 0.5  # the fc-dropout head's
    conv_dropout: float = 0.1  # the trunk's, after its first downsampling (`front_dropout`)
    strided: int = 0  # SampleCNN: how many of the last pools become strided convolutions
    conv: str = "1d"  # recurrent hybrids: "none", "1d", "2d"; AlexNet/VGG16: "1d", "2d"
    cell: str = "lstm"
    rnn_hidden: int = 128
    rnn_layers: int = 2
    raw: bool = False  # recurrent hybrids: the SampleCNN trunk on the waveform


def scaled(width: int, multipliers, blocks: int | None = None) -> list[int]:
    """Channel counts: `width` times each multiplier (at least 1), the multipliers cut or extended (by the last)
    to `blocks` when given."""
    if blocks is not None:
        multipliers = tuple(multipliers[:blocks]) + (multipliers[-1],) * max(0, blocks - len(multipliers))
    return [max(1, round(width * m)) for m in multipliers]
