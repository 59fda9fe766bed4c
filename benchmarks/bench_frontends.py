"""Frontend throughput on 30 s clips at 22050 Hz: mirbench's torch path beside librosa's."""

import numpy as np
import torch

from mirbench.frontends import MFCC, LogMel, STFTMagnitude

SR = 22050
FRONTENDS = {"stft": STFTMagnitude, "logmel": LogMel, "mfcc": MFCC}


class Frontends:
    params = (list(FRONTENDS), [1, 8])
    param_names = ("frontend", "batch")
    version = 1

    def setup(self, name, batch):
        torch.set_num_threads(1)
        rng = np.random.default_rng(0)
        self.audio = rng.standard_normal((batch, 30 * SR)).astype(np.float32)
        self.tensor = torch.from_numpy(self.audio)
        self.frontend = FRONTENDS[name](sample_rate=SR)
        self.frontend(self.tensor[:1])  # build buffers outside the timing

    def time_torch(self, name, batch):
        with torch.inference_mode():
            self.frontend(self.tensor)

    def time_librosa(self, name, batch):
        for clip in self.audio:
            self.frontend.reference(clip)

    def track_torch_clips_per_second(self, name, batch):
        import time

        start = time.perf_counter()
        with torch.inference_mode():
            self.frontend(self.tensor)
        return batch / (time.perf_counter() - start)

    track_torch_clips_per_second.unit = "clips/s"
