"""`dieleman2014.cnn`: end-to-end CNNs on mel spectrograms or raw audio (Dieleman & Schrauwen 2014).

Per fold: whole-clip inputs from the feature cache (a 128-band log(1 + 10000 x)
mel spectrogram with window `length` and hop `stride`, or the waveform at
16 kHz) -> the network of `model.TagCNN` trained on random ~3 s windows in
minibatches of 10, validated every `updates_per_epoch` updates on clip
predictions (the mean over consecutive windows) -> the weights with the best
validation ROC-AUC (macro over classes) predict the test clips the same way.
See docs/systems/dieleman2014.md.
"""

from __future__ import annotations

from mirbench_baselines.dieleman2014 import deviations
from mirbench_baselines.dieleman2014.layers import NONLINEARITIES, POOLINGS
from mirbench_baselines.dieleman2014.model import Architecture, TagCNN
from mirbench.frontends import LogMel, Waveform
from mirbench.system import TrackSet, check_positive_ints
from mirbench.kit.window_network import WindowedNetwork
from mirbench.kit.windows import Windows, band_statistics

INPUTS = ("mel", "raw")
MIN_FFT = 512  # zero-pad shorter spectrogram windows: 128 mel bands at 16 kHz need bins of <= 31 Hz to be non-empty


class Dieleman2014CNN(WindowedNetwork):
    """A 1D CNN over time on mel spectrograms or raw audio, predicting tags (or a class) per ~3 s window.

    Paper parameters: `input` ("mel" or "raw"), `length` and `stride` (samples
    at 16 kHz: of the spectrogram window and hop, or of the strided
    convolution), `nonlinearity` of the strided layer ("relu", "log-x2" =
    log(1 + C x^2), "log-x" = log(1 + C max(x, 0))), `pooling` over groups of
    `pool_size` strided-layer filters ("none", "l2", "max"; replaces the
    nonlinearity), `C` 10000, 32 filters of length 8, pooling 4, a dense
    layer of 100 units, minibatches of 10, ~3 s windows, selection on
    validation AUC. Assumptions where the paper is silent ("minibatch gradient
    descent"): `raw_filters` 32; `optimizer` "adam" with `learning_rate` 0.001,
    which trains both inputs within a small budget where SGD (lr 0.01, Nesterov
    `momentum` 0.9, the "sgd" choice) left raw-audio networks at chance after
    5,000 updates; spectrograms standardised per band with training statistics.

    Budget (the paper: ~5 million updates): `max_epochs` validations every
    `updates_per_epoch` updates, early stopping after `patience` validations
    without improvement, `time_budget_s`.
    """

    SMOKE_PARAMS = {"length": 256, "stride": 256, "window_seconds": 0.6, "updates_per_epoch": 10, "max_epochs": 2}
    DEVIATIONS = deviations.DEVIATIONS

    def __init__(
        self,
        input: str = "mel",
        length: int = 256,
        stride: int = 256,
        nonlinearity: str = "relu",
        pooling: str = "none",
        pool_size: int = 1,
        C: float = 10000.0,
        sample_rate: int = 16000,
        n_mels: int = 128,
        raw_filters: int = 32,
        filters: int = 32,
        conv_length: int = 8,
        pool_length: int = 4,
        hidden: int = 100,
        dropout: float = 0.0,
        window_seconds: float = 3.0,
        batch_size: int = 10,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        updates_per_epoch: int = 10000,
        max_epochs: int = 500,
        patience: int | None = 20,
        time_budget_s: float | None = None,
        random_state: int = 0,
    ):
        self.input = input
        self.length = length
        self.stride = stride
        self.nonlinearity = nonlinearity
        self.pooling = pooling
        self.pool_size = pool_size
        self.C = C
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.raw_filters = raw_filters
        self.filters = filters
        self.conv_length = conv_length
        self.pool_length = pool_length
        self.hidden = hidden
        self.dropout = dropout
        self.window_seconds = window_seconds
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
    def check_params(self) -> None:
        """Raise ValueError naming the first parameter with a bad value."""
        self.check_training_params()
        check_positive_ints(self, (
            "length", "stride", "pool_size", "sample_rate", "n_mels", "raw_filters", "filters", "conv_length",
            "pool_length", "hidden",
        ))  # fmt: skip
        if self.input not in INPUTS:
            raise ValueError(f"input must be one of {', '.join(INPUTS)}, got {self.input!r}")
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {self.nonlinearity!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.input == "mel" and (self.nonlinearity != "relu" or self.pooling != "none"):
            raise ValueError("nonlinearity and pooling shape the raw-audio strided layer; with input='mel' leave them at 'relu' and 'none'")
        if self.pooling != "none" and self.nonlinearity != "relu":
            raise ValueError("feature pooling is the strided layer's nonlinearity; leave nonlinearity at 'relu' when pooling")
        if (self.pooling == "none") != (self.pool_size == 1):
            raise ValueError(f"pool_size is 1 exactly when pooling is 'none', got pooling={self.pooling!r}, pool_size={self.pool_size}")
        if self.raw_filters % self.pool_size:
            raise ValueError(f"raw_filters ({self.raw_filters}) must be a multiple of pool_size ({self.pool_size})")
        for name in ("C", "window_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def frontend(self):
        """What the network reads from the feature cache: the mel spectrogram, or the waveform itself."""
        if self.input == "raw":
            return Waveform(sample_rate=self.sample_rate)
        return LogMel(
            sample_rate=self.sample_rate, n_fft=max(self.length, MIN_FFT), win_length=self.length,
            hop_length=self.stride, n_mels=self.n_mels, C=self.C,
        )  # fmt: skip

    def architecture(self, n_classes: int) -> Architecture:
        return Architecture(
            input=self.input,
            frames=max(1, round(self.window_seconds * self.sample_rate / self.stride)),
            length=int(self.length),
            stride=int(self.stride),
            n_classes=n_classes,
            bands=int(self.n_mels),
            raw_filters=int(self.raw_filters),
            nonlinearity=self.nonlinearity,
            pooling=self.pooling,
            pool_size=int(self.pool_size),
            C=float(self.C),
            filters=int(self.filters),
            conv_length=int(self.conv_length),
            pool_length=int(self.pool_length),
            hidden=int(self.hidden),
            dropout=float(self.dropout),
        )

    def windows(self, tracks: TrackSet) -> Windows:
        arch = self.architecture(len(tracks.classes))
        clips = tracks.features(self.frontend(), mmap=True)  # MagnaTagATune's inputs need not fit in memory
        return Windows(clips, arch.frames, arch.stride, arch.length, raw=arch.input == "raw")

    def build_network(self, n_classes: int, windows: Windows) -> TagCNN:
        model = TagCNN(self.architecture(n_classes))
        if self.input == "mel":
            model.standardise.set_statistics(*band_statistics(windows.clips))
        return model

    def diagnostics(self) -> dict:
        """The strided layer's filter spectra (raw input): the report draws them as the paper's Figure 2."""
        if not hasattr(self, "model_") or self.input != "raw":
            return {}
        return {"filter_spectra": self.model_.filter_spectra(int(self.sample_rate))}
