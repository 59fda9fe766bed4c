"""Training throughput of the GTZAN zoo's families (Fagan), at the study's widths, on 3 s segments.

Segments per second of one Adam step (forward, backward, update) on
minibatches of 4 segments: 129 frames x 128 mel bands (258 for the CNN 1D and
the LSTM, whose frames are 512 samples), or 66,150 samples for the raw-waveform
networks, on one and two CPU threads. The spread between families is what a time
budget has to allow for.
"""

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.machine import THREADS, best_seconds, use_threads
from mirbench.registry import systems
from mirbench.kit.windows import Windows

FAMILIES = ["cnn1d", "cnn2d", "alexnet", "vgg16", "samplecnn", "lstm", "rcnn"]
CLASSES, BATCH = 10, 4


class ZooTraining:
    params = (FAMILIES, THREADS)
    param_names = ("family", "threads")
    version = 3  # 3: the study's frames, front dropout and 1D AlexNet/VGG16 (issue #19)
    timeout = 600

    def setup(self, family, threads):
        use_threads(threads)
        torch.manual_seed(0)
        system = systems.get(f"fagan.{family}")()
        frames = system.segment_frames()
        shape = (frames,) if system.raw else (frames, int(system.n_mels))
        self.model = system.build_network(CLASSES, Windows([np.zeros(shape)], frames, raw=system.raw, segments=True))
        self.optimiser = torch.optim.Adam(self.model.parameters())
        self.x = torch.randn(BATCH, *shape)
        self.y = torch.randint(CLASSES, (BATCH,))

    def _step(self):
        self.optimiser.zero_grad(set_to_none=True)
        F.cross_entropy(self.model(self.x), self.y).backward()
        self.optimiser.step()

    def track_segments_per_second(self, family, threads):
        return BATCH / best_seconds(self._step, repeats=2, warmup=0)

    track_segments_per_second.unit = "segments/s"
