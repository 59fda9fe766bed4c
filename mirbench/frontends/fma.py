"""FMA's 518 hand-crafted track features (the `features.csv` of FMA), computed with librosa for any audio.

FMA ships, for each of its tracks, 11 librosa features summarised over time by
7 statistics (518 numbers), computed by its `features.py`. Systems trained on
that file need the same numbers for audio FMA never saw; `track_features`
recomputes them the way `features.py` does, and `COLUMNS` gives FMA's column
order: features by name, within a feature the statistics kurtosis, max, mean,
median, min, skew, std, within a statistic the coefficients 01, 02, ...

Known differences from FMA's own file, so values differ numerically from a
given `features.csv` while the column layout is identical:

- FMA computed each file at its native sample rate (mostly 44.1 kHz); here the
  audio is taken at `sample_rate` (default 22050 Hz).
- FMA used the librosa of 2017; librosa has changed since (e.g. `rmse` is now
  `librosa.feature.rms`; the column keeps FMA's name `rmse`). Where a default
  changed meaning, the 2017 value is passed explicitly: chroma from the CQT
  uses `bins_per_octave=12` (librosa now defaults to 36; in 2017 it matched
  `n_chroma`, and the CQT here has 12 bins per octave).
- FMA's `features.py` passed no `sr` to `chroma_stft` and the `spectral_*`
  features, so librosa took 22050 Hz for 44.1 kHz audio; here they get the
  actual rate (the same numbers at the default 22050 Hz).
- Audio shorter than the longest CQT filter (about 0.5 s) is zero-padded at
  the end to that length (`min_samples`); FMA had no such short tracks.
- Kurtosis and skew of a constant row (e.g. silence) are NaN in scipy; they
  are reported as 0 so that every value is finite.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from mirbench.frontends.base import Frontend

#: feature -> number of coefficients (rows), in FMA's column order (by name)
FEATURE_SIZES = {
    "chroma_cens": 12,
    "chroma_cqt": 12,
    "chroma_stft": 12,
    "mfcc": 20,
    "rmse": 1,
    "spectral_bandwidth": 1,
    "spectral_centroid": 1,
    "spectral_contrast": 7,
    "spectral_rolloff": 1,
    "tonnetz": 6,
    "zcr": 1,
}
STATISTICS = ("kurtosis", "max", "mean", "median", "min", "skew", "std")
#: (feature, statistic, number) of each of the 518 values, in FMA's features.csv order
COLUMNS: list[tuple[str, str, str]] = [
    (feature, stat, f"{k + 1:02d}") for feature, n in FEATURE_SIZES.items() for stat in STATISTICS for k in range(n)
]
N_FEATURES = len(COLUMNS)  # 518

HOP = 512
N_FFT = 2048
CQT_BINS_PER_OCTAVE = 12
CQT_OCTAVES = 7
C1_HZ = 32.70319566257483  # librosa's default CQT fmin, note C1


def min_samples(sr: int) -> int:
    """Length of the CQT's longest (lowest, C1) filter at `sr`: shorter audio is zero-padded to it."""
    q = 1.0 / (2.0 ** (1.0 / CQT_BINS_PER_OCTAVE) - 1.0)
    return max(N_FFT, math.ceil(q * sr / C1_HZ))


def row_statistics(values: np.ndarray) -> dict[str, np.ndarray]:
    """The 7 statistics of each row of a (rows, frames) matrix, in float64; NaN (constant rows) -> 0."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's precision-loss warning for constant rows
        out = {
            "kurtosis": stats.kurtosis(x, axis=1),
            "max": np.max(x, axis=1),
            "mean": np.mean(x, axis=1),
            "median": np.median(x, axis=1),
            "min": np.min(x, axis=1),
            "skew": stats.skew(x, axis=1),
            "std": np.std(x, axis=1),
        }
    return {k: np.nan_to_num(v, nan=0.0) for k, v in out.items()}


def feature_matrices(y: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    """The 11 (rows, frames) librosa features of FMA's features.py, by FMA's names (y already padded)."""
    import librosa

    cqt = np.abs(librosa.cqt(y, sr=sr, hop_length=HOP, bins_per_octave=CQT_BINS_PER_OCTAVE,
                             n_bins=CQT_OCTAVES * CQT_BINS_PER_OCTAVE, tuning=None))
    chroma = {"n_chroma": 12, "n_octaves": CQT_OCTAVES, "bins_per_octave": CQT_BINS_PER_OCTAVE}
    chroma_cens = librosa.feature.chroma_cens(C=cqt, **chroma)
    stft = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    mel = librosa.feature.melspectrogram(sr=sr, S=stft**2)
    return {
        "chroma_cens": chroma_cens,
        "chroma_cqt": librosa.feature.chroma_cqt(C=cqt, **chroma),
        "chroma_stft": librosa.feature.chroma_stft(S=stft**2, sr=sr, n_chroma=12),
        "mfcc": librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20),
        "rmse": librosa.feature.rms(S=stft),
        "spectral_bandwidth": librosa.feature.spectral_bandwidth(S=stft, sr=sr),
        "spectral_centroid": librosa.feature.spectral_centroid(S=stft, sr=sr),
        "spectral_contrast": librosa.feature.spectral_contrast(S=stft, sr=sr, n_bands=6),
        "spectral_rolloff": librosa.feature.spectral_rolloff(S=stft, sr=sr),
        "tonnetz": librosa.feature.tonnetz(chroma=chroma_cens),
        "zcr": librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP),
    }


def track_features(y: np.ndarray, sr: int) -> np.ndarray:
    """FMA's 518 features of mono audio `y` at `sr`, ordered as `COLUMNS`: float32 (518,), all finite.

    Audio shorter than `min_samples(sr)` is zero-padded at the end to that
    length; kurtosis and skew of constant rows (NaN in scipy) are 0.
    """
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if y.shape[0] < min_samples(sr):
        y = np.pad(y, (0, min_samples(sr) - y.shape[0]))
    with warnings.catch_warnings():
        # librosa warns on the CQT's short low octaves and on tuning estimation of silence; both are harmless here
        warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large", category=UserWarning)
        warnings.filterwarnings("ignore", message="Trying to estimate tuning from empty frequency set", category=UserWarning)
        matrices = feature_matrices(y, int(sr))
    values = []
    for feature, n in FEATURE_SIZES.items():
        m = matrices[feature]
        if m.shape[0] != n:
            raise RuntimeError(f"{feature}: librosa gave {m.shape[0]} rows, FMA has {n}")
        stats = row_statistics(m)
        values.extend(stats[s] for s in STATISTICS)
    return np.concatenate(values).astype(np.float32)


class FMAFeatures(Frontend):
    """FMA's 518 track-level features: one frame of 518 dims per track (numpy/librosa, on the CPU)."""

    name = "fma"
    version = 1

    def __init__(self, sample_rate: int = 22050):
        self.sample_rate = int(sample_rate)

    @property
    def n_dims(self) -> int:
        return N_FEATURES

    def n_frames(self, n_samples: int) -> int:
        return 1

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        rows = audio.detach().cpu().numpy()
        ends = [rows.shape[1]] * rows.shape[0] if lengths is None else [int(n) for n in lengths.tolist()]
        feats = np.zeros((rows.shape[0], N_FEATURES), dtype=np.float32)
        for i, (row, end) in enumerate(zip(rows, ends)):
            feats[i] = track_features(row[:end], self.sample_rate)
        return torch.as_tensor(feats, dtype=torch.float32, device=audio.device)[:, None, :]

    def reference(self, audio: np.ndarray) -> np.ndarray:
        return track_features(np.asarray(audio, dtype=np.float32), self.sample_rate)[None, :]
