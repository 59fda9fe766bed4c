"""Baselines on FMA's 518 track features (Defferrard et al. 2017): an MLP and five scikit-learn classifiers.

The features are FMA's precomputed `features.csv` or the same statistics
computed from the audio (`baselines.fma.features`); see each module.
"""

from baselines.fma.classical import FMAKNN, FMASVM, FMAClassifier, FMALinearSVM, FMALogReg, FMARandomForest
from baselines.fma.features import track_features
from baselines.fma.mlp import FMAMLP

__all__ = [
    "FMAMLP", "FMAClassifier", "FMALogReg", "FMALinearSVM", "FMASVM", "FMAKNN", "FMARandomForest", "track_features",
]  # fmt: skip
