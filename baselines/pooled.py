"""Hand-crafted baselines share one shape: frame features -> pooled vectors -> a classifier.

Vectors are pooled over the whole track (one vector per track) or over
windows (several per track, with the track's score the mean or the majority
vote of its windows, as Sigtia & Dixon 2014 do for their MFCC/PMSC baselines).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mirbench.kit.aggregate import majority_vote, mean_scores, split_by_track, windows
from mirbench.system import System, TrackSet

CLASSIFIERS = ("svm", "logreg", "rf")


def make_classifier(name: str, multilabel: bool, C: float, n_estimators: int, random_state: int):
    """A standardising sklearn pipeline; one-vs-rest for multi-label tasks."""
    if name == "svm":
        model = SVC(C=C, kernel="rbf", random_state=random_state)
    elif name == "logreg":
        model = LogisticRegression(C=C, max_iter=2000)
    elif name == "rf":
        model = RandomForestClassifier(n_estimators=n_estimators, random_state=random_state, n_jobs=1)
    else:
        raise ValueError(f"unknown classifier {name!r}; choose one of {CLASSIFIERS}")
    if multilabel:
        model = OneVsRestClassifier(model)
    return make_pipeline(StandardScaler(), model)


def class_scores(model, X: np.ndarray, multilabel: bool) -> np.ndarray:
    """Probabilities where the model has them, else its decision values squashed to (0, 1).

    Metrics only need a ranking (AUC) and an argmax (accuracy), so an SVM's
    decision values through a softmax (or a sigmoid per tag) serve without the
    cost and small-class fragility of Platt scaling.
    """
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    d = model.decision_function(X)
    if multilabel:
        return 1.0 / (1.0 + np.exp(-d))
    if d.ndim == 1:  # two classes: sklearn returns the score of the second
        d = np.stack([-d, d], axis=1) / 2
    e = np.exp(d - d.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class PooledFeatureClassifier(System):
    """Base of MFCC/PMSC: subclasses provide `frontend()` and may transform frames in `fit_frames`."""

    def frontend(self):
        raise NotImplementedError

    def fit_frames(self, frames: list[np.ndarray]) -> None:
        """Learn a frame transform from training frames (nothing by default)."""

    def transform_frames(self, frames: np.ndarray) -> np.ndarray:
        return frames

    def vectors(self, frame_sets: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
        """Pooled vectors of every track's frames, stacked, and how many belong to each track."""
        rate = self.frontend()
        per_track = []
        for frames in frame_sets:
            frames = self.transform_frames(frames)
            if self.window_seconds is None:
                per_track.append(windows(frames, len(frames), 1, self.stats))
            else:
                frames_per_s = rate.sample_rate / rate.hop_length
                size = max(1, round(self.window_seconds * frames_per_s))
                hop = max(1, round(self.hop_seconds * frames_per_s))
                per_track.append(windows(frames, size, hop, self.stats))
        return np.concatenate(per_track), [len(v) for v in per_track]

    def fit(self, train: TrackSet, valid: TrackSet | None = None) -> "PooledFeatureClassifier":
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {self.classifier!r}")
        if self.vote not in ("mean", "majority"):
            raise ValueError(f"vote must be 'mean' or 'majority', got {self.vote!r}")
        if self.fit_on_valid and valid is not None:
            train = train.with_tracks(train.tracks + valid.tracks)
        frames = train.features(self.frontend())  # read once: the frame transform and the vectors share them
        self.fit_frames(frames)
        X, counts = self.vectors(frames)
        y = np.repeat(train.targets, counts, axis=0)
        self.model_ = make_classifier(
            self.classifier, train.multilabel, self.C, self.n_estimators, self.random_state
        ).fit(X, y)
        self.n_classes_ = len(train.classes)
        return self

    def predict(self, tracks: TrackSet) -> np.ndarray:
        X, counts = self.vectors(tracks.features(self.frontend()))
        proba = class_scores(self.model_, X, tracks.multilabel)
        if not tracks.multilabel:  # classes absent from training get zero probability
            full = np.zeros((len(proba), self.n_classes_))
            full[:, self.model_.classes_] = proba
            proba = full
        parts = split_by_track(proba, counts)
        if tracks.multilabel or self.vote == "mean":
            return mean_scores(parts)
        return majority_vote(parts)
