"""Decoding reads only what is used: `load_audio(offset=, duration=)` seeks to the excerpt and stops after it, and its
samples are the whole decode's, cut."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from mirbench import audio
from mirbench.audio import AudioError, load_audio


def noise(seconds: float, sample_rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    y = np.random.default_rng(seed).standard_normal((int(seconds * sample_rate), channels)) * 0.1
    return y.astype(np.float32)


@pytest.fixture
def long_wav(tmp_path):
    """Five minutes of mono 16-bit noise at 22050 Hz."""
    path = tmp_path / "long.wav"
    sf.write(path, noise(300, 22050), 22050, subtype="PCM_16")
    return path


@pytest.fixture
def frames_read(monkeypatch):
    """The frame counts every SoundFile.read asks for (-1: to the end), in order."""
    asked: list[int] = []
    original = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        asked.append(frames)
        return original(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    return asked


def test_the_first_30_s_of_a_long_wav_are_the_whole_decode_cut_and_only_they_are_read(long_wav, frames_read):
    whole = load_audio(long_wav, 22050)
    assert frames_read == [-1]
    clip = load_audio(long_wav, 22050, duration=30.0)
    assert frames_read[1:] == [30 * 22050]
    assert clip.dtype == np.float32 and np.array_equal(clip, whole[: 30 * 22050])


def test_an_excerpt_from_an_offset_seeks_to_it(long_wav, frames_read):
    whole = load_audio(long_wav, 22050)
    excerpt = load_audio(long_wav, 22050, offset=100.0, duration=10.0)
    assert frames_read[1:] == [10 * 22050]
    assert np.array_equal(excerpt, whole[100 * 22050 : 110 * 22050])


def test_a_resampled_excerpt_equals_the_whole_file_resampled_and_cut(tmp_path, frames_read):
    """44.1 kHz stereo to 22050 Hz: the resampler is fed a second past the excerpt, so its samples are bit-exact."""
    path = tmp_path / "stereo.wav"
    sf.write(path, noise(120, 44100, channels=2, seed=1), 44100, subtype="PCM_16")
    whole = load_audio(path, 22050)
    clip = load_audio(path, 22050, duration=30.0)
    assert frames_read[1:] == [31 * 44100]  # 30 s and the resampler's margin, not 120 s
    assert np.array_equal(clip, whole[: 30 * 22050])


def test_an_mp3_excerpt_is_the_whole_decode_cut_and_only_it_is_read(tmp_path, frames_read):
    """libsndfile decodes MP3 (mpg123) frame by frame: the first 10 s of a 2-minute MP3 are read, not all of it."""
    path = tmp_path / "long.mp3"
    sf.write(path, noise(120, 22050, seed=3), 22050, format="MP3")
    whole = load_audio(path, 22050)
    clip = load_audio(path, 22050, duration=10.0)
    assert frames_read[1:] == [10 * 22050]
    assert np.array_equal(clip, whole[: 10 * 22050])


def test_an_excerpt_longer_than_the_file_is_the_whole_file(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, noise(2, 22050), 22050, subtype="PCM_16")
    assert np.array_equal(load_audio(path, 22050, duration=30.0), load_audio(path, 22050))


def test_an_offset_past_the_end_is_an_audio_error_saying_so(long_wav):
    with pytest.raises(AudioError, match="no audio samples from 400 s on"):
        load_audio(long_wav, 22050, offset=400.0, duration=1.0)


def test_the_checks_apply_to_what_was_read(tmp_path):
    """NaN after the excerpt is never decoded, so it cannot refuse the excerpt; NaN inside it is reported."""
    y = noise(60, 22050)
    y[40 * 22050] = np.nan
    path = tmp_path / "float.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    assert len(load_audio(path, 22050, duration=30.0)) == 30 * 22050
    with pytest.raises(AudioError, match=r"the first at 40\.000 s") as exc:
        load_audio(path, 22050, offset=35.0, duration=10.0)
    assert exc.value.kind == "non-finite"


def test_a_bad_window_is_a_value_error():
    with pytest.raises(ValueError, match="duration > 0"):
        load_audio("whatever.wav", 22050, duration=0)


class CountingDecoder:
    """A stand-in for audioread's file object: `buffers` of 1024 stereo int16 frames, counting those handed out."""

    def __init__(self, y: np.ndarray, samplerate: int):
        self.ints = (y * 32767).astype("<i2")
        self.samplerate, self.channels = samplerate, y.shape[1]
        self.handed = 0
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True

    def __iter__(self):
        for start in range(0, len(self.ints), 1024):
            self.handed += 1
            yield self.ints[start : start + 1024].tobytes()


def test_the_audioread_fallback_stops_decoding_after_the_excerpt(tmp_path, monkeypatch):
    """Formats only ffmpeg decodes go through audioread, which cannot seek: decoding stops once the excerpt is in,
    and the decoder is closed."""
    import audioread

    y = noise(60, 8000, channels=2, seed=2)
    decoders = []

    def audio_open(path):
        decoders.append(CountingDecoder(y, 8000))
        return decoders[-1]

    def not_for_libsndfile(*args):
        raise RuntimeError("Format not recognised")

    monkeypatch.setattr(audioread, "audio_open", audio_open)
    monkeypatch.setattr(audio, "_soundfile_decode", not_for_libsndfile)
    path = tmp_path / "track.m4a"
    path.write_bytes(b"stand-in")
    whole = load_audio(path, 8000)
    excerpt = load_audio(path, 8000, offset=10.0, duration=5.0)
    assert np.array_equal(excerpt, whole[10 * 8000 : 15 * 8000])
    assert decoders[0].handed == 60 * 8000 // 1024 + 1
    assert decoders[1].handed == -(-15 * 8000 // 1024) and decoders[1].closed  # 15 s of 60 decoded, then closed


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_an_ffmpeg_decoded_file_stops_early(tmp_path, monkeypatch):
    """An AAC file (libsndfile cannot read it) decoded by ffmpeg through audioread: the excerpt is the whole decode's
    first samples, and fewer buffers are read."""
    import audioread.ffdec

    wav, m4a = tmp_path / "src.wav", tmp_path / "long.m4a"
    sf.write(wav, noise(120, 22050), 22050, subtype="PCM_16")
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    counts = []
    original = audioread.ffdec.FFmpegAudioFile.read_data

    def counting(self, *args, **kwargs):
        counts.append(0)
        for buf in original(self, *args, **kwargs):
            counts[-1] += 1
            yield buf

    monkeypatch.setattr(audioread.ffdec.FFmpegAudioFile, "read_data", counting)
    monkeypatch.setattr(audioread, "audio_open", lambda path: audioread.ffdec.FFmpegAudioFile(path))
    whole = load_audio(m4a, 22050)
    clip = load_audio(m4a, 22050, duration=10.0)
    assert np.array_equal(clip, whole[: 10 * 22050])
    assert counts[1] < counts[0] / 4


def test_ismir2004_clip_seconds_decodes_only_the_clip(tmp_path, frames_read):
    """`clip_seconds = 2` of 20 s MP3s at 44.1 kHz: 2 s and the resampler's margin are read, and the clip is the
    whole decode's start (so the feature cache's entries, keyed on the dataset's parameters, are unchanged)."""
    from mirbench.datasets.ismir2004 import ISMIR2004Dataset
    from tests.fixtures.ismir2004_tree import write_ismir2004_tree

    write_ismir2004_tree(tmp_path, per_class=1, seconds=20.0, subsets=("training",))
    whole, clipped = ISMIR2004Dataset(tmp_path, subsets=("training",)), ISMIR2004Dataset(
        tmp_path, subsets=("training",), clip_seconds=2.0)
    track = whole.tracks[0]
    full = whole.load_audio(track, 22050)
    assert frames_read == [-1]
    clip = clipped.load_audio(track, 22050)
    assert frames_read[1:] == [3 * 44100] and np.array_equal(clip, full[: 2 * 22050])


def test_an_opus_excerpt_is_read_by_seeking(tmp_path, frames_read):
    """`duration` on a 2-minute Ogg Opus file (libsndfile reads it): only the excerpt's frames are read, and they are
    the whole decode's first samples (an 11-minute file took 10.7 s whole and 0.20 s for 30 s here)."""
    path = tmp_path / "long.opus"
    sf.write(path, noise(120, 48000), 48000, format="OGG", subtype="OPUS")
    whole = load_audio(path, 48000)
    clip = load_audio(path, 48000, duration=10.0)
    assert frames_read == [-1, 10 * 48000]
    assert np.array_equal(clip, whole[: 10 * 48000])
