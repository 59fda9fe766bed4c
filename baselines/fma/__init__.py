"""Baselines on FMA's 518 track features (Defferrard et al. 2017): an MLP and five scikit-learn classifiers.

The features are FMA's precomputed `features.csv` or the same statistics
computed from the audio (`mirbench_baselines.fma.features`); see each module.
"""

from mirbench_baselines.fma.classical import FMAKNN, FMASVM, FMAClassifier, FMALinearSVM, FMALogReg, FMARandomForest
from mirbench_baselines.fma.features import track_features
from mirbench_baselines.fma.mlp import FMAMLP

__all__ = [
    "FMAMLP", "FMAClassifier", "FMALogReg", "FMALinearSVM", "FMASVM", "FMAKNN", "FMARandomForest", "track_features",
]  # fmt: skip
