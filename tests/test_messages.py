"""Messages a user acts on: a corrupt file's decode error, and repeated warnings collapsed to one line with a count."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirbench.audio import AudioError, load_audio, probe
from mirbench.datasets.base import Dataset, Track, ValidationReport
from mirbench.datasets.inspect import health


@pytest.fixture
def no_audioread_backend(monkeypatch):
    """audioread as on a machine without ffmpeg or gstreamer."""
    import audioread
    from audioread.exceptions import NoBackendError

    def audio_open(path, *args, **kwargs):
        raise NoBackendError()

    monkeypatch.setattr(audioread, "audio_open", audio_open)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
@pytest.mark.parametrize("read", [lambda p: load_audio(p, 22050), probe], ids=["load_audio", "probe"])
def test_a_corrupt_file_libsndfile_reads_is_called_corrupt_not_a_missing_ffmpeg(suffix, read, tmp_path, no_audioread_backend):
    path = tmp_path / f"track{suffix}"
    path.write_bytes(b"not audio at all" * 64)
    with pytest.raises(AudioError) as info:
        read(path)
    message = str(info.value)
    assert "ffmpeg" not in message
    assert f"corrupt or not the {suffix[1:].upper()} audio its name says" in message


@pytest.mark.parametrize("suffix", [".mp3", ".m4a", ".aac", ".opus", ".wma"])
def test_a_format_only_ffmpeg_decodes_suggests_ffmpeg_when_no_backend_is_found(suffix, tmp_path, no_audioread_backend):
    path = tmp_path / f"track{suffix}"
    path.write_bytes(b"not audio at all" * 64)
    with pytest.raises(AudioError, match="installing ffmpeg may help"):
        load_audio(path, 22050)


def report_with_repeats() -> tuple[Dataset, ValidationReport]:
    tracks = [Track(f"t{i:02d}", Path(f"t{i:02d}.wav"), ("a",)) for i in range(25)]
    dataset = Dataset(tracks, ["a"], "single-label", 22050, name="fake")
    report = ValidationReport("fake", len(tracks))
    for t in tracks[:18]:
        report.warn(t.id, "sample-rate", f"{t.path}: 44100 Hz, expected 22050 Hz (resampled on load)")
    report.warn("t18", "checksum", "t18.wav: differs from the published file")
    for t in tracks[19:]:
        report.problem(t.id, "unreadable", f"{t.path}: cannot decode audio")
    return dataset, report


def test_summary_collapses_warnings_of_one_kind_to_one_line_with_a_count():
    _, report = report_with_repeats()
    lines = report.summary().splitlines()
    rate = [line for line in lines if "sample-rate" in line or "44100 Hz" in line]
    assert rate == ["  warning sample-rate: 18 tracks, e.g. t00: t00.wav: 44100 Hz, expected 22050 Hz (resampled on load)"]
    assert "  warning checksum: 1 track, e.g. t18: t18.wav: differs from the published file" in lines
    assert [line for line in lines if line.startswith("  skipped ")] == [
        f"  skipped t{i}: t{i}.wav: cannot decode audio" for i in range(19, 25)
    ]  # problems stay listed one per track


def test_summary_still_lists_problems_up_to_the_limit():
    _, report = report_with_repeats()
    lines = report.summary(limit=2).splitlines()
    assert [line for line in lines if line.startswith("  skipped ")] == [
        "  skipped t19: t19.wav: cannot decode audio", "  skipped t20: t20.wav: cannot decode audio"]
    assert "  ... and 4 more skipped (see 'mirbench data check')" in lines


def test_health_collapses_warnings_of_one_kind_and_lists_problems():
    dataset, report = report_with_repeats()
    text = health(dataset, report)
    assert text.count("44100 Hz") == 1
    assert text.endswith("warnings (still used): checksum: 1\n  t18: t18.wav: differs from the published file\n\n"
                         "warnings (still used): sample-rate: 18\n"
                         "  t00: t00.wav: 44100 Hz, expected 22050 Hz (resampled on load) (and 17 more like it)")
    assert "unusable (skipped by runs): unreadable: 6" in text
    assert all(f"  t{i}: t{i}.wav: cannot decode audio" in text for i in range(19, 25))
