"""Training throughput of the spectrogram networks Choi et al. (2017) compare, at two parameter budgets.

Windows per second of one Adam step (forward, backward, update) on minibatches
of 4 log-mel windows of 96 bands x 1366 frames, the paper's input, on one and
two CPU threads: the "training time per sample" axis of the comparison.
"""

import torch
import torch.nn.functional as F

from mirbench_baselines.choi2017.architectures import ARCHITECTURES, build
from mirbench_baselines.choi2017.budget import solve_width
from benchmarks.machine import THREADS, best_seconds, use_threads

BANDS, FRAMES, CLASSES, BATCH = 96, 1366, 50, 4


class ChoiNetworks:
    params = (list(ARCHITECTURES), [100_000, 1_000_000], THREADS)
    param_names = ("arch", "budget", "threads")
    version = 3  # 3: layers in the released networks' proportions, dropout (issue #19)
    timeout = 300

    def setup(self, arch, budget, threads):
        use_threads(threads)
        torch.manual_seed(0)
        width, _ = solve_width(arch, budget, BANDS, CLASSES)
        self.model = build(arch, BANDS, CLASSES, width)
        self.optimiser = torch.optim.Adam(self.model.parameters())
        self.x = torch.randn(BATCH, FRAMES, BANDS)
        self.y = (torch.rand(BATCH, CLASSES) < 0.1).float()

    def _step(self):
        self.optimiser.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(self.model(self.x), self.y).backward()
        self.optimiser.step()

    def track_windows_per_second(self, arch, budget, threads):
        return BATCH / best_seconds(self._step, repeats=2, warmup=0)

    track_windows_per_second.unit = "windows/s"
