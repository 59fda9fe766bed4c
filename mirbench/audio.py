"""Reading audio files: mono float32 samples at a requested rate, and cheap header probes.

Every failure becomes a `mirbench.audio.AudioError` whose message starts with
the file's path and says what went wrong, so `Dataset.validate` and the
feature cache can report unusable tracks instead of crashing on them.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf


class AudioError(Exception):
    """A track's audio cannot be read or decoded. `kind` is the ValidationReport problem kind it is filed
    under ("unreadable", "non-finite" or "out-of-range"); `track_id` names the track where the caller knows it."""

    def __init__(self, message: str, track_id: str | None = None, kind: str = "unreadable"):
        super().__init__(message)
        self.track_id = track_id
        self.kind = kind

    @classmethod
    def of_track(cls, track_id: str, exc: "AudioError") -> "AudioError":
        """`exc` with the track's id in front of its message and attached (its kind kept)."""
        return cls(f"track {track_id!r}: {exc}", track_id, exc.kind)


# Bump when the samples load_audio returns for the same file change (decoder,
# downmix, resampler); the feature cache keys on it.
LOADER_VERSION = 1
RESAMPLER = "soxr_hq"

#: Float audio lives in [-1, 1]. A peak above OUT_OF_RANGE_PEAK (2: twice full scale) is clipped or mis-scaled
#: audio (int16 values written as floats peak near 32767): `check_samples` warns, and the track is still used.
OUT_OF_RANGE_PEAK = 2.0
#: A peak above ABSURD_PEAK (1e10) makes the track unusable: no recording is that loud, and near it the power
#: spectrum stops fitting float32 (at most (peak * n_fft)**2 = 4e29 for n_fft = 65536 at 1e10, while float32
#: ends at 3.4e38; a sample of 1e30 gives NaN MFCCs). `check_samples` and `load_audio` both refuse it.
ABSURD_PEAK = 1e10


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: native rate, channel count, length in frames and seconds."""

    sample_rate: int
    channels: int
    frames: int
    duration: float


def _fail(path: Path, reason: str, kind: str = "unreadable") -> AudioError:
    """An AudioError starting with the path; `kind` is the ValidationReport kind `validate` files it under."""
    return AudioError(f"{path}: {reason}", kind=kind)


def _check_file(path: Path) -> None:
    """Raise AudioError for the failures that need no decoder: missing, not a file, unreadable, empty."""
    if not path.exists():
        raise _fail(path, "file not found")
    if path.is_dir():
        raise _fail(path, "a directory where an audio file should be; put the audio file there instead")
    if not path.is_file():
        raise _fail(path, "not a regular file (a device, pipe or socket); put the audio file there instead")
    if not os.access(path, os.R_OK):
        raise _fail(path, "no permission to read the file; make it readable (chmod a+r)")
    if path.stat().st_size == 0:
        raise _fail(path, "file is empty (0 bytes); copy the track again from the dataset's archive")


def _bad_samples(y: np.ndarray) -> tuple[int, int | None]:
    """How many samples of (frames, channels) `y` are NaN or infinite, and the first frame holding one."""
    bad = ~np.isfinite(y)
    rows = np.flatnonzero(bad.any(axis=1))
    return int(bad.sum()), (int(rows[0]) if len(rows) else None)


def _non_finite(path: Path, count: int, first: int, sample_rate: int) -> AudioError:
    """The AudioError (kind "non-finite") for `count` NaN or infinite samples, the first in frame `first`."""
    return _fail(
        path,
        f"audio contains {count} NaN or infinite sample(s), the first at {first / sample_rate:.3f} s "
        f"(frame {first}); re-export the file with finite samples",
        kind="non-finite",
    )


def _out_of_range(path: Path, peak: float) -> AudioError:
    """The AudioError (kind "out-of-range") for float audio peaking above ABSURD_PEAK."""
    return _fail(
        path,
        f"samples reach {peak:.3g}, absurdly far outside [-1, 1] (features of it overflow to NaN); "
        "re-export the file as audio normalised to [-1, 1]",
        kind="out-of-range",
    )


def _loud(path: Path, peak: float) -> str:
    """The "out-of-range" warning for float audio peaking above OUT_OF_RANGE_PEAK (but not absurdly)."""
    return (
        f"{path}: samples reach {peak:.3g}, far outside [-1, 1] (clipped or mis-scaled audio; its features are "
        "computed as it is); re-export the file normalised to [-1, 1]"
    )


def _soundfile_reason(exc: Exception, path: Path) -> str:
    """libsndfile's complaint without the path repeated ("Error opening '<path>': ...")."""
    text = str(exc).replace(f"Error opening {str(path)!r}: ", "").replace(str(path), "the file")
    if "does not exist or is not a regular file" in text:  # what libsndfile says of corrupt mp3 data
        return "not audio it can decode (corrupt or unsupported data)"
    return text.strip().rstrip(".") or type(exc).__name__


#: formats ffmpeg (through audioread) decodes and libsndfile does not: only for these can installing it help
FFMPEG_ONLY = (".mp3", ".m4a", ".mp4", ".aac", ".opus", ".wma", ".webm", ".ape", ".ac3")


def _audioread_reason(exc: Exception, path: Path) -> str:
    if type(exc).__name__ == "NoBackendError":
        if path.suffix.lower() in FFMPEG_ONLY:
            return "no decoder for this format (installing ffmpeg may help)"
        named = f"the {path.suffix[1:].upper()} audio its name says" if path.suffix else "audio"
        return f"no decoder for it either: the file is corrupt or not {named}"
    return str(exc).strip() or type(exc).__name__


#: Native seconds decoded past an excerpt's end when it is resampled, so that the resampler's filter sees the same
#: input it sees in a whole-file decode: the excerpt's samples then equal the whole file's resampled and cut
#: (soxr's filters span well under 0.1 s; a second leaves a wide margin).
RESAMPLE_MARGIN_SECONDS = 1.0


def _window(native_sr: int, sample_rate: int, offset: float, duration: float | None) -> tuple[int, int | None]:
    """The native frames to decode for [offset, offset + duration) s at `sample_rate`: the first one, and how many
    (None: to the end), with RESAMPLE_MARGIN_SECONDS more when the audio will be resampled."""
    start = int(round(offset * native_sr))
    if duration is None:
        return start, None
    count = int(round(duration * native_sr))
    if native_sr != int(sample_rate):
        count += int(round(RESAMPLE_MARGIN_SECONDS * native_sr))
    return start, count


def _audioread_decode(path: Path, sample_rate: int, offset: float = 0.0, duration: float | None = None):
    """Decode with audioread (ffmpeg, gstreamer, ...) for formats libsndfile cannot read. audioread cannot seek, so
    an excerpt is decoded from the start, the frames before `offset` dropped, and decoding stops (the decoder is
    closed) once the excerpt's last frame is in."""
    import audioread

    with audioread.audio_open(str(path)) as f:
        sr, channels = int(f.samplerate), max(int(f.channels), 1)
        start, count = _window(sr, sample_rate, offset, duration)
        wanted = None if count is None else (start + count) * channels  # interleaved int16 values
        chunks, held = [], 0
        for buf in f:
            chunks.append(np.frombuffer(buf, dtype="<i2"))
            held += len(chunks[-1])
            if wanted is not None and held >= wanted:
                break
    ints = np.concatenate(chunks) if chunks else np.zeros(0, dtype="<i2")
    ints = ints[start * channels : None if wanted is None else wanted]
    y = (ints.astype(np.float32) / 32768.0).reshape(-1, channels)
    return y, sr


def _soundfile_decode(path: Path, sample_rate: int, offset: float = 0.0, duration: float | None = None):
    """Decode with libsndfile, reading only the frames of the excerpt: a seek to its first frame, then a read of
    as many as it needs."""
    with sf.SoundFile(str(path)) as f:
        sr = int(f.samplerate)
        start, count = _window(sr, sample_rate, offset, duration)
        if start and f.frames > 0 and start >= f.frames:
            return np.zeros((0, f.channels), dtype=np.float32), sr
        if start:
            f.seek(start)
        return f.read(-1 if count is None else count, dtype="float32", always_2d=True), sr


def _decode(path: Path, sample_rate: int, offset: float = 0.0, duration: float | None = None):
    """The channels (frames, channels) as float32 and the native rate, soundfile first; with `offset` and
    `duration` (seconds), only the frames `_window` names."""
    try:
        return _soundfile_decode(path, sample_rate, offset, duration)
    except Exception as sf_exc:  # libsndfile raises several types for bad or unknown formats
        sf_reason = _soundfile_reason(sf_exc, path)
    try:
        return _audioread_decode(path, sample_rate, offset, duration)
    except Exception as ar_exc:
        ar_reason = _audioread_reason(ar_exc, path)
        raise _fail(
            path, f"cannot decode audio (soundfile: {sf_reason}; audioread: {ar_reason}); replace it with a good copy"
        ) from None


def load_audio(path: str | Path, sample_rate: int, offset: float = 0.0, duration: float | None = None) -> np.ndarray:
    """Mono float32 samples of `path` at `sample_rate` (downmixed by channel mean, soxr-resampled if needed).

    `offset` and `duration` (seconds) ask for an excerpt, and only it is decoded (plus
    RESAMPLE_MARGIN_SECONDS past its end when it is resampled): at most round(duration * sample_rate) samples
    from `offset` on. From offset 0 they are exactly the first samples of the whole file's; from a later offset
    a resampled excerpt starts the resampler afresh there.

    Raises AudioError when the file cannot be decoded, holds NaN or infinite samples (kind "non-finite"), or
    peaks above ABSURD_PEAK (kind "out-of-range"), in what was decoded: whatever decoder read it, validation may
    not have scanned it.
    """
    path = Path(path)
    if offset < 0 or (duration is not None and not duration > 0):
        raise ValueError(f"load_audio: offset must be >= 0 and duration > 0 or None, got {offset!r} and {duration!r}")
    _check_file(path)
    y, native_sr = _decode(path, sample_rate, offset, duration)
    if y.shape[0] == 0:
        where = f" from {offset:g} s on" if offset else ""
        raise _fail(path, f"no audio samples{where} (zero-length audio); copy the track again from the dataset's "
                    "archive")
    count, first = _bad_samples(y)
    if count:
        raise _non_finite(path, count, first + int(round(offset * native_sr)), native_sr)
    peak = float(max(y.max(), -y.min()))  # no copy of the audio, unlike abs
    if peak > ABSURD_PEAK:
        raise _out_of_range(path, peak)
    y = y.mean(axis=1, dtype=np.float32) if y.shape[1] > 1 else y[:, 0]
    if native_sr != int(sample_rate):
        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = librosa.resample(y, orig_sr=native_sr, target_sr=int(sample_rate), res_type=RESAMPLER)
        if y.shape[0] == 0:
            raise _fail(path, f"audio too short to resample from {native_sr} Hz to {sample_rate} Hz")
    if duration is not None:
        y = y[: int(round(duration * sample_rate))]
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
            ar_reason = _audioread_reason(ar_exc, path)
            raise _fail(
                path, f"cannot read audio header (soundfile: {sf_reason}; audioread: {ar_reason}); replace it with a good copy"
            ) from None
    if sr <= 0 or channels <= 0:
        raise _fail(path, f"invalid header (sample rate {sr}, {channels} channels)")
    if frames <= 0:
        raise _fail(path, "no audio samples (zero-length audio); copy the track again from the dataset's archive")
    return AudioInfo(sample_rate=sr, channels=channels, frames=frames, duration=frames / sr)


BLOCK = 8192  # frames decoded at each end of a file by `check_samples`
SLACK = 2304  # frames a decoder may fall short of the header's count without the file being cut (two MP3 frames)
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")  # the only sample formats that can hold NaN or infinity


def check_samples(path: str | Path, info: AudioInfo) -> list[tuple[str, str]]:
    """Decode what a header cannot vouch for, cheaply: the first and last blocks, and every sample of a float file.

    Raises AudioError when no audio decodes, when a float file holds NaN or
    infinite samples (kind "non-finite"), or when it peaks above ABSURD_PEAK
    (1e10, kind "out-of-range"). Returns the warnings, as (kind, reason) pairs:
    "out-of-range" when a float file peaks above OUT_OF_RANGE_PEAK (2: clipped
    or mis-scaled, still used), "truncated" when the file is shorter than its
    header says (it loads as far as it goes). Files only audioread can open are
    not checked here (`load_audio` refuses their absurd samples when it decodes them).
    """
    path = Path(path)
    found: list[tuple[str, str]] = []
    try:
        f = sf.SoundFile(str(path))
    except Exception:  # libsndfile cannot open it; probe went through audioread, so load_audio will too
        return found
    with f:
        try:
            head = f.read(min(info.frames, BLOCK), dtype="float32", always_2d=True)
        except Exception as exc:
            raise _fail(path, f"cannot decode audio ({_soundfile_reason(exc, path)})") from None
        if not len(head):
            raise _fail(path, f"no audio decodes, though the header says {info.frames} frames; copy the file again")
        if f.subtype in FLOAT_SUBTYPES:
            peak = _scan_float(f, path, info.sample_rate)
            if peak > OUT_OF_RANGE_PEAK:
                found.append(("out-of-range", _loud(path, peak)))
        cut = _tail_shortfall(f, info.frames)
    declared = None if cut else _wav_declared_frames(path)
    if not cut and (declared is None or declared <= info.frames):
        return found
    rate = info.sample_rate
    said = f"{path}: truncated: the header says {(declared or info.frames) / rate:.2f} s of audio"
    held = "decoding stops before the end" if cut else f"the file holds {info.frames / rate:.2f} s"
    found.append(("truncated", f"{said}, but {held} (it loads as far as it goes; copy the file again from the dataset's archive)"))
    return found


def _scan_float(f: sf.SoundFile, path: Path, sample_rate: int) -> float:
    """The peak absolute sample of a float file; raise AudioError when any sample is NaN or infinite (kind
    "non-finite") or the peak is above ABSURD_PEAK (kind "out-of-range")."""
    f.seek(0)
    offset, total, first, peak = 0, 0, None, 0.0
    for block in f.blocks(blocksize=1 << 16, dtype="float64", always_2d=True):
        count, at = _bad_samples(block)
        if count and first is None:
            first = offset + at
        elif not count and len(block):
            peak = max(peak, float(np.abs(block).max()))
        total += count
        offset += len(block)
    if total:
        raise _non_finite(path, total, first, sample_rate)
    if peak > ABSURD_PEAK:
        raise _out_of_range(path, peak)
    return peak


def _tail_shortfall(f: sf.SoundFile, frames: int) -> bool:
    """Whether decoding stops more than SLACK frames short of the header's count (read at the end only)."""
    if frames <= BLOCK or not f.seekable():
        return False
    start = frames - BLOCK
    try:
        f.seek(start)
        got = len(f.read(BLOCK, dtype="float32", always_2d=True))
    except Exception:  # a failed seek or read at the end: the data is not all there
        got = 0
    return BLOCK - got > SLACK


def _wav_declared_frames(path: Path) -> int | None:
    """The frame count a RIFF/WAVE header declares for its data chunk (libsndfile reports what is present), or None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = None
            while len(chunk := fh.read(8)) == 8:
                name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if name == b"fmt ":
                    fmt = fh.read(size + (size & 1))
                    block_align = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else None
                elif name == b"data":
                    streamed = size in (0, 0xFFFFFFFF)  # writers that could not seek back leave a placeholder
                    return None if streamed or not block_align else size // block_align
                else:
                    fh.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None
    return None
