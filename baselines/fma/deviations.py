"""Where `fma.mlp` and its suites depart from the FMA coursework, as data (see mirbench.deviations)."""

from __future__ import annotations

from mirbench.deviations import Deviation

DEVIATIONS = (
    Deviation(
        aspect="learning rate",
        paper='0.2 when it tested the network on EMNIST; for FMA "set to a proper value", not given',
        mirbench="Adam at 0.2 (`learning_rate`), the one rate the coursework names",
        why="a reading, not a departure: the FMA runs' rate is not stated",
        applies_to="both",
    ),
    Deviation(
        aspect="hidden activation",
        paper='"We used leaky-ReLU as the activation function" (its network); "sigmoid" for the hidden layers in '
        "its background section and conclusion",
        mirbench="leaky ReLU (`activation`), as the section describing the network it ran says",
        why="a reading, not a departure: the coursework names both",
        applies_to="both",
    ),
    Deviation(
        aspect="minibatch order",
        paper='"we forgot to shuffle the reduced validation set" (its diagnosis of the erratic validation accuracy)',
        mirbench="minibatches shuffled every epoch; splits stratified; class counts per split in every report",
        why="rules out the ordering artefact the coursework suspected",
        applies_to="both",
    ),
    Deviation(
        aspect="features and data",
        paper="FMA's fma_metadata/features.csv on FMA tracks",
        mirbench="the same 518 features computed by mirbench's extractor from the embedded corpus's 30 s clips",
        why="no download on a small machine",
        applies_to="small",
    ),
)
