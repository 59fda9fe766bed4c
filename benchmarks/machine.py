"""What every benchmark shares: thread counts, best-of timing, and the machine's float32 matmul peak.

Ratios to the matmul peak make kernels comparable across machines: the peak
is measured in the same process (a 1536 x 1536 float32 product, best of 5),
so a slow or busy machine moves the kernel and its yardstick together.
asv's `time_*` results are medians over repeats; the `track_*` rates here are
best-of (the minimum time), because this machine is shared and noise only
ever adds time.
"""

import time

import numpy as np
import torch

THREADS = [1, 2]
PEAK_SIZE = 1536
_PEAKS: dict[int, float] = {}


def use_threads(threads: int) -> None:
    torch.set_num_threads(int(threads))


def best_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    """The minimum wall time of `fn()` over `repeats` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved_best_seconds(fns, rounds: int = 3, calls: int = 5, warmup: int = 1) -> list[float]:
    """The minimum wall time of each of `fns` over `rounds` rounds that call each `calls` times in a row in turn.

    A burst of load from another process that outlasts one function's calls then reaches the next function's
    too, so ratios of the results (a speed-up over a peer) hold from run to run. Calls come in runs rather than
    alternating one by one: the first call after another library ran finds the cache and the heap cold (and
    OpenBLAS's threads still spinning), and the minimum over the rest of the run leaves that out.
    """
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            for _ in range(warmup):
                fn()
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - start)
    return best


def median_seconds(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matmul_peak(threads: int) -> float:
    """float32 GFLOP/s of a large square matrix product on `threads` threads (measured once per process)."""
    if threads not in _PEAKS:
        previous = torch.get_num_threads()
        use_threads(threads)
        a, b = torch.randn(PEAK_SIZE, PEAK_SIZE), torch.randn(PEAK_SIZE, PEAK_SIZE)
        _PEAKS[threads] = 2 * PEAK_SIZE**3 / best_seconds(lambda: a @ b) / 1e9
        use_threads(previous)
    return _PEAKS[threads]


def gflops(flops: float, seconds: float) -> float:
    return flops / seconds / 1e9
