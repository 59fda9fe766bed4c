"""Where the `fagan.*` zoo and its suites depart from Fagan's study, as data (see mirbench.deviations).

`SMALL` concerns every family, `COMMON` every family with convolutions; the others are added to the families they
name in baselines/fagan/system.py. Where the study contradicts itself or gives no shapes, the entry quotes it and
states the reading taken.
"""

from __future__ import annotations

from mirbench.deviations import Deviation

FRONT_DROPOUT = Deviation(
    aspect="dropout in the convolutions",
    paper="contradicts itself: \"when I applied dropout to convolutions performance decreased (I applied dropout at "
    "small amount of 0.1 after maxpooling) ... I stopped applying dropout in convolutions for most of my models\" "
    "(but \"successfully\" in the deeper raw-waveform ones), and later, after the ACN refactoring, \"adding drop "
    "out at front of the CNN networks ... 0.1-0.2 dropout. But I found 0.1 was the best\", 0.1 at every layer "
    "far worse",
    mirbench="one dropout of 0.1 (`conv_dropout`) in every convolutional network, raw-waveform ones included: after "
    "the first block's max-pool (its strided convolution in the ACN forms; AlexNet's first pool, VGG16's first "
    "group); none elsewhere in the trunk; `conv_dropout = 0` gives the version-1 networks",
    why="the later passage names a best rate and a place; \"after maxpooling\" is read as where \"the front\" is, "
    "and the study does not say which of its networks kept it, so all of them do",
    applies_to="both",
)
FRAMES = Deviation(
    aspect="frame size of CNN 1D and LSTM",
    paper="contradicts itself: \"I got better results using frame size of 1024 for my cnn 1D models\", then \"I "
    "used 1024 frame size for my input data ..., but for LSTM and CNN 1D I used size of 512\"; \"hop size (for "
    "all frame sizes) was best at 50%\"",
    mirbench="512-sample frames, hop 256 for `fagan.cnn1d` and `fagan.lstm`; 1024, hop 512 for the other mel "
    "networks, the RCNN hybrids and the 1D AlexNet/VGG16 included (`n_fft`; the hop follows at half the frame, "
    "`n_fft = 1024` gives the version-1 frames)",
    why="the sentence saying what was used is taken over the one saying what scored better; \"LSTM and CNN 1D\" is "
    "read as the two networks of those names, not every network containing one (the hybrids) or listed in the "
    "CNN 1D table (AlexNet, VGG16)",
    applies_to="both",
)
IMAGENET_1D = Deviation(
    aspect="AlexNet and VGG16 dimensionality",
    paper="listed in the table \"CNN 1D raw mel spectrogram\", with no layer shapes; kernels named \"11x11\" and "
    "\"3x3\", a notation it uses for raw-waveform (1D) kernels too",
    mirbench="1D by default (`conv = \"1d\"`): convolutions along time with the mel bands as input channels, the "
    "originals' kernel lengths (AlexNet 11/4, 5, 3; VGG16 3), channel progressions and pools in 1D; "
    "`conv = \"2d\"` builds the version-1 image networks",
    why="the table the study puts them in is taken over the originals' 2D design; the 1D translation of their "
    "layers is mirbench's, the study gives none",
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
    mirbench="at most 30 epochs, patience 5, or 60 s of one CPU thread (the raw-waveform networks stop at the 60 s "
    "budget after about two epochs)",
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
COMMON = (FRONT_DROPOUT, *SMALL)  # every family with convolutions
ALL = (FRONT_DROPOUT, FRAMES, IMAGENET_1D, *SMALL)
