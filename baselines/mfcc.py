"""MFCC baseline: frame MFCCs, pooled by mean and variance, then a classifier."""

from __future__ import annotations

from mirbench_baselines.pooled import PooledFeatureClassifier
from mirbench.frontends import MFCC


class MFCCBaseline(PooledFeatureClassifier):
    """MFCCs (librosa's definition) pooled per track or per window, classified by SVM, logistic regression or RF.

    The defaults pool whole tracks and use an RBF SVM; Sigtia & Dixon's baseline
    is `window_seconds=5, hop_seconds=2.5, classifier="rf", vote="majority"`.
    """

    def __init__(
        self,
        n_mfcc: int = 20,
        n_mels: int = 128,
        n_fft: int = 2048,
        hop_length: int = 512,
        sample_rate: int = 22050,
        stats: tuple = ("mean", "var"),
        window_seconds: float | None = None,
        hop_seconds: float = 2.5,
        classifier: str = "svm",
        C: float = 10.0,
        n_estimators: int = 500,
        vote: str = "mean",
        fit_on_valid: bool = True,
        random_state: int = 0,
    ):
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.sample_rate = sample_rate
        self.stats = stats
        self.window_seconds = window_seconds
        self.hop_seconds = hop_seconds
        self.classifier = classifier
        self.C = C
        self.n_estimators = n_estimators
        self.vote = vote
        self.fit_on_valid = fit_on_valid
        self.random_state = random_state

    def frontend(self) -> MFCC:
        return MFCC(
            sample_rate=self.sample_rate,
            n_mfcc=self.n_mfcc,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
        )
