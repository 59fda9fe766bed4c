"""Where `dieleman2014.cnn` and its suites depart from Dieleman & Schrauwen (2014), as data (mirbench.deviations)."""

from __future__ import annotations

from mirbench.deviations import Deviation

DEVIATIONS = (
    Deviation(
        aspect="update rule",
        paper='"minibatch gradient descent"',
        mirbench="Adam, learning rate 0.001 (`optimizer = \"sgd\"`: SGD with Nesterov momentum 0.9, lr 0.01)",
        why="with SGD the raw-audio networks stayed at chance after 5,000 updates on the embedded tags",
        applies_to="both",
    ),
    Deviation(
        aspect="spectrogram scaling",
        paper="log(1 + 10000 x) of the mel spectrogram, fed as it is",
        mirbench="log(1 + 10000 x), then standardised per band with training statistics",
        why="an affine map the network could learn, that keeps gradient descent well conditioned",
        applies_to="both",
    ),
    Deviation(
        aspect="log(1 + C x) on raw filters",
        paper="log(1 + C x) on the strided layer's outputs",
        mirbench="log(1 + C max(x, 0)) (`nonlinearity = \"log-x\"`)",
        why="a linear filter's output can be negative, where log(1 + C x) is undefined",
        applies_to="both",
    ),
    Deviation(
        aspect="data and protocol",
        paper="MagnaTagATune 12/1/3, top-50 tags",
        mirbench="the embedded tags task (23 tags), 4-fold rotation",
        why="no download on a small machine",
        applies_to="small",
    ),
    Deviation(
        aspect="training budget",
        paper="roughly 5 million parameter updates",
        mirbench="4,000 updates (8 validations every 500)",
        why="minutes per network on a CPU",
        applies_to="small",
    ),
)
