"""`sigtia2014.mlp`: learned frame features (Sigtia & Dixon 2014) classified by a random forest with a majority vote.

Per fold: |FFT| frames (1024/512 at 22050 Hz, 513 dims) -> a 3-hidden-layer MLP
trained frame-wise on the track label (standardisation with training
statistics is part of the network) -> hidden activations of layer 1, 2, 3 or
all -> optionally mean and variance over 5 s windows every 2.5 s -> a random
forest trained on train + valid -> one vote per frame (or window) of a test
track; the track's scores are the vote fractions.

The network depends only on the data it is trained on and on the training
parameters, not on `layer`, `aggregate` or the forest, so it is stored in the
model cache (`mirbench.kit.model_cache`) under the FeatureStore's cache directory and
the 8 variants of Table 1 that differ downstream share one training.
See docs/systems/sigtia2014.md.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict

import numpy as np
import torch
from sklearn.ensemble import RandomForestClassifier

from mirbench_baselines.sigtia2014 import features as feats
from mirbench_baselines.sigtia2014 import mlp, transfer
from mirbench.kit import model_cache
from mirbench.kit.aggregate import majority_vote, mean_scores, split_by_track
from mirbench.device import to_device
from mirbench.frontends import STFTMagnitude
from mirbench.kit.nn import n_parameters
from mirbench.system import System, TrackSet, check_positive_ints, is_int

#: Bump when a change to the training code changes the weights trained from the same key.
MODEL_VERSION = 1


def audio_digest(tracks: TrackSet, frontend) -> str | None:
    """A hash of the audio content keys of `tracks` in order (None without a feature cache, where nothing is shared)."""
    if tracks.store.cache_dir is None:
        return None
    h = hashlib.sha256()
    for track in tracks.tracks:
        h.update(tracks.store.audio_key(tracks.dataset, track, frontend.sample_rate).encode())
    return h.hexdigest()[:16]


class Sigtia2014MLP(System):
    """Learned |FFT| frame features of a 3-hidden-layer MLP, a random forest and a majority vote.

    Paper parameters: `units` (50 or 500 per hidden layer), `regime`
    ("relu-sgd", "relu-sgd-dropout", "sigmoid-hf"), `layer` (1, 2, 3 or "all"),
    `aggregate` (5 s windows every 2.5 s), `learning_rate` 0.01, `dropout` 0.25,
    `patience` 10, `hf_steps` 200, `cg_iters` 250, `damping` 10,
    `curvature_fraction` 0.25. Hessian-free follows "all of the details of
    Martens' approach" (Martens 2010 and his nnet_train_2.m), each detail a
    switch whose other value is mirbench's earlier behaviour:
    `hf_preconditioner` True (his diagonal preconditioner; False: none),
    `hf_curvature` "cycle" (the data in round(1 / curvature_fraction) chunks,
    one per step in turn; "fixed": one subset drawn once), `hf_rho` "martens"
    (rho from the undamped quadratic model and the loss on the curvature
    chunk; "damped": the damped model and the full-data loss) and
    `hf_weight_cost` 2e-5 (L2 cost w |theta|^2 / 2, biases included; 0: none).
    Assumptions where the paper is silent:
    `batch_size` 100, `max_epochs` 500, `n_estimators` 100, `hf_output`
    "sigmoid" (per-class logistic loss on one-hot targets; "softmax" is the
    alternative the paper reports as comparable).

    Speed knobs (None / 1 = the paper's "every frame"): `frames_per_track`
    (frames per track the network is trained and validated on, a seeded
    sample), `rf_frames_per_track` (frames or windows per track the forest is
    trained on), `frame_step` (the forest sees every `frame_step`-th frame, at
    training and test time; windows keep their length in seconds),
    `time_budget_s` (stop training early). `pretrain` trains the network on
    another dataset (Table 2; see `mirbench_baselines.sigtia2014.transfer`). `n_jobs`
    (forest threads; default: torch's thread count) does not change results.
    """

    SMOKE_PARAMS = {
        "units": 8, "frames_per_track": 20, "max_epochs": 2, "hf_steps": 2, "cg_iters": 5, "n_estimators": 10, "batch_size": 20,
    }  # fmt: skip

    def __init__(
        self,
        units: int = 500,
        regime: str = "relu-sgd-dropout",
        layer: str = "all",
        aggregate: bool = True,
        window_seconds: float = 5.0,
        hop_seconds: float = 2.5,
        learning_rate: float = 0.01,
        batch_size: int = 100,
        dropout: float = 0.25,
        max_epochs: int = 500,
        patience: int = 10,
        hf_steps: int = 200,
        cg_iters: int = 250,
        damping: float = 10.0,
        curvature_fraction: float = 0.25,
        hf_output: str = "sigmoid",
        hf_preconditioner: bool = True,
        hf_curvature: str = "cycle",
        hf_rho: str = "martens",
        hf_weight_cost: float = 2e-5,
        frames_per_track: int | None = None,
        rf_frames_per_track: int | None = None,
        frame_step: int = 1,
        n_estimators: int = 100,
        rf_min_samples_leaf: int = 1,
        pretrain: dict | None = None,
        time_budget_s: float | None = None,
        n_jobs: int | None = None,
        random_state: int = 0,
    ):
        self.units = units
        self.regime = regime
        self.layer = layer
        self.aggregate = aggregate
        self.window_seconds = window_seconds
        self.hop_seconds = hop_seconds
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.patience = patience
        self.hf_steps = hf_steps
        self.cg_iters = cg_iters
        self.damping = damping
        self.curvature_fraction = curvature_fraction
        self.hf_output = hf_output
        self.hf_preconditioner = hf_preconditioner
        self.hf_curvature = hf_curvature
        self.hf_rho = hf_rho
        self.hf_weight_cost = hf_weight_cost
        self.frames_per_track = frames_per_track
        self.rf_frames_per_track = rf_frames_per_track
        self.frame_step = frame_step
        self.n_estimators = n_estimators
        self.rf_min_samples_leaf = rf_min_samples_leaf
        self.pretrain = pretrain
        self.time_budget_s = time_budget_s
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- parameters ---------------------------------------------------------------
    def check_params(self) -> None:
        """Raise ValueError naming the first parameter with a bad value."""
        check_positive_ints(self, (
            "units", "batch_size", "max_epochs", "patience", "hf_steps", "cg_iters", "frame_step", "n_estimators",
            "rf_min_samples_leaf",
        ))  # fmt: skip
        for name in ("frames_per_track", "rf_frames_per_track"):
            value = getattr(self, name)
            if value is not None and not is_int(value):
                raise ValueError(f"{name} must be a positive integer or None (every frame), got {value!r}")
        if self.regime not in mlp.REGIMES:
            raise ValueError(f"regime must be one of {', '.join(mlp.REGIMES)}, got {self.regime!r}")
        feats.layer_name(self.layer)
        if not isinstance(self.aggregate, bool):
            raise ValueError(f"aggregate must be true or false, got {self.aggregate!r}")
        if self.hf_output not in ("sigmoid", "softmax"):
            raise ValueError(f"hf_output must be 'sigmoid' or 'softmax', got {self.hf_output!r}")
        if not isinstance(self.hf_preconditioner, bool):
            raise ValueError(f"hf_preconditioner must be true or false, got {self.hf_preconditioner!r}")
        if self.hf_curvature not in mlp.HF_CURVATURE:
            raise ValueError(f"hf_curvature must be one of {', '.join(mlp.HF_CURVATURE)}, got {self.hf_curvature!r}")
        if self.hf_rho not in mlp.HF_RHO:
            raise ValueError(f"hf_rho must be one of {', '.join(mlp.HF_RHO)}, got {self.hf_rho!r}")
        if isinstance(self.hf_weight_cost, bool) or not (
            isinstance(self.hf_weight_cost, (int, float)) and self.hf_weight_cost >= 0
        ):
            raise ValueError(f"hf_weight_cost must be a number >= 0, got {self.hf_weight_cost!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0 < self.curvature_fraction <= 1:
            raise ValueError(f"curvature_fraction must be in (0, 1], got {self.curvature_fraction!r}")
        for name in ("learning_rate", "damping", "window_seconds", "hop_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.pretrain is not None:
            transfer.check_spec(self.pretrain)

    @classmethod
    def data_dependencies(cls, params: dict) -> list[dict]:
        """The pre-training dataset, when there is one: its audio is an input of the trial too (mirbench.run.identity)."""
        pretrain = params.get("pretrain")
        return [pretrain["dataset"]] if isinstance(pretrain, dict) and isinstance(pretrain.get("dataset"), dict) else []

    def frontend(self) -> STFTMagnitude:
        return STFTMagnitude(sample_rate=22050, n_fft=1024, hop_length=512)

    def settings(self) -> mlp.Settings:
        return mlp.Settings(
            regime=self.regime,
            units=int(self.units),
            learning_rate=float(self.learning_rate),
            batch_size=int(self.batch_size),
            dropout=float(self.dropout) if self.regime == "relu-sgd-dropout" else 0.0,
            max_epochs=int(self.max_epochs),
            patience=int(self.patience),
            hf_steps=int(self.hf_steps),
            cg_iters=int(self.cg_iters),
            damping=float(self.damping),
            curvature_fraction=float(self.curvature_fraction),
            hf_output=self.hf_output,
            hf_preconditioner=bool(self.hf_preconditioner),
            hf_curvature=self.hf_curvature,
            hf_rho=self.hf_rho,
            hf_weight_cost=float(self.hf_weight_cost),
            time_budget_s=None if self.time_budget_s is None else float(self.time_budget_s),
        )

    def model_key(self, train: TrackSet, valid: TrackSet | None) -> dict:
        """Everything that determines the trained network: its data, seed and training parameters (not the forest's)."""
        settings = asdict(self.settings())
        if self.regime == "sigmoid-hf":  # SGD-only settings do not change an HF network, and vice versa
            for k in ("learning_rate", "batch_size", "dropout", "max_epochs"):
                settings.pop(k)
        else:
            for k in ("hf_steps", "cg_iters", "damping", "curvature_fraction", "hf_output", "hf_preconditioner",
                      "hf_curvature", "hf_rho", "hf_weight_cost"):  # fmt: skip
                settings.pop(k)
        has_valid = valid is not None and len(valid) > 0
        key = {
            "model": "sigtia2014.mlp",
            "version": MODEL_VERSION,
            "train": train.split_key(),
            "valid": valid.split_key() if has_valid else None,
            # split_key() names tracks by id, label and file name: the audio's content joins the key, so that
            # two builds with the same names (another clip length, another noise seed) never share a network
            "train_audio": audio_digest(train, self.frontend()),
            "valid_audio": audio_digest(valid, self.frontend()) if has_valid else None,
            "task": train.task,
            "classes": list(train.classes),
            "frontend": self.frontend().key(),
            "frames_per_track": self.frames_per_track,
            "seed": int(self.random_state),
            "device": train.device.type,
            "settings": settings,
        }
        precision = mlp.trained_precision(self.regime, train.precision)
        if precision != "fp32":  # float32 networks keep the keys they had before mixed precision existed
            key["precision"] = precision
        return key

    # -- the network ----------------------------------------------------------------
    def _train_network(self, train: TrackSet, valid: TrackSet | None) -> tuple[dict, dict]:
        frontend, device = self.frontend(), train.device
        rng = np.random.default_rng(self.random_state)
        n_out = len(train.classes)

        def frames(part: TrackSet):
            per_track = feats.read_frames(part, frontend, lambda n: feats.pick_frames(n, self.frames_per_track, rng))
            X = np.concatenate(per_track)
            y = np.repeat(part.targets, [len(f) for f in per_track], axis=0)
            return X, y

        X, y = frames(train)
        mean, scale = feats.statistics(X)
        to_y = lambda t: mlp.targets(t, n_out, self.regime, train.multilabel, self.hf_output, device)  # noqa: E731
        Xv = yv = None
        if valid is not None and len(valid):
            Xv_np, yv_np = frames(valid)
            Xv, yv = to_device(Xv_np, device), to_y(yv_np)
        model, info = mlp.fit_network(
            self.settings(),
            to_device(X, device),
            to_y(y),
            Xv,
            yv,
            n_out,
            train.multilabel,
            torch.as_tensor(mean),
            torch.as_tensor(scale),
            int(self.random_state),
            train.precision,
        )
        return model.state_dict(), info

    def network(self, train: TrackSet, valid: TrackSet | None) -> tuple[mlp.FrameMLP, dict, bool]:
        """The trained network for this data and these parameters: from the model cache, or trained now.

        The info holds `model_cache.network_timing`'s keys: every variant built on the network is charged its
        training time, marked as shared when the network came from the cache."""
        key = self.model_key(train, valid)
        settings = self.settings()
        activation = "sigmoid" if self.regime == "sigmoid-hf" else "relu"
        model = mlp.FrameMLP(self.frontend().n_dims, settings.units, len(train.classes), activation, settings.dropout)
        state, info, cached = model_cache.load_or_train(
            train.store.cache_dir, key, lambda: self._train_network(train, valid), fits=model_cache.state_fits(model)
        )
        model.load_state_dict(state)
        info = {**info, **model_cache.network_timing(train.store.cache_dir, key, cached)}
        return model.to(train.device).eval(), info, cached

    # -- System ------------------------------------------------------------------------
    def fit(self, train: TrackSet, valid: TrackSet | None = None) -> "Sigtia2014MLP":
        self.check_params()
        if self.pretrain is not None:
            source_train, source_valid = transfer.pretraining_split(self.pretrain, train)
        else:
            source_train, source_valid = train, valid
        self.model_, info, cached = self.network(source_train, source_valid)
        self.network_info_ = info
        self.device_ = train.device
        self.n_classes_ = len(train.classes)
        self.multilabel_ = train.multilabel

        start = time.perf_counter()
        both = train.with_tracks(train.tracks + (valid.tracks if valid is not None else []))
        X, counts = self._vectors(both, self.rf_frames_per_track, np.random.default_rng(self.random_state + 1))
        y = np.repeat(both.targets, counts, axis=0)
        if both.multilabel:
            y = y.astype(np.int64)
        self.forest_ = RandomForestClassifier(
            n_estimators=int(self.n_estimators),
            min_samples_leaf=int(self.rf_min_samples_leaf),
            random_state=int(self.random_state),
            n_jobs=self.n_jobs if self.n_jobs is not None else torch.get_num_threads(),
        ).fit(X, y)
        self.info_ = {
            "mlp_train_s": float(info.get("mlp_train_s", 0.0)),
            "cached": int(cached),
            **{k: info[k] for k in ("network_train_s", "network_shared") if k in info},
            "mlp_frames": int(info.get("frames", 0)),
            "best_epoch": int(info.get("best_epoch", 0)),
            "rf_samples": int(len(X)),
            "rf_fit_s": time.perf_counter() - start,
        }
        if self.regime == "sigmoid-hf":
            self.info_.update(hf_steps=int(info.get("hf_steps", 0)), cg_iterations=int(info.get("cg_iterations", 0)))
        else:
            self.info_["epochs"] = int(info.get("epochs", 0))
        return self

    def _vectors(self, tracks: TrackSet, per_track, rng) -> tuple[np.ndarray, list[int]]:
        frontend = self.frontend()
        window = (
            feats.window_frames(frontend, self.window_seconds, self.hop_seconds, int(self.frame_step))
            if self.aggregate
            else None
        )
        step = int(self.frame_step)
        frames = feats.read_frames(tracks, frontend, (lambda n: slice(None, None, step)) if step > 1 else None)
        return feats.track_vectors(
            self.model_, frames, feats.layer_name(self.layer), self.device_, window=window, per_track=per_track, rng=rng
        )

    def predict(self, tracks: TrackSet) -> np.ndarray:
        X, counts = self._vectors(tracks, None, None)
        proba = self._proba(X)
        parts = split_by_track(proba, counts)
        return mean_scores(parts) if self.multilabel_ else majority_vote(parts)

    def _proba(self, X: np.ndarray) -> np.ndarray:
        out = self.forest_.predict_proba(X)
        if self.multilabel_:  # one (n, k) array per tag; k = 1 where a tag was constant in training
            cols = []
            for classes, p in zip(self.forest_.classes_, out):
                hit = np.flatnonzero(np.asarray(classes) == 1)
                cols.append(p[:, hit[0]] if len(hit) else np.zeros(len(X)))
            return np.stack(cols, axis=1)
        full = np.zeros((len(X), self.n_classes_))
        full[:, self.forest_.classes_] = out  # classes absent from training get no votes
        return full

    def n_parameters(self) -> int | None:
        return n_parameters(self.model_) if hasattr(self, "model_") else None

    def training_info(self) -> dict:
        return dict(getattr(self, "info_", {}))
