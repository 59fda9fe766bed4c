"""`choi2017.cnn`: k1c2, k2c1, k2c2 or CRNN on log-mel spectrograms, its width solved from a parameter budget.

Per fold: 96-band mel spectrograms (12 kHz, 512-point FFT, hop 256, power in
dB) from the feature cache -> the network `arch`, its layers in the authors'
proportions, at the width whose exact parameter count is nearest `budget`
(within 5 %, `budget.solve_width`) ->
trained with Adam and binary cross-entropy on windows of `window_frames`
frames (the paper's 1366: a whole 29 s clip), validated each epoch on clip
scores, stopped early on validation ROC-AUC -> clips scored by the mean over
their consecutive windows. See docs/systems/choi2017.md.
"""

from __future__ import annotations

from mirbench_baselines.choi2017 import deviations
from mirbench_baselines.choi2017.architectures import ARCHITECTURES, build, describe
from mirbench_baselines.choi2017.budget import solve_width
from mirbench.frontends import LogMel
from mirbench.system import TrackSet, check_positive_ints
from mirbench.kit.window_network import WindowedNetwork
from mirbench.kit.windows import Windows, band_statistics


class Choi2017CNN(WindowedNetwork):
    """One of the four architectures Choi et al. (2017) compare, scaled to `budget` parameters.

    Paper parameters: `arch` ("k1c2", "k2c1", "k2c2", "crnn"), `budget`
    (0.1, 0.25, 0.5, 1.0 or 3.0 million), 96 mel bands at 12 kHz with a
    512-point FFT and hop 256, windows of 1366 frames, batch normalisation,
    ELU, dropout 0.1 after the CRNN's convolutions, sigmoid outputs, Adam,
    binary cross-entropy, early stopping on validation. Layer widths keep the
    proportions of the authors' released k2c2 and CRNN (one width for k1c2 and
    k2c1, of which none was released), scaled to the budget. Assumptions where
    the paper (as summarised) is silent: `conv_dropout` None gives the CNNs
    0.5 between convolutions (the paper's CRNN rate is "weaker" than theirs);
    `batch_size` 16; learning rate 0.001; an epoch is one pass over the
    training clips; early stopping after `patience` 5 epochs without a better
    validation ROC-AUC.
    """

    version = 2  # 2: layers in the released networks' proportions, dropout in every network (issue #19)
    SMOKE_PARAMS = {"budget": 20_000, "window_frames": 40, "max_epochs": 2, "batch_size": 4}
    DEVIATIONS = deviations.DEVIATIONS

    def __init__(
        self,
        arch: str = "crnn",
        budget: int = 1_000_000,
        conv_dropout: float | None = None,
        sample_rate: int = 12000,
        n_fft: int = 512,
        hop_length: int = 256,
        n_mels: int = 96,
        window_frames: int = 1366,
        batch_size: int = 16,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        momentum: float = 0.9,
        updates_per_epoch: int | None = None,
        max_epochs: int = 100,
        patience: int | None = 5,
        time_budget_s: float | None = None,
        random_state: int = 0,
    ):
        self.arch = arch
        self.budget = budget
        self.conv_dropout = conv_dropout
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.window_frames = window_frames
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.updates_per_epoch = updates_per_epoch
        self.max_epochs = max_epochs
        self.patience = patience
        self.time_budget_s = time_budget_s
        self.random_state = random_state

    def check_params(self) -> None:
        """Raise ValueError naming the first parameter with a bad value."""
        self.check_training_params()
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {self.arch!r}")
        check_positive_ints(self, ("budget", "sample_rate", "n_fft", "hop_length", "n_mels", "window_frames"))
        if self.conv_dropout is not None and not 0.0 <= float(self.conv_dropout) < 1.0:
            raise ValueError(f"conv_dropout must be in [0, 1) or absent, got {self.conv_dropout!r}")

    def frontend(self) -> LogMel:
        return LogMel(
            sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels,
            power=2.0, compression="db",
        )  # fmt: skip

    def windows(self, tracks: TrackSet) -> Windows:
        return Windows(tracks.features(self.frontend(), mmap=True), int(self.window_frames))

    def build_network(self, n_classes: int, windows: Windows):
        self.width_, self.budget_parameters_ = solve_width(self.arch, int(self.budget), int(self.n_mels), n_classes)
        model = build(self.arch, int(self.n_mels), n_classes, self.width_, self.conv_dropout)
        model.standardise.set_statistics(*band_statistics(windows.clips))
        return model

    def training_info(self) -> dict:
        info = super().training_info()
        if hasattr(self, "width_"):
            info.update(
                width=self.width_, layers=describe(self.arch, self.width_),
                budget_error=self.budget_parameters_ / int(self.budget) - 1.0,
            )  # fmt: skip
        return info
