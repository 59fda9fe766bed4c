"""The 518 FMA features of a split: FMA's precomputed `features.csv`, or the same statistics computed from the audio.

`source`: "csv" reads the dataset's `precomputed_features` (FMA only);
"computed" runs `mirbench.frontends.fma.FMAFeatures` through the feature cache
(any dataset); "auto" takes the csv when the dataset offers it and its file
exists, else computes. Which one was used is reported (`csv_features`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mirbench.datasets.base import DatasetError
from mirbench.system import TrackSet

SOURCES = ("auto", "csv", "computed")
N_FEATURES = 518


def check_source(source) -> None:
    if source not in SOURCES:
        raise ValueError(f"features must be one of {', '.join(SOURCES)}, got {source!r}")


def resolve_source(tracks: TrackSet, source: str) -> str:
    """"csv" or "computed": what `source` means for this split's dataset."""
    check_source(source)
    if source != "auto":
        return source
    dataset = tracks.dataset
    path = getattr(dataset, "features_path", None)
    has_csv = hasattr(dataset, "precomputed_features") and path is not None and Path(path).is_file()
    return "csv" if has_csv else "computed"


def track_features(tracks: TrackSet, source: str, sample_rate: int) -> np.ndarray:
    """(n, 518) float64 features of `tracks` in order; a non-finite value is a DatasetError naming the track."""
    source = resolve_source(tracks, source)
    if source == "csv":
        if not hasattr(tracks.dataset, "precomputed_features"):
            raise ValueError(
                f"features='csv': dataset {tracks.dataset.name!r} has no precomputed features (only FMA does); "
                "use features='computed'"
            )
        X = np.asarray(tracks.dataset.precomputed_features(tracks.ids), dtype=np.float64)
    else:
        from mirbench.frontends.fma import FMAFeatures

        per_track = tracks.features(FMAFeatures(sample_rate=sample_rate))
        X = np.stack([np.asarray(f, dtype=np.float64).reshape(-1) for f in per_track]) if per_track else np.zeros((0, N_FEATURES))
    if X.shape != (len(tracks), N_FEATURES):
        raise ValueError(f"{source} features have shape {X.shape}, expected ({len(tracks)}, {N_FEATURES})")
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if len(bad):
        ids = [tracks.ids[i] for i in bad[:5]]
        raise DatasetError(
            f"{source} features of {len(bad)} track(s) are not finite (NaN or inf), e.g. track {ids[0]} "
            f"(all shown: {', '.join(ids)}); check those files or leave the tracks out"
        )
    return X
