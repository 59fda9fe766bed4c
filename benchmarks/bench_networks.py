"""Training throughput of the spectrogram networks Choi et al. (2017) compare, at two parameter budgets.

Windows per second of one Adam step (forward, backward, update) on minibatches
of 4 log-mel windows of 96 bands x 1366 frames, the paper's input, on one and
two CPU threads: the "training time per sample" axis of the comparison.
"""

import torch
import torch.nn.functional as F

from mirbench_baselines.choi2017.architectures import ARCHITECTURES, build
from mirbench_baselines.choi2017.budget import solve_width
from mirbench.run.allocator import keep_freed_memory
from benchmarks.machine import THREADS, best_seconds, use_threads

BANDS, FRAMES, CLASSES, BATCH = 96, 1366, 50, 4


class ChoiNetworks:
    params = (list(ARCHITECTURES), [100_000, 1_000_000], THREADS)
    param_names = ("arch", "budget", "threads")
    version = 4  # 4: freed memory kept for the next step (mirbench.run.allocator), as in a trial's process
    timeout = 300

    def setup(self, arch, budget, threads):
        keep_freed_memory()  # as a trial's process does: else each step faults its activations' pages in afresh
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


#: In a fresh process: one architecture's step at 1 M parameters on 2 threads, MIRBENCH_KEEP_FREED_MEMORY as given
#: (ChoiNetworks.setup sets the allocator as a trial does, unless it is 0).
STEP_IN_A_FRESH_PROCESS = """
import json, resource, sys
from benchmarks.bench_networks import ChoiNetworks
from benchmarks.machine import best_seconds
step = ChoiNetworks()
step.setup(sys.argv[1], 1_000_000, 2)
step._step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
repeats, warmup = 3, 1
seconds = best_seconds(step._step, repeats=repeats, warmup=warmup)
steps = repeats + warmup
print(json.dumps({"seconds": seconds, "faults": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


class KeepFreedMemory:
    """The Adam step of k2c2 and CRNN (1 M parameters, 2 threads) with the allocator as a trial sets it
    (mirbench.run.allocator: freed blocks reused) against glibc's default, each in a fresh process: the speed-up,
    the page faults per step of each, and the ratio of their peak resident memory."""

    params = (["k2c2", "crnn"],)
    param_names = ("arch",)
    version = 1
    timeout = 600

    def setup_cache(self):
        import json
        import os
        import subprocess
        import sys
        from pathlib import Path

        root = Path(__file__).resolve().parent.parent
        out = {}
        for arch in self.params[0]:
            for keep in ("1", "0"):
                env = {**os.environ, "MIRBENCH_KEEP_FREED_MEMORY": keep, "PYTHONPATH": str(root)}
                done = subprocess.run([sys.executable, "-c", STEP_IN_A_FRESH_PROCESS, arch], env=env, cwd=root,
                                      capture_output=True, text=True, check=True)
                out[arch, keep] = json.loads(done.stdout)
        return out

    setup_cache.timeout = 600  # four fresh processes

    def track_speedup(self, measured, arch):
        return measured[arch, "0"]["seconds"] / measured[arch, "1"]["seconds"]

    track_speedup.unit = "x"

    def track_faults_per_step_kept(self, measured, arch):
        return measured[arch, "1"]["faults"]

    track_faults_per_step_kept.unit = "page faults"

    def track_faults_per_step_default(self, measured, arch):
        return measured[arch, "0"]["faults"]

    track_faults_per_step_default.unit = "page faults"

    def track_peak_rss_ratio(self, measured, arch):
        return measured[arch, "1"]["peak_rss"] / measured[arch, "0"]["peak_rss"]

    track_peak_rss_ratio.unit = "x"
