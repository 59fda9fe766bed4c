"""Notes -> audio: a pretty_midi file played by midirenderer with the SoundFont inside pretty_midi.

midirenderer stops at the last MIDI event and its output is quiet, at 48 kHz
stereo and has a DC offset on some programs, so a render is padded with a
silent final event, then mixed to mono, resampled, high-passed, cut to the
exact clip length and loudness-normalised.
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np

VELOCITY = 90
TARGET_RMS_DB = -20.0  # loudness of every clip, dBFS
PEAK_LIMIT = 0.95  # no sample above this after normalisation
HIGHPASS_HZ = 20.0
FADE_SECONDS = 0.05  # fade-out at the cut, against a click


def soundfont_path() -> Path:
    """The General MIDI SoundFont (TimGM6mb, GPL) that ships inside the pretty_midi wheel."""
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


@functools.lru_cache(maxsize=1)
def _soundfont_bytes() -> bytes:
    return soundfont_path().read_bytes()


def midi_bytes(voices: Sequence[np.ndarray], programs: Sequence[int], seconds: float) -> bytes:
    """A MIDI file with one instrument per voice; `voices` hold (start_s, end_s, pitch) rows.

    A silent control change after `seconds` keeps the renderer going to the clip end.
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=120.0)
    for notes, program in zip(voices, programs):
        inst = pretty_midi.Instrument(program=int(program))
        for start, end, pitch in notes:
            if end > start and 0 <= pitch <= 127:
                inst.notes.append(pretty_midi.Note(VELOCITY, int(pitch), float(start), float(end)))
        pm.instruments.append(inst)
    if not pm.instruments:
        pm.instruments.append(pretty_midi.Instrument(program=0))
    pm.instruments[0].control_changes.append(pretty_midi.ControlChange(number=64, value=0, time=seconds + 0.5))
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def synthesize(midi: bytes) -> tuple[np.ndarray, int]:
    """Render MIDI bytes with the bundled SoundFont: (mono float64 audio, sample rate)."""
    import midirenderer
    import soundfile as sf

    wav = midirenderer.render_wave_from(_soundfont_bytes(), midi)
    audio, sr = sf.read(io.BytesIO(bytes(wav)), dtype="float64", always_2d=True)
    return audio.mean(axis=1), int(sr)


def clean(audio: np.ndarray, sr_in: int, sr_out: int, seconds: float) -> np.ndarray:
    """Resample, high-pass (removes the DC offset), cut/pad to `seconds`, fade out, normalise loudness."""
    from math import gcd

    from scipy import signal

    if sr_in != sr_out:
        g = gcd(sr_in, sr_out)
        audio = signal.resample_poly(audio, sr_out // g, sr_in // g)
    audio = audio - audio.mean()
    sos = signal.butter(2, HIGHPASS_HZ, btype="highpass", fs=sr_out, output="sos")
    audio = signal.sosfiltfilt(sos, audio)
    n = int(round(seconds * sr_out))
    audio = np.pad(audio[:n], (0, max(0, n - len(audio))))
    fade = min(n, int(FADE_SECONDS * sr_out))
    if fade:
        audio[n - fade :] *= np.linspace(1.0, 0.0, fade)
    rms = float(np.sqrt(np.mean(audio**2))) if n else 0.0
    if rms < 1e-6:
        raise ValueError("rendered audio is silent")
    audio = audio * (10 ** (TARGET_RMS_DB / 20) / rms)
    peak = float(np.max(np.abs(audio)))
    if peak > PEAK_LIMIT:
        audio = audio * (PEAK_LIMIT / peak)
    return audio


def render_clip(
    voices: Sequence[np.ndarray], programs: Sequence[int], seconds: float, sample_rate: int, path: Path
) -> None:
    """Render `voices` (rows of start_s, end_s, pitch) to a 16-bit mono WAV at `path`, atomically."""
    import soundfile as sf

    audio, sr = synthesize(midi_bytes(voices, programs, seconds))
    audio = clean(audio, sr, sample_rate, seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    sf.write(tmp, audio.astype(np.float32), sample_rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)
