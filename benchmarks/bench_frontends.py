"""Frontends on 30 s clips at 22050 Hz: mirbench's torch path beside librosa's, one clip and a batch of 8.

Targets (2 threads): log-mel and MFCC at least 4x librosa's clips/s; a batch
no slower per clip than one clip (`track_ms_per_clip`); MFCC and dB mel within
1e-4 dB of librosa (`FrontendAccuracy`).
"""

import numpy as np
import torch

from benchmarks.machine import THREADS, best_seconds, use_threads
from mirbench.frontends import MFCC, LogMel, STFTMagnitude

SR = 22050
FRONTENDS = {"stft": STFTMagnitude, "logmel": LogMel, "mfcc": MFCC}


def music(batch: int) -> np.ndarray:
    """Harmonic tones with vibrato in a little noise: spectra with the dynamic range of music, seeded."""
    rng = np.random.default_rng(0)
    t = np.arange(30 * SR) / SR
    clips = []
    for _ in range(batch):
        f0 = rng.uniform(110, 440)
        y = sum(np.sin(2 * np.pi * k * f0 * t + 3 * np.sin(2 * np.pi * 5 * t)) / k for k in range(1, 8))
        clips.append(0.1 * y + 0.01 * rng.standard_normal(len(t)))
    return np.asarray(clips, dtype=np.float32)


class Frontends:
    params = (list(FRONTENDS), [1, 8], THREADS)
    param_names = ("frontend", "batch", "threads")
    version = 2

    def setup(self, name, batch, threads):
        use_threads(threads)
        self.audio = music(batch)
        self.tensor = torch.from_numpy(self.audio)
        self.frontend = FRONTENDS[name](sample_rate=SR)
        self.frontend(self.tensor[:1])  # build buffers outside the timing

    def _torch(self):
        with torch.inference_mode():
            return self.frontend(self.tensor)

    def _librosa(self):
        return [self.frontend.reference(clip) for clip in self.audio]

    def track_ms_per_clip(self, name, batch, threads):
        """Our time per clip, best of 5: with batch 8 it must not exceed batch 1's."""
        return 1e3 * best_seconds(self._torch) / len(self.audio)

    track_ms_per_clip.unit = "ms"

    def track_speedup_over_librosa(self, name, batch, threads):
        """librosa's time per clip over ours (the ratio of clips/s)."""
        return best_seconds(self._librosa, repeats=2) / best_seconds(self._torch)

    track_speedup_over_librosa.unit = "x"



class FrontendAccuracy:
    """The largest difference from librosa over 30 s of music, in the frontend's units (dB for MFCC)."""

    params = (list(FRONTENDS),)
    param_names = ("frontend",)
    version = 1

    def setup(self, name):
        self.audio = music(1)[0]
        self.frontend = FRONTENDS[name](sample_rate=SR)

    def track_max_abs_difference(self, name):
        ours = self.frontend(torch.from_numpy(self.audio)[None])[0].numpy()
        return float(np.abs(ours - self.frontend.reference(self.audio)).max())

    track_max_abs_difference.unit = "feature units"
