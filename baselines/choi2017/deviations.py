"""Where `choi2017.cnn` and its suites depart from Choi et al. (2017), as data (see mirbench.deviations)."""

from __future__ import annotations

from mirbench.deviations import Deviation

DEVIATIONS = (
    Deviation(
        aspect="widths",
        paper="per-layer widths at each budget, set from preliminary experiments that showed the numbers of conv "
        "feature maps matter more than the RNN's hidden units (the table is not in the reference slides)",
        mirbench="the proportions of the authors' released networks, scaled to the budget: k2c2 32-128-128-192-256, "
        "CRNN 64-128-128-128 with GRUs of 32 (keunwoochoi/music-auto_tagging-keras); one width for k1c2 and k2c1",
        why="the released code is the authors' own configuration; no k1c2 or k2c1 was released",
        applies_to="both",
    ),
    Deviation(
        aspect="dropout",
        paper='"identical optimization techniques" for all four, except a "weaker dropout" (0.1) between the '
        "CRNN's convolutions",
        mirbench="CRNN: 0.1 after every convolution and 0.3 on the last GRU state, as in the released CRNN; "
        "k1c2, k2c1, k2c2: 0.5 between convolutions (`conv_dropout`)",
        why="the others' stronger rate is not given; 0.5 is dropout's usual rate",
        applies_to="both",
    ),
    Deviation(
        aspect="input and windows",
        paper="96 mel bands at 12 kHz; a window is a whole 29 s clip (1366 frames)",
        mirbench="48 mel bands; 10 s clips; windows of 128 frames (2.7 s), a clip scored by the mean of its windows",
        why="the 3 M-parameter 2D networks cost ~0.1 s per window on a CPU",
        applies_to="small",
    ),
    Deviation(
        aspect="training budget",
        paper="trained to early stopping on validation; learning rate not given (mirbench's full default 0.001)",
        mirbench="60 s of one CPU thread per network, learning rate 0.003",
        why="equal wall-clock time shows the speed-size trade-off in minutes",
        applies_to="small",
    ),
    Deviation(
        aspect="data",
        paper="MagnaTagATune, top-50 tags",
        mirbench="the embedded tags, two stratified 50/25/25 splits grouped by work",
        why="no download on a small machine",
        applies_to="small",
    ),
)
