"""Probes on pooled embeddings, chosen on a grid by validation score as HEAR's evaluation kit (hear-eval-kit) does.

Every grid point is trained on the training tracks and scored on the validation tracks (accuracy for single-label
tasks, macro average precision over the tags present for multi-label ones, the kit's top-1 accuracy and mAP);
the best point's model, trained on the training tracks only, is kept: like the kit, nothing is refit on train +
validation. Ties keep the earlier point, so each default grid lists its conventional value first; without
validation tracks the first point is used. The kit samples 8 of its 16 MLP points at random; these grids are
small enough to try in full.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mirbench.device import autocast
from mirbench.kit.nn import Standardise
from mirbench.kit.training import seeded, train
from mirbench.suite.schema import nearest
from mirbench.system import is_int
from mirbench_baselines.pooled import class_scores


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


#: probe -> its grid: parameter -> values, in the order they are tried (the first is the default)
GRIDS: dict[str, dict[str, list]] = {
    "logreg": {"C": [1.0, 0.1, 10.0, 0.01], "max_iter": [1000]},
    "svm": {"C": [1.0, 10.0, 0.1], "gamma": ["scale"]},
    # hear-eval-kit's PARAM_GRID, cut to the two learning rates either side of its middle and one initialisation
    "mlp": {"hidden_layers": [1, 2], "lr": [1e-3, 1e-4], "hidden_dim": [1024], "dropout": [0.1],
            "initialization": ["xavier_uniform"], "batch_size": [1024], "max_epochs": [500], "patience": [20]},
}
PROBES = tuple(sorted(GRIDS))

#: parameter -> (test of one value, what it must be)
CHECKS = {
    "C": (_positive, "a positive number"),
    "max_iter": (is_int, "a positive integer"),
    "gamma": (lambda v: v in ("scale", "auto") or _positive(v), "'scale', 'auto' or a positive number"),
    "hidden_layers": (lambda v: is_int(v, 0), "an integer >= 0"),
    "hidden_dim": (is_int, "a positive integer"),
    "dropout": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1, "in [0, 1)"),
    "lr": (_positive, "a positive number"),
    "initialization": (lambda v: v in ("xavier_uniform", "xavier_normal"), "'xavier_uniform' or 'xavier_normal'"),
    "batch_size": (is_int, "a positive integer"),
    "max_epochs": (is_int, "a positive integer"),
    "patience": (is_int, "a positive integer"),
}


def grid_points(probe: str, overrides: dict | None) -> list[dict]:
    """The probe's grid with `overrides` (parameter -> value or list of values) in place of its defaults, as a
    list of points; ValueError naming the first unknown parameter or bad value."""
    if probe not in GRIDS:
        raise ValueError(f"probe must be one of {', '.join(PROBES)}, got {probe!r}{nearest(str(probe), PROBES)}")
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f"probe_grid must be a table of parameter -> values, got {overrides!r}")
    grid = dict(GRIDS[probe])
    for key, values in (overrides or {}).items():
        if key not in grid:
            raise ValueError(f"probe_grid: the {probe} probe has no parameter {key!r}{nearest(key, list(grid))} "
                             f"(its parameters: {', '.join(grid)})")
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        test, wanted = CHECKS[key]
        bad = [v for v in values if not test(v)]
        if not values or bad:
            raise ValueError(f"probe_grid.{key} must be {wanted} (or a non-empty list of them), got {values!r}")
        grid[key] = values
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def validation_score(truth: np.ndarray, scores: np.ndarray, multilabel: bool) -> float:
    """Top-1 accuracy, or the mean average precision of the tags with a positive track (NaN when none has)."""
    if not multilabel:
        return float(np.mean(np.argmax(scores, axis=1) == truth))
    present = [j for j in range(truth.shape[1]) if truth[:, j].any()]
    if not present:
        return float("nan")
    return float(np.mean([average_precision_score(truth[:, j], scores[:, j]) for j in present]))


VALIDATION_METRIC = {False: "accuracy", True: "average precision (macro over the tags present)"}


class SklearnProbe:
    """Standardise, then logistic regression or an RBF SVM (one-vs-rest for tags); `scores` fills absent classes."""

    def __init__(self, probe: str, point: dict, n_classes: int, multilabel: bool, seed: int):
        self.probe, self.point, self.n_classes, self.multilabel, self.seed = probe, point, n_classes, multilabel, seed

    def fit(self, X: np.ndarray, y: np.ndarray, X_valid=None, y_valid=None) -> "SklearnProbe":
        p = self.point  # the validation tracks only choose among grid points
        if self.probe == "logreg":
            model = LogisticRegression(C=float(p["C"]), max_iter=int(p["max_iter"]))
        else:
            model = SVC(C=float(p["C"]), kernel="rbf", gamma=p["gamma"], random_state=self.seed)
        self.model = make_pipeline(StandardScaler(), OneVsRestClassifier(model) if self.multilabel else model).fit(X, y)
        return self

    def scores(self, X: np.ndarray) -> np.ndarray:
        out = class_scores(self.model, X, self.multilabel)
        if not self.multilabel:  # classes absent from training get zero
            full = np.zeros((len(out), self.n_classes))
            full[:, self.model.classes_] = out
            out = full
        return np.asarray(out, dtype=np.float64)

    def info(self) -> dict:
        return {}


def mlp(n_in: int, n_out: int, point: dict) -> torch.nn.Sequential:
    """hear-eval-kit's FullyConnectedPrediction: (Linear -> BatchNorm -> Dropout -> ReLU) x hidden_layers -> Linear,
    weights initialised by Xavier with the gain of the activation before them; standardised inputs first."""
    init = getattr(torch.nn.init, point["initialization"] + "_")
    layers: list[torch.nn.Module] = [Standardise(n_in)]
    size, gain = n_in, torch.nn.init.calculate_gain("linear")
    for _ in range(int(point["hidden_layers"])):
        linear = torch.nn.Linear(size, int(point["hidden_dim"]))
        init(linear.weight, gain=gain)
        norm = torch.nn.BatchNorm1d(linear.out_features, momentum=None)  # statistics: see MLPProbe
        layers += [linear, norm, torch.nn.Dropout(float(point["dropout"])), torch.nn.ReLU()]
        size, gain = linear.out_features, torch.nn.init.calculate_gain("relu")
    head = torch.nn.Linear(size, n_out)
    init(head.weight, gain=gain)
    return torch.nn.Sequential(*layers, head)


class MLPProbe:
    """The kit's MLP probe: Adam, cross-entropy (binary per tag), early stopping on the validation score with the
    best epoch's weights kept; `patience` counts epochs (the kit validates every 3 epochs, 20 times). Epochs of
    equal score are told apart by the validation loss (the kit keeps the first): on a small validation set the
    accuracy saturates within a few epochs, and the first epoch to reach it is barely trained.

    Batch norm predicts with the mean of the last epoch's batch statistics (reset every epoch), not a running
    average with momentum 0.1: on a small training set an epoch is one batch, and after the few epochs that early
    stopping may keep, such an average is still mostly its initial (0, 1).
    """

    def __init__(self, point: dict, n_classes: int, multilabel: bool, seed: int, device, precision: str):
        self.point, self.n_classes, self.multilabel, self.seed = point, n_classes, multilabel, seed
        self.device, self.precision = torch.device(device), precision

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(X, dtype=np.float32), device=self.device)

    def fit(self, X, y, X_valid=None, y_valid=None) -> "MLPProbe":
        p, multilabel = self.point, self.multilabel
        Xt = self._tensor(X)
        yt = torch.as_tensor(y, dtype=torch.float32 if multilabel else torch.long, device=self.device)
        loss_fn = torch.nn.BCEWithLogitsLoss() if multilabel else torch.nn.CrossEntropyLoss()
        with seeded(self.seed, self.device):
            self.model = mlp(X.shape[1], self.n_classes, p).to(self.device)
            scale = X.std(axis=0)
            self.model[0].set_statistics(X.mean(axis=0), np.where(scale > 0, scale, 1.0))
            optimizer = torch.optim.Adam(self.model.parameters(), lr=float(p["lr"]))
            generator = torch.Generator().manual_seed(self.seed)

            norms = [m for m in self.model.modules() if isinstance(m, torch.nn.BatchNorm1d)]

            def epoch(_: int) -> float:
                for norm in norms:
                    norm.reset_running_stats()
                order, total, seen = torch.randperm(len(Xt), generator=generator).to(self.device), 0.0, 0
                for start in range(0, len(Xt), int(p["batch_size"])):
                    idx = order[start : start + int(p["batch_size"])]
                    if len(idx) < 2 and seen:  # batch norm cannot train on a batch of one
                        continue
                    optimizer.zero_grad(set_to_none=True)
                    with autocast(self.device, self.precision):
                        loss = loss_fn(self.model(Xt[idx]).float(), yt[idx])
                    loss.backward()
                    optimizer.step()
                    total, seen = total + float(loss.detach()) * len(idx), seen + len(idx)
                return total / seen

            Xv = self._tensor(X_valid) if X_valid is not None else None
            yv = torch.as_tensor(y_valid, dtype=yt.dtype, device=self.device) if y_valid is not None else None

            def valid() -> float:  # lower is better: the score, ties broken by the loss (bounded below 1e-6)
                logits = self.model(Xv).float()
                loss = float(loss_fn(logits, yv))
                return -validation_score(y_valid, self._activate(logits), multilabel) + 1e-6 * loss / (1 + loss)

            has_valid = X_valid is not None and not (multilabel and not np.asarray(y_valid).any())
            self.record = train(self.model, epoch, valid if has_valid else None, max_epochs=int(p["max_epochs"]),
                                patience=int(p["patience"]))
        return self

    def scores(self, X: np.ndarray) -> np.ndarray:
        self.model.eval()
        with torch.no_grad():
            return self._activate(self.model(self._tensor(X)).float())

    def _activate(self, logits: torch.Tensor) -> np.ndarray:
        out = torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=1)
        return out.cpu().numpy().astype(np.float64)

    def info(self) -> dict:
        return {"epochs": self.record.epochs, "best_epoch": self.record.best_epoch}

    def n_parameters(self) -> int:
        return int(sum(q.numel() for q in self.model.parameters()))


def make_probe(probe: str, point: dict, n_classes: int, multilabel: bool, seed: int, device, precision: str):
    if probe == "mlp":
        return MLPProbe(point, n_classes, multilabel, seed, device, precision)
    return SklearnProbe(probe, point, n_classes, multilabel, seed)


def select(probe: str, points: list[dict], train: tuple, valid: tuple | None, n_classes: int, multilabel: bool,
           seed: int, device, precision: str):
    """(the best point's fitted probe, its point, its validation score, every point's score): each point fit on
    `train` = (X, y), scored on `valid`; without `valid` only the first point is fit."""
    best = (None, None, -math.inf)  # (model, point, score)
    scored = []
    for point in points if valid is not None else points[:1]:
        model = make_probe(probe, point, n_classes, multilabel, seed, device, precision).fit(*train, *(valid or ()))
        score = validation_score(valid[1], model.scores(valid[0]), multilabel) if valid is not None else None
        scored.append(score)
        usable = score is not None and not math.isnan(score)
        if best[0] is None or (usable and score > best[2]):  # ties keep the earlier point
            best = (model, point, score if usable else -math.inf)
    model, point, score = best
    return model, point, (None if score == -math.inf else score), scored
