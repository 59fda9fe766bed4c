"""Where the `fagan.*` zoo and its suites depart from Fagan's study, as data (see mirbench.deviations).

`SMALL` concerns every family, `COMMON` every family with convolutions; the others are added to the families they
name in baselines/fagan/system.py.
"""

from __future__ import annotations

from mirbench.deviations import Deviation

NO_CONV_DROPOUT = Deviation(
    aspect="dropout in the convolutions",
    paper="0.1 dropout at the front of the CNNs was best of 0.1-0.2 (not at every layer); also used in its deeper "
    "raw-waveform models",
    mirbench="no dropout after any convolution; dropout only in the fc-dropout head (0.5)",
    why="the study does not say which layers of which models had it",
    applies_to="both",
)
FRAMES_1024 = Deviation(
    aspect="frame size of CNN 1D and LSTM",
    paper="512-sample frames for the LSTM and the CNN 1D (1024 for the other mel networks)",
    mirbench="1024-sample frames for every mel network (`n_fft`, hop 512)",
    why="one cached spectrogram serves the whole zoo; the study itself found 1024 better for its CNN 1D",
    applies_to="both",
)
IMAGENET_2D = Deviation(
    aspect="AlexNet and VGG16 dimensionality",
    paper="listed among the 1D networks",
    mirbench="built 2D (11×11 / 3×3 kernels on the spectrogram as an image)",
    why="the networks are 2D by design and the study gives no 1D layer shapes",
    applies_to="both",
)
SMALL_WIDTHS = Deviation(
    aspect="network size",
    paper="the full suites' sizes, the study's where it gives them (CNN 64 first-layer channels, 128 mel bands, "
    "FC 256 units, RNN 128 units)",
    mirbench="8 first-layer channels, 64 mel bands, FC 64, RNN 32",
    why="minutes per network on a CPU",
    applies_to="small",
)
SMALL_BUDGET = Deviation(
    aspect="training budget",
    paper="100 epochs",
    mirbench="at most 30 epochs, patience 5, or 60 s of one CPU thread (the raw-waveform networks and VGG16 stop "
    "at the 60 s budget after about two epochs)",
    why="minutes per network on a CPU",
    applies_to="small",
)
SMALL_DATA = Deviation(
    aspect="data",
    paper="GTZAN, 3 s segments",
    mirbench="the embedded corpus style task (6 styles, 480 clips of 30 s) in 3 s segments, two 50/25/25 splits "
    "grouped by work",
    why="no download on a small machine",
    applies_to="small",
)

SMALL = (SMALL_WIDTHS, SMALL_BUDGET, SMALL_DATA)
COMMON = (NO_CONV_DROPOUT, *SMALL)  # every family with convolutions
ALL = (NO_CONV_DROPOUT, FRAMES_1024, IMAGENET_2D, *SMALL)
