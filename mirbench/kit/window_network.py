"""A System that trains a torch network on fixed-length windows of cached features and scores a clip by its windows' mean.

`WindowedNetwork` is the shared machinery of the end-to-end and spectrogram
networks: minibatches of random windows (`mirbench.kit.windows.Windows`), a
sigmoid/binary cross-entropy head for tags or softmax/cross-entropy for
classes, validation every `updates_per_epoch` updates on clip scores (the
mean over each clip's consecutive windows) with the best macro ROC-AUC kept (the
log loss where the validation set has a single class)
(`mirbench.kit.training.train`), and the numbers a report wants: updates, the
best one, windows per second and seconds per training window.

A subclass stores its own and these parameters in `__init__` (`batch_size`,
`optimizer`, `learning_rate`, `momentum`, `updates_per_epoch` (None: one
pass, as many minibatches as the training clips, or segments, fill), `max_epochs`,
`patience`, `time_budget_s`, `random_state`) and implements `frontend()`,
`windows(tracks)` and `build_network(n_classes, windows)`.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from mirbench.kit import training
from mirbench.kit.aggregate import majority_vote, mean_scores, split_by_track
from mirbench.device import autocast, to_device
from mirbench.metrics import roc_auc
from mirbench.kit.nn import n_parameters
from mirbench.kit.prefetch import training_feed
from mirbench.system import System, TrackSet, check_positive_ints
from mirbench.kit.windows import Windows

OPTIMIZERS = ("sgd", "adam")
AGGREGATES = ("mean", "vote")


def auc_defined(truth: np.ndarray, n_classes: int) -> bool:
    """Whether some class has both positive and negative items, so that a macro ROC-AUC exists."""
    y = np.asarray(truth)
    if y.ndim == 1:
        y = np.eye(n_classes, dtype=int)[y]
    positives = y.sum(axis=0)
    return bool(np.any((positives > 0) & (positives < len(y))))


class WindowedNetwork(System):
    """Train on random windows, validate and predict on clips tiled by consecutive windows."""

    SPLIT_ACCURACY = False  # single-label: report train/valid clip accuracy of the kept weights

    # -- what a subclass provides ------------------------------------------------------
    def frontend(self):
        raise NotImplementedError

    def windows(self, tracks: TrackSet) -> Windows:
        """The tracks' features (read as memory maps: large datasets need not fit in memory) cut into windows."""
        raise NotImplementedError

    def build_network(self, n_classes: int, windows: Windows) -> torch.nn.Module:
        """A fresh network (seeded by the caller); `windows` are the training windows, for input statistics."""
        raise NotImplementedError

    # -- parameters ----------------------------------------------------------------------
    def check_training_params(self) -> None:
        """Raise ValueError naming the first training parameter with a bad value."""
        check_positive_ints(self, ("batch_size",))
        if self.updates_per_epoch is not None:  # None: one pass, as many minibatches as the training clips fill
            check_positive_ints(self, ("updates_per_epoch",))
        if not isinstance(self.max_epochs, (int, np.integer)) or self.max_epochs < 0:
            raise ValueError(f"max_epochs must be a non-negative integer, got {self.max_epochs!r}")
        if self.patience is not None and (not isinstance(self.patience, (int, np.integer)) or self.patience < 1):
            raise ValueError(f"patience must be a positive integer or None, got {self.patience!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if getattr(self, "aggregate", "mean") not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {self.aggregate!r}")

    # -- System ----------------------------------------------------------------------------
    def fit(self, train: TrackSet, valid: TrackSet | None = None) -> "WindowedNetwork":
        self.check_params()
        self.device_, self.precision_ = train.device, train.precision
        self.multilabel_ = train.multilabel
        self.n_classes_ = len(train.classes)
        source = self.windows(train)
        with training.seeded(int(self.random_state), self.device_):
            self.model_ = self.build_network(self.n_classes_, source).to(self.device_)
        targets = torch.as_tensor(train.targets, device=self.device_)
        targets = targets.float() if self.multilabel_ else targets.long()
        rng = np.random.default_rng(int(self.random_state))
        optimiser = self._optimiser()
        batch = int(self.batch_size)
        updates = int(self.updates_per_epoch or -(-source.epoch_size() // batch))

        spent = [0.0]  # seconds in training updates, validation excluded

        def epoch(_: int) -> float:
            start = time.perf_counter()
            total = torch.zeros((), device=self.device_)
            for _ in range(updates):
                x, clips = next(feed)
                with autocast(self.device_, self.precision_):
                    loss = self._loss(self.model_(x), targets[clips])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                total += loss.detach()
            mean = float(total) / updates  # reading the loss waits for the device: the timing is complete
            spent[0] += time.perf_counter() - start
            return mean

        valid_fn = None
        if valid is not None and len(valid):
            held_out, truth = self.windows(valid), valid.targets
            valid_fn = lambda: self._criterion(truth, self._clip_scores(held_out))  # noqa: E731
            self.criterion_ = "roc_auc" if auc_defined(truth, self.n_classes_) else "log_loss"
        feed = training_feed(source, rng, batch, self.device_)  # the one stream of training batches, drawn in order
        with feed, training.seeded(int(self.random_state) + 1, self.device_):  # dropout masks: a function of the seed
            record = training.train(
                self.model_, epoch, valid_fn, max_epochs=int(self.max_epochs), patience=self.patience,
                time_budget_s=self.time_budget_s,
            )  # fmt: skip
        seen, epoch_s = record.epochs * updates * batch, spent[0]
        self.info_ = {
            "updates": record.epochs * updates,
            "best_update": record.best_epoch * updates,
            "valid_auc": -record.best_valid if valid_fn is not None and self.criterion_ == "roc_auc" else None,
            "stopped": record.stopped,
            "train_s": record.train_seconds,
            "windows_per_s": seen / max(epoch_s, 1e-9),
            "s_per_window": epoch_s / max(seen, 1),
        }
        if self.SPLIT_ACCURACY and not self.multilabel_:
            self.info_["train_accuracy"] = self._accuracy(train.targets, source)
            self.info_["valid_accuracy"] = self._accuracy(truth, held_out) if valid_fn is not None else None
        return self

    def _accuracy(self, truth: np.ndarray, source: Windows) -> float:
        """Clip-level accuracy of the current weights."""
        return float(np.mean(self._clip_scores(source).argmax(axis=1) == np.asarray(truth)))

    def _criterion(self, truth: np.ndarray, scores: np.ndarray) -> float:
        """Lower is better: minus the macro ROC-AUC of the clip scores, or their log loss where no class has
        both positive and negative validation clips (a validation set of one class)."""
        if self.criterion_ == "roc_auc":
            return -roc_auc(truth, scores, average="macro")
        p = np.clip(scores, 1e-7, 1 - 1e-7)
        if self.multilabel_:
            return float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))
        return float(-np.mean(np.log(p[np.arange(len(truth)), truth])))

    def _optimiser(self) -> torch.optim.Optimizer:
        params = self.model_.parameters()
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=float(self.learning_rate))
        momentum = float(self.momentum)
        return torch.optim.SGD(params, lr=float(self.learning_rate), momentum=momentum, nesterov=momentum > 0)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.multilabel_:
            return F.binary_cross_entropy_with_logits(logits, y)
        return F.cross_entropy(logits, y)

    def _clip_scores(self, source: Windows, chunk: int = 64) -> np.ndarray:
        """One row per clip: the mean over its tiled windows of sigmoid (tags) or softmax (classes) outputs, or
        with `aggregate = "vote"` the share of its windows whose largest output is each class (the mean breaks ties)."""
        self.model_.eval()
        outputs = []
        with torch.no_grad(), autocast(self.device_, self.precision_):
            for windows, _ in source.tiles(chunk):  # clip by clip, in order
                logits = self.model_(to_device(windows, self.device_)).float()
                probs = torch.sigmoid(logits) if self.multilabel_ else torch.softmax(logits, dim=1)
                outputs.append(probs.double().cpu().numpy())
        parts = split_by_track(np.concatenate(outputs), source.tile_counts())
        return majority_vote(parts) if getattr(self, "aggregate", "mean") == "vote" else mean_scores(parts)

    def predict(self, tracks: TrackSet) -> np.ndarray:
        return self._clip_scores(self.windows(tracks))

    def n_parameters(self) -> int | None:
        return n_parameters(self.model_) if hasattr(self, "model_") else None

    def training_info(self) -> dict:
        return dict(getattr(self, "info_", {}))
