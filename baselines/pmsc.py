"""PMSC baseline: principal mel-spectrum components (Hamel, Lemieux, Bengio & Eck 2011).

A PCA with whitening is fitted on log-mel frames of the training tracks; the
projected frames are pooled (mean, variance, max) and classified.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from mirbench_baselines.pooled import PooledFeatureClassifier
from mirbench.frontends import LogMel


class PMSCBaseline(PooledFeatureClassifier):
    """Log-mel frames -> whitened PCA fitted on training frames -> pooled statistics -> classifier."""

    def __init__(
        self,
        n_components: int = 120,
        n_mels: int = 128,
        n_fft: int = 1024,
        hop_length: int = 512,
        sample_rate: int = 22050,
        max_pca_frames: int = 100_000,
        stats: tuple = ("mean", "var", "max"),
        window_seconds: float | None = None,
        hop_seconds: float = 2.5,
        classifier: str = "svm",
        C: float = 10.0,
        n_estimators: int = 500,
        vote: str = "mean",
        fit_on_valid: bool = True,
        random_state: int = 0,
    ):
        self.n_components = n_components
        self.n_mels = n_mels
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.sample_rate = sample_rate
        self.max_pca_frames = max_pca_frames
        self.stats = stats
        self.window_seconds = window_seconds
        self.hop_seconds = hop_seconds
        self.classifier = classifier
        self.C = C
        self.n_estimators = n_estimators
        self.vote = vote
        self.fit_on_valid = fit_on_valid
        self.random_state = random_state

    def frontend(self) -> LogMel:
        return LogMel(sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels)

    def fit_frames(self, frames: list[np.ndarray]) -> None:
        """Fit the PCA on (a seeded sample of at most `max_pca_frames` of) the training frames."""
        X = np.concatenate(frames)
        if len(X) > self.max_pca_frames:
            rng = np.random.default_rng(self.random_state)
            X = X[rng.choice(len(X), self.max_pca_frames, replace=False)]
        n = min(self.n_components, X.shape[1], len(X))
        self.pca_ = PCA(n_components=n, whiten=True, random_state=self.random_state).fit(X)

    def transform_frames(self, frames: np.ndarray) -> np.ndarray:
        return self.pca_.transform(frames).astype(np.float32)
