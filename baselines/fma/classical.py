"""`fma.logreg`, `fma.linear-svm`, `fma.svm`, `fma.knn`, `fma.rf`: scikit-learn classifiers on FMA's 518 features.

One class, `FMAClassifier`: standardise (statistics of the training tracks)
-> the classifier (one-vs-rest on multi-label tasks). Scores are
`mirbench_baselines.pooled.class_scores`: probabilities where the classifier has them,
else decision values through a softmax (a sigmoid per tag). Each registered
name is a subclass that only changes the default `classifier`.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from mirbench_baselines.fma.features import check_source, resolve_source, track_features
from mirbench_baselines.pooled import class_scores
from mirbench.system import System, TrackSet, is_int

CLASSIFIERS = ("logreg", "linear-svm", "svm", "knn", "rf")


class FMAClassifier(System):
    """A standardised scikit-learn classifier on the 518 FMA features.

    `classifier`: "logreg" (LogisticRegression: `C`, `max_iter`), "linear-svm"
    (LinearSVC: `C`, `max_iter`), "svm" (SVC with an RBF kernel: `C`, `gamma`),
    "knn" (KNeighborsClassifier: `n_neighbors`), "rf" (RandomForestClassifier:
    `n_estimators`). Parameters a classifier does not use are ignored.
    """

    SMOKE_PARAMS = {"n_estimators": 10, "n_neighbors": 3}

    def __init__(
        self,
        features: str = "auto",
        sample_rate: int = 22050,
        classifier: str = "logreg",
        C: float = 1.0,
        gamma: str | float = "scale",
        n_neighbors: int = 5,
        n_estimators: int = 100,
        max_iter: int = 1000,
        random_state: int = 0,
    ):
        self.features = features
        self.sample_rate = sample_rate
        self.classifier = classifier
        self.C = C
        self.gamma = gamma
        self.n_neighbors = n_neighbors
        self.n_estimators = n_estimators
        self.max_iter = max_iter
        self.random_state = random_state

    def check_params(self) -> None:
        """Raise ValueError naming the first parameter with a bad value."""
        check_source(self.features)
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {', '.join(CLASSIFIERS)}, got {self.classifier!r}")
        for name in ("sample_rate", "n_neighbors", "n_estimators", "max_iter"):
            if not is_int(getattr(self, name), 1):
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not is_int(self.random_state, 0):
            raise ValueError(f"random_state must be an integer >= 0, got {self.random_state!r}")
        if isinstance(self.C, bool) or not isinstance(self.C, (int, float)) or not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C!r}")
        gamma_ok = self.gamma in ("scale", "auto") or (
            isinstance(self.gamma, (int, float)) and not isinstance(self.gamma, bool) and self.gamma > 0
        )
        if not gamma_ok:
            raise ValueError(f"gamma must be 'scale', 'auto' or a positive number, got {self.gamma!r}")

    def estimator(self, multilabel: bool):
        """The unfitted pipeline: StandardScaler -> classifier (one-vs-rest when multi-label)."""
        name, seed = self.classifier, int(self.random_state)
        if name == "logreg":
            model = LogisticRegression(C=float(self.C), max_iter=int(self.max_iter))
        elif name == "linear-svm":
            model = LinearSVC(C=float(self.C), max_iter=int(self.max_iter), random_state=seed)
        elif name == "svm":
            model = SVC(C=float(self.C), kernel="rbf", gamma=self.gamma, random_state=seed)
        elif name == "knn":
            model = KNeighborsClassifier(n_neighbors=int(self.n_neighbors))
        else:
            model = RandomForestClassifier(n_estimators=int(self.n_estimators), random_state=seed, n_jobs=1)
        if multilabel:
            model = OneVsRestClassifier(model)
        return make_pipeline(StandardScaler(), model)

    def fit(self, train: TrackSet, valid: TrackSet | None = None) -> "FMAClassifier":
        self.check_params()
        X = track_features(train, self.features, int(self.sample_rate))
        if self.classifier == "knn" and len(X) < self.n_neighbors:
            raise ValueError(f"n_neighbors={self.n_neighbors} is more than the {len(X)} training tracks")
        self.multilabel_ = train.multilabel
        self.n_classes_ = len(train.classes)
        self.csv_features_ = int(resolve_source(train, self.features) == "csv")
        self.model_ = self.estimator(train.multilabel).fit(X, train.targets)
        return self

    def predict(self, tracks: TrackSet) -> np.ndarray:
        X = track_features(tracks, self.features, int(self.sample_rate))
        scores = class_scores(self.model_, X, self.multilabel_)
        if not self.multilabel_:  # classes absent from training get zero
            full = np.zeros((len(scores), self.n_classes_))
            full[:, self.model_.classes_] = scores
            scores = full
        return np.asarray(scores, dtype=np.float64)

    def training_info(self) -> dict:
        return {"csv_features": self.csv_features_} if hasattr(self, "csv_features_") else {}


# One subclass per registered name; only the default `classifier` differs (sklearn reads defaults from __init__).
# fmt: off
class FMALogReg(FMAClassifier):
    """`fma.logreg`: logistic regression."""

    def __init__(self, features="auto", sample_rate=22050, classifier="logreg", C=1.0, gamma="scale",
                 n_neighbors=5, n_estimators=100, max_iter=1000, random_state=0):
        super().__init__(features, sample_rate, classifier, C, gamma, n_neighbors, n_estimators, max_iter, random_state)


class FMALinearSVM(FMAClassifier):
    """`fma.linear-svm`: a linear SVM (LinearSVC)."""

    def __init__(self, features="auto", sample_rate=22050, classifier="linear-svm", C=1.0, gamma="scale",
                 n_neighbors=5, n_estimators=100, max_iter=1000, random_state=0):
        super().__init__(features, sample_rate, classifier, C, gamma, n_neighbors, n_estimators, max_iter, random_state)


class FMASVM(FMAClassifier):
    """`fma.svm`: an SVM with an RBF kernel."""

    def __init__(self, features="auto", sample_rate=22050, classifier="svm", C=1.0, gamma="scale",
                 n_neighbors=5, n_estimators=100, max_iter=1000, random_state=0):
        super().__init__(features, sample_rate, classifier, C, gamma, n_neighbors, n_estimators, max_iter, random_state)


class FMAKNN(FMAClassifier):
    """`fma.knn`: k nearest neighbours."""

    def __init__(self, features="auto", sample_rate=22050, classifier="knn", C=1.0, gamma="scale",
                 n_neighbors=5, n_estimators=100, max_iter=1000, random_state=0):
        super().__init__(features, sample_rate, classifier, C, gamma, n_neighbors, n_estimators, max_iter, random_state)


class FMARandomForest(FMAClassifier):
    """`fma.rf`: a random forest."""

    def __init__(self, features="auto", sample_rate=22050, classifier="rf", C=1.0, gamma="scale",
                 n_neighbors=5, n_estimators=100, max_iter=1000, random_state=0):
        super().__init__(features, sample_rate, classifier, C, gamma, n_neighbors, n_estimators, max_iter, random_state)
# fmt: on
