"""The GTZAN zoo's systems: one registered name per family, each taking the part of one parameter set it reads.

Per fold: whole-clip inputs from the feature cache (a 128-band log-mel
spectrogram at 22050 Hz, frames of `n_fft` samples every half frame: 512 for
the CNN 1D and the LSTM, 1024 for the other mel networks, each frame size its
own cached frontend; or the waveform) -> each clip cut into 3 s segments
(`segment_seconds`; ten per 30 s clip, the last one ending with the clip) ->
the family's network trained on shuffled passes over the training segments
(cross-entropy, Adam at 0.005 or SGD), validated after each pass on track
scores, the best weights kept -> a track's scores are the mean of its
segments' softmax outputs, or their votes (`aggregate`). Segments are cut from the tracks of one split only, so
no track straddles train and test. See docs/systems/fagan.md.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from mirbench_baselines.fagan import cnn, deviations, imagenet, recurrent, samplecnn
from mirbench_baselines.fagan.blocks import DOWNSAMPLES, HEADS, Spec, ZooNetwork
from mirbench.frontends import LogMel, Waveform
from mirbench.system import TrackSet, check_positive_ints
from mirbench.kit.window_network import WindowedNetwork
from mirbench.kit.windows import Windows, band_statistics

CELLS = ("lstm", "gru")
MEL = {"n_fft", "hop_length", "n_mels"}
RNN = {"cell", "rnn_hidden", "rnn_layers"}
CONV = {"downsample", "width", "blocks", "conv_dropout"}
IMAGENET = {"width", "conv", "conv_dropout"}  # conv: "1d" (default) or "2d"
HEAD = {"head", "hidden", "dropout"}  # every family has a head
TRAINING = {
    "sample_rate", "segment_seconds", "aggregate", "batch_size", "optimizer", "learning_rate", "momentum",
    "updates_per_epoch", "max_epochs", "patience", "time_budget_s", "random_state",
}  # fmt: skip


@dataclass(frozen=True)
class Family:
    """How one family builds its network, its defaults, and the parameters it reads (all its system takes)."""

    build: Callable[[Spec], ZooNetwork]
    head: str
    uses: set = field(default_factory=set)
    width: int = 64
    blocks: int = 5
    hidden: int = 256
    raw: bool = False
    n_fft: int = 1024  # the default frame: the study's 512 for "LSTM and CNN 1D", 1024 for the other mel networks


FAMILIES = {
    "cnn1d": Family(cnn.cnn1d, "gap", MEL | CONV, n_fft=512),
    "cnn2d": Family(cnn.cnn2d, "gap", MEL | CONV),
    "alexnet": Family(imagenet.alexnet, "fc-dropout", MEL | IMAGENET, width=96, hidden=4096),
    "vgg16": Family(imagenet.vgg16, "fc-dropout", MEL | IMAGENET, width=64, hidden=4096),
    "samplecnn": Family(
        samplecnn.samplecnn, "gap", {"width", "blocks", "strided", "conv_dropout"}, width=128, blocks=9, raw=True
    ),
    "lstm": Family(recurrent.rnn, "fc", MEL | RNN, n_fft=512),
    "rcnn": Family(recurrent.rnn, "gap", MEL | CONV | RNN | {"conv", "input"}, blocks=3),
}


def family_init(family: Family):
    """`FaganNetwork.__init__` cut to the parameters one family reads (with the head's and training's), with the
    family's default frame: the signature sklearn and suite files see, so a parameter the family would ignore is
    an error, not a no-op."""
    full = inspect.signature(FaganNetwork.__init__)
    kept = [
        p.replace(default=family.n_fft) if name == "n_fft" else p
        for name, p in full.parameters.items()
        if name == "self" or name in family.uses | HEAD | TRAINING
    ]
    defaults = {p.name: p.default for p in kept[1:]}

    def __init__(self, **params):
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected parameters {unknown}")
        for name, default in defaults.items():
            setattr(self, name, params.get(name, default))

    __init__.__signature__ = full.replace(parameters=kept)
    return __init__


class FaganNetwork(WindowedNetwork):
    """A network of the zoo (the subclass's `FAMILY`) on 3 s segments, scored per track.

    Study parameters: 3 s segments at 22050 Hz; mel frames of `n_fft` 512
    (CNN 1D, LSTM) or 1024 (the other mel networks; 256 also in the study)
    with a 50 % hop (`hop_length` None: half the frame); blocks conv -> batch
    norm -> ReLU -> max-pool, with `conv_dropout` 0.1 after the first one
    (0 for none); Xavier (linear) and He (convolution) initialisation;
    cross-entropy; Adam with learning rate 0.005 (or SGD: `optimizer`); 100
    epochs. `head` "fc", "fc-dropout" or "gap" (default: the family's);
    `downsample` "pool" or "stride" (all-convolutional). Family-specific:
    `width` (first-layer channels), `blocks`, `strided` (SampleCNN), `conv`
    ("1d" or "2d": AlexNet, VGG16, RCNN) and `input` (RCNN), `cell`,
    `rnn_hidden`, `rnn_layers` (recurrent families). Each family's system
    takes only the parameters it reads (`family_init`); one it does not take
    reads as its default here. `n_fft=1024, conv_dropout=0` (and `conv="2d"`
    for AlexNet/VGG16) build the networks of version 1.

    Assumptions where the study is silent: 128 mel bands, power in dB;
    inputs standardised per band with training statistics; `hidden` 256 FC
    units (4096 for AlexNet/VGG16); dropout 0.5; batch size 32; an epoch is
    one pass over the training segments, after which the track-level
    validation ROC-AUC picks the weights kept (early stopping after
    `patience` 10 epochs without improvement).
    """

    FAMILY = ""
    version = 2  # 2: 512-sample frames for CNN 1D and LSTM, 0.1 front dropout, 1D AlexNet/VGG16 (issue #19)
    SPLIT_ACCURACY = True
    SMOKE_PARAMS = {"width": 4, "n_mels": 64, "max_epochs": 2, "batch_size": 8, "rnn_hidden": 8, "hidden": 16}

    def __init_subclass__(cls, **kwargs):
        """A family's system: its own signature and smoke settings."""
        super().__init_subclass__(**kwargs)
        uses = FAMILIES[cls.FAMILY].uses
        cls.__init__ = family_init(FAMILIES[cls.FAMILY])
        cls.SMOKE_PARAMS = {k: v for k, v in FaganNetwork.SMOKE_PARAMS.items() if k in uses | HEAD | TRAINING}

    def __init__(
        self,
        head: str | None = None,
        downsample: str = "pool",
        width: int | None = None,
        blocks: int | None = None,
        hidden: int | None = None,
        dropout: float = 0.5,
        conv_dropout: float = 0.1,
        strided: int = 0,
        conv: str = "1d",
        input: str = "mel",
        cell: str = "lstm",
        rnn_hidden: int = 128,
        rnn_layers: int = 2,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop_length: int | None = None,
        n_mels: int = 128,
        segment_seconds: float = 3.0,
        aggregate: str = "mean",
        batch_size: int = 32,
        optimizer: str = "adam",
        learning_rate: float = 0.005,
        momentum: float = 0.9,
        updates_per_epoch: int | None = None,
        max_epochs: int = 100,
        patience: int | None = 10,
        time_budget_s: float | None = None,
        random_state: int = 0,
    ):
        self.head = head
        self.downsample = downsample
        self.width = width
        self.blocks = blocks
        self.hidden = hidden
        self.dropout = dropout
        self.conv_dropout = conv_dropout
        self.strided = strided
        self.conv = conv
        self.input = input
        self.cell = cell
        self.rnn_hidden = rnn_hidden
        self.rnn_layers = rnn_layers
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.segment_seconds = segment_seconds
        self.aggregate = aggregate
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.updates_per_epoch = updates_per_epoch
        self.max_epochs = max_epochs
        self.patience = patience
        self.time_budget_s = time_budget_s
        self.random_state = random_state

    # -- parameters -----------------------------------------------------------------
    @property
    def family(self) -> Family:
        return FAMILIES[self.FAMILY]

    def __getattr__(self, name: str):
        """A parameter this family does not take reads as its default (the code reads one parameter set)."""
        default = ALL_DEFAULTS.get(name, AttributeError)
        if default is AttributeError or name.startswith("__"):
            raise AttributeError(name)
        return default

    @property
    def raw(self) -> bool:
        return self.family.raw or self.input == "raw"

    @property
    def hop(self) -> int:
        """The mel hop: `hop_length`, or half the frame (the study's 50 % for every frame size)."""
        return int(self.hop_length) if self.hop_length is not None else int(self.n_fft) // 2

    def check_params(self) -> None:
        """Raise ValueError naming the first parameter with a bad value."""
        self.check_training_params()
        choices = {"head": (None, *HEADS), "downsample": DOWNSAMPLES, "cell": CELLS, "input": ("mel", "raw"),
                   "conv": recurrent.CONVS[1:], "aggregate": ("mean", "vote")}  # fmt: skip
        for name, options in choices.items():
            if getattr(self, name) not in options:
                shown = ", ".join(str(o) for o in options)
                raise ValueError(f"{name} must be one of {shown}, got {getattr(self, name)!r}")
        if self.input == "raw" and self.conv != "1d":
            raise ValueError("input='raw' takes the 1D SampleCNN trunk; leave conv at '1d'")
        optional = [n for n in ("width", "blocks", "hidden", "hop_length") if getattr(self, n) is not None]
        positive = ("rnn_hidden", "rnn_layers", "sample_rate", "n_fft", "n_mels", *optional)
        check_positive_ints(self, positive)
        if not isinstance(self.strided, int) or not 0 <= self.strided <= self.spec_value("blocks"):
            raise ValueError(f"strided must be an integer from 0 to blocks ({self.spec_value('blocks')}), got {self.strided!r}")
        for name in ("dropout", "conv_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if not self.segment_seconds > 0:
            raise ValueError(f"segment_seconds must be positive, got {self.segment_seconds!r}")

    def spec_value(self, name: str):
        """A parameter's value, or the family's default where it is None."""
        value = getattr(self, name)
        if value is not None:
            return int(value) if name != "head" else value
        if name == "blocks" and self.raw and self.FAMILY == "rcnn":
            return 6  # the SampleCNN trunk of the raw RCNN: 66,150 samples -> 31 steps
        return getattr(self.family, name)

    # -- WindowedNetwork --------------------------------------------------------------
    def frontend(self):
        if self.raw:
            return Waveform(sample_rate=self.sample_rate)
        return LogMel(
            sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop, n_mels=self.n_mels,
            power=2.0, compression="db",
        )  # fmt: skip

    def segment_frames(self) -> int:
        """Rows of one segment: samples (raw) or mel frames (3 s at hop 512: 129; at hop 256: 258)."""
        per_second = self.sample_rate if self.raw else self.sample_rate / self.hop
        return max(1, round(self.segment_seconds * per_second))

    def windows(self, tracks: TrackSet) -> Windows:
        clips = tracks.features(self.frontend(), mmap=True)
        return Windows(clips, self.segment_frames(), raw=self.raw, segments=True)

    def build_network(self, n_classes: int, windows: Windows) -> ZooNetwork:
        spec = Spec(
            frames=self.segment_frames(), bands=1 if self.raw else int(self.n_mels), classes=n_classes,
            head=self.spec_value("head"), downsample=self.downsample, width=self.spec_value("width"),
            blocks=self.spec_value("blocks"), hidden=self.spec_value("hidden"), dropout=float(self.dropout),
            conv_dropout=float(self.conv_dropout), strided=int(self.strided), conv="none" if self.FAMILY == "lstm" else self.conv, cell=self.cell,
            rnn_hidden=int(self.rnn_hidden), rnn_layers=int(self.rnn_layers), raw=self.raw,
        )  # fmt: skip
        model = self.family.build(spec)
        if model.standardise is not None:
            model.standardise.set_statistics(*band_statistics(windows.clips))
        return model


ALL_DEFAULTS = {k: p.default for k, p in inspect.signature(FaganNetwork.__init__).parameters.items() if k != "self"}


class FaganCNN1D(FaganNetwork):
    """CNN 1D on mel spectrograms of 512-sample frames (ACN with downsample="stride"); heads fc, fc-dropout, gap."""

    FAMILY = "cnn1d"
    DEVIATIONS = deviations.COMMON + (deviations.FRAMES,)


class FaganCNN2D(FaganNetwork):
    """CNN 2D on mel spectrograms (ACN with downsample="stride")."""

    FAMILY = "cnn2d"
    DEVIATIONS = deviations.COMMON


class FaganAlexNet(FaganNetwork):
    """AlexNet-style network on mel spectrograms: 1D along time (mel bands as channels), or 2D with conv="2d"."""

    FAMILY = "alexnet"
    DEVIATIONS = deviations.COMMON + (deviations.FRAMES, deviations.IMAGENET_1D)


class FaganVGG16(FaganNetwork):
    """VGG16-style network on mel spectrograms: 1D along time (mel bands as channels), or 2D with conv="2d"."""

    FAMILY = "vgg16"
    DEVIATIONS = deviations.COMMON + (deviations.FRAMES, deviations.IMAGENET_1D)


class FaganSampleCNN(FaganNetwork):
    """SampleCNN on the raw waveform; `strided` of its last pools become strided convolutions."""

    FAMILY = "samplecnn"
    DEVIATIONS = deviations.COMMON


class FaganLSTM(FaganNetwork):
    """LSTM (or GRU) on mel spectrograms of 512-sample frames."""

    FAMILY = "lstm"
    DEVIATIONS = (deviations.FRAMES, *deviations.SMALL)  # no convolution, so no conv dropout to read


class FaganRCNN(FaganNetwork):
    """Conv blocks (1D or 2D on mel of 1024-sample frames, SampleCNN on raw audio) -> LSTM/GRU -> FC or GAP head."""

    FAMILY = "rcnn"
    DEVIATIONS = deviations.COMMON + (deviations.FRAMES,)
