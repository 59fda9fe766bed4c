"""mirbench.audio: loading matches librosa.load, downmix, resampling, header probes, loud failures."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from mirbench.audio import AudioInfo, load_audio, probe
from mirbench.audio import AudioError


def tone(sr: int, seconds: float, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    cols = [0.5 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]
    return np.stack(cols, axis=1).astype(np.float32)


@pytest.fixture
def mono_wav(tmp_path):
    path = tmp_path / "mono.wav"
    sf.write(path, tone(16000, 0.75), 16000, subtype="PCM_16")
    return path


def test_load_native_rate_matches_librosa(mono_wav):
    import librosa

    y = load_audio(mono_wav, 16000)
    ref, _ = librosa.load(mono_wav, sr=16000)
    assert y.dtype == np.float32 and y.ndim == 1 and y.shape == (12000,)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("target", [22050, 8000])
def test_load_resampled_matches_librosa(mono_wav, target):
    import librosa

    y = load_audio(mono_wav, target)
    ref, _ = librosa.load(mono_wav, sr=target, res_type="soxr_hq")
    assert y.dtype == np.float32
    assert y.shape == ref.shape == (int(round(0.75 * target)),)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-6)


def test_stereo_is_downmixed_by_channel_mean(tmp_path):
    import librosa

    stereo = tone(22050, 0.5, channels=2)
    path = tmp_path / "stereo.flac"
    sf.write(path, stereo, 22050, subtype="PCM_24")
    y = load_audio(path, 22050)
    on_disk, _ = sf.read(path, dtype="float32")
    np.testing.assert_allclose(y, on_disk.mean(axis=1), rtol=0, atol=1e-7)
    np.testing.assert_allclose(y, librosa.load(path, sr=22050, mono=True)[0], rtol=0, atol=1e-7)


def test_missing_file_raises_with_path(tmp_path):
    path = tmp_path / "nowhere.wav"
    for fn in (lambda: load_audio(path, 22050), lambda: probe(path)):
        with pytest.raises(AudioError, match="not found") as info:
            fn()
        assert str(path) in str(info.value)


def test_corrupt_file_raises_with_path(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    for fn in (lambda: load_audio(path, 22050), lambda: probe(path)):
        with pytest.raises(AudioError, match="cannot") as info:
            fn()
        assert str(path) in str(info.value)


def test_empty_file_raises_with_path(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    for fn in (lambda: load_audio(path, 22050), lambda: probe(path)):
        with pytest.raises(AudioError, match="empty") as info:
            fn()
        assert str(path) in str(info.value)


def test_zero_length_audio_raises(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros((0, 1), dtype=np.float32), 22050)
    for fn in (lambda: load_audio(path, 22050), lambda: probe(path)):
        with pytest.raises(AudioError, match="zero-length") as info:
            fn()
        assert str(path) in str(info.value)


def test_non_finite_samples_raise(tmp_path):
    path = tmp_path / "nan.wav"
    y = tone(8000, 0.1)
    y[10] = np.nan
    sf.write(path, y, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite") as info:
        load_audio(path, 8000)
    assert str(path) in str(info.value)


def test_probe_reads_header(tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, tone(44100, 0.25, channels=2), 44100)
    info = probe(path)
    assert info == AudioInfo(sample_rate=44100, channels=2, frames=11025, duration=0.25)


def test_probe_reads_only_the_header(tmp_path, monkeypatch):
    """probe must not decode samples: it still works when decoding is made impossible."""
    import mirbench.audio

    path = tmp_path / "track.au"
    sf.write(path, tone(8000, 1.0), 8000, format="AU", subtype="PCM_16")

    def no_decoding(*args, **kwargs):
        raise AssertionError("probe decoded samples")

    monkeypatch.setattr(mirbench.audio.sf, "read", no_decoding)
    assert probe(path) == AudioInfo(sample_rate=8000, channels=1, frames=8000, duration=1.0)


def test_audioread_fallback_when_soundfile_fails(tmp_path, monkeypatch):
    """Formats libsndfile rejects go to audioread; for a 16-bit wav both decoders agree exactly."""
    import mirbench.audio

    path = tmp_path / "stereo16.wav"
    sf.write(path, tone(11025, 0.3, channels=2), 11025, subtype="PCM_16")
    expected = load_audio(path, 11025)

    def rejected(*args, **kwargs):
        raise sf.LibsndfileError(1, "Format not recognised")

    monkeypatch.setattr(mirbench.audio.sf, "read", rejected)
    monkeypatch.setattr(mirbench.audio.sf, "info", rejected)
    np.testing.assert_array_equal(load_audio(path, 11025), expected)
    assert probe(path) == AudioInfo(sample_rate=11025, channels=2, frames=3307, duration=3307 / 11025)
