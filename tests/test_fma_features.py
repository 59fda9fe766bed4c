"""FMA's 518 track features: column layout equal to FMA's features.csv, values equal to direct librosa/scipy calls,
batched forward equal to the per-track reference, edge cases finite, and the `mirbench features fma` command."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import soundfile as sf
import torch

from mirbench import registry
from mirbench.audio import load_audio
from mirbench.cli import main
from mirbench.datasets.fma.metadata import features_problem
from mirbench.frontends import FMAFeatures
from mirbench.frontends.fma import COLUMNS, FEATURE_SIZES, min_samples, track_features
from tests.fixtures.audio import class_tone
from tests.fixtures.fma_tree import FEATURES, STATISTICS, features_columns, write_features_csv

SR = 22050


def test_columns_are_fmas_layout():
    assert len(COLUMNS) == 518
    assert COLUMNS == features_columns()
    assert FEATURE_SIZES == FEATURES and {s for _, s, _ in COLUMNS} == set(STATISTICS)


def test_registered_as_fma_and_contract():
    assert registry.frontends.get("fma") is FMAFeatures
    fe = FMAFeatures()
    assert fe.params() == {"sample_rate": 22050} and fe.key().startswith("fma-v1-")
    assert fe.n_dims == 518 and fe.n_frames(1) == 1 and fe.n_frames(10**6) == 1


# ----------------------------------------------------------------------------- values against librosa


@pytest.fixture(scope="module")
def tone():
    return class_tone(3, seed=7, seconds=3.0, sample_rate=SR)  # 3 s: a tone and its third harmonic, in noise


@pytest.fixture(scope="module")
def tone_features(tone):
    return track_features(tone, SR)


def oracle(y: np.ndarray) -> dict[str, np.ndarray]:
    """FMA's features.py, written out with today's librosa (2017 default bins_per_octave=12 made explicit)."""
    import librosa

    cqt = np.abs(librosa.cqt(y, sr=SR, hop_length=512, bins_per_octave=12, n_bins=7 * 12, tuning=None))
    cens = librosa.feature.chroma_cens(C=cqt, n_chroma=12, n_octaves=7, bins_per_octave=12)
    stft = np.abs(librosa.stft(y, n_fft=2048, hop_length=512))
    mel = librosa.feature.melspectrogram(sr=SR, S=stft**2)
    return {
        "chroma_cens": cens,
        "chroma_cqt": librosa.feature.chroma_cqt(C=cqt, n_chroma=12, n_octaves=7, bins_per_octave=12),
        "tonnetz": librosa.feature.tonnetz(chroma=cens),
        "mfcc": librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20),
        "spectral_centroid": librosa.feature.spectral_centroid(S=stft),
        "spectral_contrast": librosa.feature.spectral_contrast(S=stft, n_bands=6),
        "rmse": librosa.feature.rms(S=stft),
        "zcr": librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512),
    }


STAT_FUNCS = {
    "kurtosis": lambda m: scipy.stats.kurtosis(m, axis=1),
    "max": lambda m: np.max(m, axis=1),
    "mean": lambda m: np.mean(m, axis=1),
    "median": lambda m: np.median(m, axis=1),
    "min": lambda m: np.min(m, axis=1),
    "skew": lambda m: scipy.stats.skew(m, axis=1),
    "std": lambda m: np.std(m, axis=1),
}


@pytest.mark.parametrize(
    "feature, stat",
    [
        ("mfcc", "mean"),
        ("zcr", "max"),
        ("spectral_centroid", "median"),
        ("chroma_cens", "std"),
        ("chroma_cqt", "skew"),
        ("tonnetz", "mean"),
        ("spectral_contrast", "kurtosis"),
        ("rmse", "min"),
    ],
)
def test_values_equal_direct_librosa_calls(tone, tone_features, feature, stat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy on a constant row (chroma_cqt's max-normalised D#)
        expected = STAT_FUNCS[stat](oracle(tone)[feature].astype(np.float64))
    expected = np.nan_to_num(expected, nan=0.0)  # the documented rule: NaN of a constant row is reported as 0
    first = COLUMNS.index((feature, stat, "01"))
    got = tone_features[first : first + FEATURE_SIZES[feature]]
    assert np.ptp(expected) > 0 or len(expected) == 1  # not all rows alike
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_tone_is_found_by_chroma(tone_features):
    # class_tone(3) is 110 Hz * 2**(3/2) ~ 311 Hz (D#4) with a third harmonic (A#5): D# leads, then its
    # neighbours (CQT leakage), then A# above the other classes
    first = COLUMNS.index(("chroma_cqt", "mean", "01"))
    means = tone_features[first : first + 12]
    assert np.argmax(means) == 3
    assert means[10] > means[[0, 1, 5, 6, 7, 8]].max()


# ----------------------------------------------------------------------------- batching and edge cases


def test_forward_with_lengths_equals_reference():
    fe = FMAFeatures()
    a = class_tone(0, seed=1, seconds=1.0, sample_rate=SR)
    b = class_tone(5, seed=2, seconds=0.6, sample_rate=SR)
    batch = torch.zeros(2, len(a))
    batch[0], batch[1, : len(b)] = torch.from_numpy(a), torch.from_numpy(b)
    out = fe(batch, torch.tensor([len(a), len(b)]))
    assert out.shape == (2, 1, 518) and out.dtype == torch.float32
    np.testing.assert_allclose(out[0].numpy(), fe.reference(a), rtol=1e-6)
    np.testing.assert_allclose(out[1].numpy(), fe.reference(b), rtol=1e-6)
    padded = fe(batch[1:])  # without lengths the padding counts as audio
    assert not np.allclose(padded[0].numpy(), fe.reference(b))


@pytest.mark.parametrize("kind", ["short", "silent", "constant"])
def test_short_and_silent_audio_give_finite_values(kind):
    y = {
        "short": class_tone(2, seed=3, seconds=0.1, sample_rate=SR),
        "silent": np.zeros(SR, dtype=np.float32),
        "constant": np.full(SR // 2, 0.25, dtype=np.float32),
    }[kind]
    f = FMAFeatures().reference(y)
    assert f.shape == (1, 518) and f.dtype == np.float32 and np.all(np.isfinite(f))
    if kind == "short":
        assert len(y) < min_samples(SR)
        np.testing.assert_array_equal(f[0], track_features(np.pad(y, (0, min_samples(SR) - len(y))), SR))
    if kind == "silent":
        kurt = [i for i, (_, s, _) in enumerate(COLUMNS) if s in ("kurtosis", "skew")]
        assert np.all(f[0, kurt] == 0)  # NaN of constant rows reported as 0


# ----------------------------------------------------------------------------- the command


def write_wav(path, index, seed, seconds=1.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, class_tone(index, seed, seconds, SR), SR)


@pytest.fixture
def audio_dir(tmp_path):
    root = tmp_path / "audio"
    write_wav(root / "000" / "000010.wav", 1, seed=1)
    write_wav(root / "000002.wav", 4, seed=2)
    (root / "notes.txt").write_text("not audio, not searched")
    return root


def read_features(path):
    return pd.read_csv(path, header=[0, 1, 2], index_col=0)


def test_cli_writes_fmas_layout(audio_dir, tmp_path, capsys):
    out = tmp_path / "features.csv"
    assert main(["features", "fma", str(audio_dir), "--out", str(out), "--no-progress"]) == 0
    assert "2 track(s) written" in capsys.readouterr().out
    assert features_problem(out) is None
    fixture = tmp_path / "fixture.csv"
    write_features_csv(fixture, [2, 10])
    ours, theirs = read_features(out), read_features(fixture)
    assert ours.columns.equals(theirs.columns) and list(ours.columns.names) == list(theirs.columns.names)
    assert out.read_text().splitlines()[3].startswith("track_id,")
    assert list(ours.index) == [2, 10] and ours.index.dtype.kind == "i"
    expected = track_features(load_audio(audio_dir / "000002.wav", SR), SR)
    np.testing.assert_allclose(ours.loc[2].to_numpy(), expected, rtol=1e-6)


def test_cli_skips_unreadable_files(audio_dir, tmp_path, capsys):
    (audio_dir / "x.mp3").write_bytes(b"\x00\x01garbage")
    out = tmp_path / "features.csv"
    assert main(["features", "fma", str(audio_dir), "--out", str(out), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if "x.mp3" in line]
    assert "2 track(s) written" in captured.out and "1 unreadable file(s) skipped" in captured.out
    rows = [line.split(",")[0] for line in out.read_text().splitlines()[4:]]
    assert rows == ["000002", "000010"]  # not every stem is digits: ids are the stems as text


def test_cli_usage_errors(audio_dir, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["features", "fma", str(empty), "--out", str(tmp_path / "f.csv")]) == 2
    assert capsys.readouterr().err.startswith("error: no audio files")
    assert main(["features", "fma", str(audio_dir), "--out", str(tmp_path / "nodir" / "f.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: output directory") and err.count("\n") == 1
    assert main(["features", "fma", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "f.csv")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
