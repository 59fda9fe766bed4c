"""`fma.mlp`: the coursework MLP on FMA's 518 track features.

Standardise (training mean and std, stored in the model as buffers) ->
`depth` x (Linear `width`, batch norm, activation, dropout) -> Linear logits.
Softmax cross-entropy for single-label tasks, per-tag logistic loss for
multi-label ones; Adam (or plain SGD) at the coursework's learning rate 0.2
on minibatches reshuffled every epoch from a generator seeded by
`random_state` (the coursework forgot to shuffle one split), for its 100
epochs, the last epoch's weights kept. `early_stopping = true` stops on the validation loss
after `patience` epochs without improvement and keeps the best weights (the
behaviour of version 1, with `learning_rate = 0.001`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mirbench_baselines.fma import deviations
from mirbench_baselines.fma.features import N_FEATURES, check_source, resolve_source, track_features
from mirbench.kit import training
from mirbench.device import to_device
from mirbench.kit.nn import n_parameters
from mirbench.system import System, TrackSet, is_int
from mirbench.kit.training import mean_loss, sgd_epoch

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}
OPTIMIZERS = ("adam", "sgd")


def statistics(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std (ddof 0) of training rows; a constant feature gets scale 1 (as StandardScaler)."""
    mean, std = X.mean(axis=0), X.std(axis=0)
    return mean, np.where(std > 1e-12, std, 1.0)


class BatchNorm(nn.BatchNorm1d):
    """BatchNorm1d that uses its running statistics for a training batch of one row (torch refuses those)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


class FeatureMLP(nn.Module):
    def __init__(self, n_in: int, n_out: int, depth: int, width: int, activation: str, dropout: float, batch_norm: bool):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("scale", torch.ones(n_in))
        layers: list[nn.Module] = []
        for i in range(depth):
            layers.append(nn.Linear(n_in if i == 0 else width, width))
            if batch_norm:
                layers.append(BatchNorm(width))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width if depth else n_in, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.scale)


class FMAMLP(System):
    """An MLP on the 518 FMA features (see the module docstring); parameters as in the coursework."""

    version = 2  # 2: the coursework's learning rate 0.2 and 100 epochs, no early stopping (issue #19)
    SMOKE_PARAMS = {"width": 16, "max_epochs": 3, "patience": 2, "batch_size": 8}
    DEVIATIONS = deviations.DEVIATIONS

    def __init__(
        self,
        features: str = "auto",
        sample_rate: int = 22050,
        depth: int = 2,
        width: int = 400,
        activation: str = "leaky_relu",
        dropout: float = 0.2,
        batch_norm: bool = True,
        optimizer: str = "adam",
        learning_rate: float = 0.2,
        batch_size: int = 64,
        max_epochs: int = 100,
        early_stopping: bool = False,
        patience: int = 10,
        weight_decay: float = 0.0,
        random_state: int = 0,
    ):
        self.features = features
        self.sample_rate = sample_rate
        self.depth = depth
        self.width = width
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.patience = patience
        self.weight_decay = weight_decay
        self.random_state = random_state

    def check_params(self) -> None:
        """Raise ValueError naming the first parameter with a bad value."""
        check_source(self.features)
        for name, low in (("sample_rate", 1), ("depth", 0), ("width", 1), ("batch_size", 1), ("max_epochs", 0),
                          ("patience", 1), ("random_state", 0)):  # fmt: skip
            if not is_int(getattr(self, name), low):
                raise ValueError(f"{name} must be an integer >= {low}, got {getattr(self, name)!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        for name in ("batch_norm", "early_stopping"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) or not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")

    def _inputs(self, tracks: TrackSet) -> torch.Tensor:
        X = np.array(track_features(tracks, self.features, int(self.sample_rate)), dtype=np.float32)  # a writable copy
        return to_device(X, tracks.device)

    def _targets(self, tracks: TrackSet) -> torch.Tensor:
        y = torch.as_tensor(tracks.targets, device=tracks.device)
        return y.float() if tracks.multilabel else y.long()

    def fit(self, train: TrackSet, valid: TrackSet | None = None) -> "FMAMLP":
        self.check_params()
        device = train.device
        self.multilabel_ = train.multilabel
        self.n_classes_ = len(train.classes)
        self.csv_features_ = int(resolve_source(train, self.features) == "csv")
        X, y = self._inputs(train), self._targets(train)
        mean, scale = statistics(X.double().cpu().numpy())
        loss_fn = F.binary_cross_entropy_with_logits if self.multilabel_ else F.cross_entropy
        has_valid = valid is not None and len(valid) > 0
        Xv, yv = (self._inputs(valid), self._targets(valid)) if has_valid else (None, None)

        with training.seeded(int(self.random_state), device):  # initialisation and dropout
            model = FeatureMLP(N_FEATURES, self.n_classes_, int(self.depth), int(self.width), self.activation,
                               float(self.dropout), self.batch_norm)  # fmt: skip
            model.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
            model.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
            model.to(device)
            kind = torch.optim.Adam if self.optimizer == "adam" else torch.optim.SGD
            opt = kind(model.parameters(), lr=float(self.learning_rate), weight_decay=float(self.weight_decay))
            order = torch.Generator().manual_seed(int(self.random_state))  # minibatch order: reshuffled every epoch
            record = training.train(
                model,
                lambda epoch: sgd_epoch(model, opt, loss_fn, X, y, int(self.batch_size), order, precision=train.precision),
                (lambda: mean_loss(model, loss_fn, Xv, yv, precision=train.precision)) if has_valid else None,
                max_epochs=int(self.max_epochs),
                patience=int(self.patience) if self.early_stopping else None,
                restore_best=self.early_stopping,
            )
        self.model_ = model.eval()
        self.record_ = record
        return self

    def predict(self, tracks: TrackSet) -> np.ndarray:
        X = self._inputs(tracks).to(next(self.model_.parameters()).device)
        with torch.no_grad():
            logits = self.model_(X)
            scores = torch.sigmoid(logits) if self.multilabel_ else torch.softmax(logits, dim=1)
        return scores.double().cpu().numpy()

    def n_parameters(self) -> int | None:
        return n_parameters(self.model_) if hasattr(self, "model_") else None

    def training_info(self) -> dict:
        if not hasattr(self, "record_"):
            return {}
        r = self.record_
        return {
            "epochs": r.epochs,
            "best_epoch": r.best_epoch,  # by the validation loss
            "kept_epoch": r.best_epoch if self.early_stopping else r.epochs,  # whose weights predict
            "stopped": r.stopped,
            "train_s": r.train_seconds,
            "csv_features": self.csv_features_,
        }
