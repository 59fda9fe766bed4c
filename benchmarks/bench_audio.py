"""Decoding and resampling a 30 s stereo clip at 44.1 kHz to mono 22050 Hz (`mirbench.audio.load_audio`), WAV and MP3.

This bounds end-to-end feature extraction: a frontend that runs in 2 ms per
clip is worth little if reading the clip takes 50. `track_realtime_factor` is
seconds of audio loaded per second of wall time.
"""

import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.machine import THREADS, best_seconds, use_threads
from mirbench.audio import load_audio

SECONDS, NATIVE, TARGET = 30, 44100, 22050
FORMATS = {"wav": ("WAV", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III")}


class AudioLoading:
    params = (list(FORMATS), THREADS)
    param_names = ("format", "threads")
    version = 2

    def setup_cache(self):
        folder = Path(tempfile.mkdtemp(prefix="mirbench-bench-audio-"))
        rng = np.random.default_rng(0)
        t = np.arange(SECONDS * NATIVE) / NATIVE
        stereo = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1)
        stereo = (0.3 * stereo + 0.01 * rng.standard_normal(stereo.shape)).astype(np.float32)
        for name, (fmt, subtype) in FORMATS.items():
            sf.write(folder / f"clip.{name}", stereo, NATIVE, format=fmt, subtype=subtype)
        return str(folder)

    def setup(self, folder, name, threads):
        use_threads(threads)
        self.path = Path(folder) / f"clip.{name}"
        load_audio(self.path, TARGET)  # imports the resampler and decoder outside the timing

    def time_load(self, folder, name, threads):
        load_audio(self.path, TARGET)

    def track_realtime_factor(self, folder, name, threads):
        return SECONDS / best_seconds(lambda: load_audio(self.path, TARGET), repeats=3)

    track_realtime_factor.unit = "x realtime"
