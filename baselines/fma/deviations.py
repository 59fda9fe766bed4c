"""Where `fma.mlp` and its suites depart from the FMA coursework, as data (see mirbench.deviations)."""

from __future__ import annotations

from mirbench.deviations import Deviation

DEVIATIONS = (
    Deviation(
        aspect="learning rate",
        paper="0.2 (the rate it tested the network with), otherwise varied",
        mirbench="Adam at 0.001 (`learning_rate`)",
        why="0.2 is the rate the coursework tested on EMNIST; for FMA it says only that the rate was \"set to a "
        "proper value\"; 0.001 is Adam's default",
        applies_to="both",
    ),
    Deviation(
        aspect="epochs",
        paper="100 epochs per network",
        mirbench="early stopping on the validation loss (patience 10, at most 100 epochs), best weights kept",
        why="the coursework's validation error rose from the first epochs; the last epoch is not the best one",
        applies_to="both",
    ),
    Deviation(
        aspect="minibatch order",
        paper="its validation set was never shuffled (its closing diagnosis)",
        mirbench="minibatches shuffled every epoch; splits stratified; class counts per split in every report",
        why="rules out the ordering artefact the coursework suspected",
        applies_to="both",
    ),
    Deviation(
        aspect="features and data",
        paper="FMA's fma_metadata/features.csv on FMA tracks",
        mirbench="the same 518 features computed by mirbench's extractor from the embedded corpus's 30 s clips; "
        "at most 200 epochs",
        why="no download on a small machine",
        applies_to="small",
    ),
)
