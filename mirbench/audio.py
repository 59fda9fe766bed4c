"""Reading audio files: mono float32 samples at a requested rate, and cheap header probes.

Every failure becomes a `mirbench.dataset.AudioError` whose message starts with
the file's path and says what went wrong, so `Dataset.validate` and the
feature cache can report unusable tracks instead of crashing on them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from mirbench.dataset import AudioError

# Bump when the samples load_audio returns for the same file change (decoder,
# downmix, resampler); the feature cache keys on it.
LOADER_VERSION = 1
RESAMPLER = "soxr_hq"


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: native rate, channel count, length in frames and seconds."""

    sample_rate: int
    channels: int
    frames: int
    duration: float


def _fail(path: Path, reason: str) -> AudioError:
    return AudioError(f"{path}: {reason}")


def _check_file(path: Path) -> None:
    """Raise AudioError for the failures that need no decoder: missing, not a file, empty."""
    if not path.exists():
        raise _fail(path, "file not found")
    if not path.is_file():
        raise _fail(path, "not a regular file")
    if path.stat().st_size == 0:
        raise _fail(path, "file is empty (0 bytes)")


def _soundfile_reason(exc: Exception, path: Path) -> str:
    """libsndfile's complaint without the path repeated ("Error opening '<path>': ...")."""
    text = str(exc).replace(f"Error opening {str(path)!r}: ", "").replace(str(path), "the file")
    if "does not exist or is not a regular file" in text:  # what libsndfile says of corrupt mp3 data
        return "not audio it can decode (corrupt or unsupported data)"
    return text.strip().rstrip(".") or type(exc).__name__


def _audioread_reason(exc: Exception) -> str:
    if type(exc).__name__ == "NoBackendError":
        return "no decoder for this format (installing ffmpeg may help)"
    return str(exc).strip() or type(exc).__name__


def _audioread_decode(path: Path) -> tuple[np.ndarray, int]:
    """Decode with audioread (ffmpeg, gstreamer, ...) for formats libsndfile cannot read."""
    import audioread

    with audioread.audio_open(str(path)) as f:
        sr, channels = int(f.samplerate), int(f.channels)
        chunks = [np.frombuffer(buf, dtype="<i2") for buf in f]
    ints = np.concatenate(chunks) if chunks else np.zeros(0, dtype="<i2")
    y = (ints.astype(np.float32) / 32768.0).reshape(-1, max(channels, 1))
    return y, sr


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """All channels (frames, channels) as float32 and the native rate, soundfile first."""
    try:
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return y, int(sr)
    except Exception as sf_exc:  # libsndfile raises several types for bad or unknown formats
        sf_reason = _soundfile_reason(sf_exc, path)
    try:
        return _audioread_decode(path)
    except Exception as ar_exc:
        ar_reason = _audioread_reason(ar_exc)
        raise _fail(
            path, f"cannot decode audio (soundfile: {sf_reason}; audioread: {ar_reason})"
        ) from None


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of `path` at `sample_rate` (downmixed by channel mean, soxr-resampled if needed)."""
    path = Path(path)
    _check_file(path)
    y, native_sr = _decode(path)
    if y.shape[0] == 0:
        raise _fail(path, "no audio samples (zero-length audio)")
    y = y.mean(axis=1, dtype=np.float32) if y.shape[1] > 1 else y[:, 0]
    if not np.all(np.isfinite(y)):
        raise _fail(path, "audio contains NaN or infinite samples")
    if native_sr != int(sample_rate):
        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = librosa.resample(y, orig_sr=native_sr, target_sr=int(sample_rate), res_type=RESAMPLER)
        if y.shape[0] == 0:
            raise _fail(path, f"audio too short to resample from {native_sr} Hz to {sample_rate} Hz")
    return np.ascontiguousarray(y, dtype=np.float32)


def probe(path: str | Path) -> AudioInfo:
    """Read only the header of `path` (soundfile, else audioread); raise AudioError when unusable."""
    path = Path(path)
    _check_file(path)
    try:
        info = sf.info(str(path))
        sr, channels, frames = int(info.samplerate), int(info.channels), int(info.frames)
    except Exception as sf_exc:
        sf_reason = _soundfile_reason(sf_exc, path)
        try:
            import audioread

            with audioread.audio_open(str(path)) as f:
                sr, channels = int(f.samplerate), int(f.channels)
                frames = int(round(float(f.duration) * sr))
        except Exception as ar_exc:
            ar_reason = _audioread_reason(ar_exc)
            raise _fail(
                path, f"cannot read audio header (soundfile: {sf_reason}; audioread: {ar_reason})"
            ) from None
    if sr <= 0 or channels <= 0:
        raise _fail(path, f"invalid header (sample rate {sr}, {channels} channels)")
    if frames <= 0:
        raise _fail(path, "no audio samples (zero-length audio)")
    return AudioInfo(sample_rate=sr, channels=channels, frames=frames, duration=frames / sr)
