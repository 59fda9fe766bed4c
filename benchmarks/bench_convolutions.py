"""The convolution kernels of the end-to-end and spectrogram networks, forward and forward + backward.

GFLOP/s count the multiply-adds of the convolutions as 2 flops each: the
forward once, the backward once for the weight gradient and once more for
the input gradient where the input needs one. `track_*_peak_ratio` divides
by the float32 matmul peak measured in the same process (`machine.matmul_peak`).

- `StridedFrontend`: Dieleman & Schrauwen's raw-audio layer, 32 filters of
  length = stride in {256, 512, 1024}, minibatches of 10 windows of 3 s at
  16 kHz: one GEMM over framed audio (`StridedConv1d`), conv1d beside it.
  Target: forward + backward at >= 50 % of the matmul peak.
- `MelConvLayer`: their first trunk layer on mel input, 128 -> 32 channels,
  length 8, then max-pool 4, on the same minibatches (187 frames).
- `Conv2DBlocks`: the first two 3x3 conv -> batch norm -> ELU -> max-pool
  blocks of k2c2 (pools (2, 4)) and CRNN (pools (2, 2), (3, 3)) at width 32,
  on 2 windows of 96 bands x 1366 frames (Choi et al.'s input). These are
  bound by memory traffic more than arithmetic: the first has one input
  channel, and batch norm, ELU and pooling touch every activation.
  `track_convolutions_peak_ratio` times the two convolutions alone (the
  same flops); `track_traffic_bound_peak_ratio` is the most the blocks can
  reach here, 1 / (1 + (bytes / flops) x (peak / bandwidth)): the least
  traffic is 17 passes over the first block's 2 x 32 x 96 x 1366 floats
  (`TRAFFIC_PASSES`), at the bandwidth of a copy of that size measured in
  the same process.
"""

import torch
import torch.nn.functional as F
from torch import nn

from mirbench_baselines.choi2017.architectures import conv_block
from mirbench_baselines.dieleman2014.layers import StridedConv1d
from mirbench.run.allocator import keep_freed_memory
from benchmarks.machine import THREADS, best_seconds, gflops, matmul_peak, use_threads

SR, BATCH, FILTERS = 16000, 10, 32
# Passes over the first block's activation A that forward + backward cannot avoid without fused kernels: the
# conv writes A; batch norm reads it twice (statistics, normalise) and writes it; ELU reads and writes it; the
# pool reads it. Backward: the pool writes dA; ELU reads dA and its output and writes dA; batch norm reads dA and
# its input twice (its reductions, then the input gradient) and writes dA; the weight gradient reads dA.
TRAFFIC_PASSES = 1 + 3 + 2 + 1 + 1 + 3 + 4 + 1 + 1


class _Convolution:
    """A module, an input and the flops of one forward; subclasses fill them in `setup` (private: asv skips it)."""

    version = 1

    def _forward(self):
        with torch.no_grad():
            self.module(self.x)

    def _forward_backward(self):
        out = self.module(self.x)
        out.backward(torch.ones_like(out))
        self.module.zero_grad(set_to_none=True)

    def _backward_flops(self) -> float:
        """Weight gradient; the input gradient too when the input needs one (never here: the inputs are data)."""
        return self.flops

    def track_forward_backward_gflops(self, *params):
        return gflops(self.flops + self._backward_flops(), best_seconds(self._forward_backward, repeats=10))

    track_forward_backward_gflops.unit = "GFLOP/s"

    def track_forward_backward_peak_ratio(self, *params):
        return self.track_forward_backward_gflops(*params) / matmul_peak(params[-1])

    track_forward_backward_peak_ratio.unit = "of matmul peak"


class StridedFrontend(_Convolution):
    params = ([256, 512, 1024], THREADS)
    param_names = ("length_and_stride", "threads")

    def setup(self, length, threads):
        use_threads(threads)
        torch.manual_seed(0)
        frames = round(3 * SR / length)
        self.module = StridedConv1d(FILTERS, length, length)
        self.x = torch.randn(BATCH, frames * length)
        self.flops = 2 * BATCH * frames * length * FILTERS

    def time_forward(self, length, threads):
        self._forward()

    def time_forward_backward(self, length, threads):
        self._forward_backward()

    def time_conv1d_forward_backward(self, length, threads):
        layer = self.module
        out = F.conv1d(self.x[:, None], layer.weight[:, None], layer.bias, stride=length)
        out.backward(torch.ones_like(out))
        layer.zero_grad(set_to_none=True)


class MelConvLayer(_Convolution):
    params = (THREADS,)
    param_names = ("threads",)

    def setup(self, threads):
        use_threads(threads)
        torch.manual_seed(0)
        frames, length = round(3 * SR / 256), 8
        self.module = nn.Sequential(nn.Conv1d(128, FILTERS, length), nn.ReLU(), nn.MaxPool1d(4, ceil_mode=True))
        self.x = torch.randn(BATCH, 128, frames)
        self.flops = 2 * BATCH * (frames - length + 1) * FILTERS * 128 * length

    def time_forward(self, threads):
        self._forward()

    def time_forward_backward(self, threads):
        self._forward_backward()


BLOCKS = {"k2c2": ((2, 4), (2, 4)), "crnn": ((2, 2), (3, 3))}


class Conv2DBlocks(_Convolution):
    version = 2  # 2: freed memory kept for the next call (mirbench.run.allocator), as in a trial's process
    params = (list(BLOCKS), THREADS)
    param_names = ("network", "threads")
    width, bands, frames, batch = 32, 96, 1366, 2

    def setup(self, network, threads):
        keep_freed_memory()  # as a trial's process does: else each call faults its activations' pages in afresh
        use_threads(threads)
        torch.manual_seed(0)
        self.network = network
        pools = BLOCKS[network]
        w = self.width
        self.module = nn.Sequential(
            conv_block(nn.Conv2d(1, w, 3, padding=1), w, pools[0]), conv_block(nn.Conv2d(w, w, 3, padding=1), w, pools[1])
        )
        self.x = torch.randn(self.batch, 1, self.bands, self.frames)
        first = self.bands * self.frames * w * 9
        second = -(-self.bands // pools[0][0]) * -(-self.frames // pools[0][1]) * w * w * 9
        self.flops = 2 * self.batch * (first + second)
        self.second_flops = 2 * self.batch * second

    def _backward_flops(self) -> float:
        return self.flops + self.second_flops  # the second block's input (the first's output) needs a gradient

    def _convolutions(self):
        """Forward + backward of the two convolutions alone, the second on an input of its shape that needs a gradient."""
        first, second = self.module[0][0], self.module[1][0]
        if not hasattr(self, "pooled"):
            pools = BLOCKS[self.network]
            shape = (self.batch, self.width, -(-self.bands // pools[0][0]), -(-self.frames // pools[0][1]))
            self.pooled = torch.randn(shape, requires_grad=True)
        for conv, x in ((first, self.x), (second, self.pooled)):
            out = conv(x)
            out.backward(torch.ones_like(out))
        self.module.zero_grad(set_to_none=True)
        self.pooled.grad = None

    def track_convolutions_peak_ratio(self, network, threads):
        flops = self.flops + self._backward_flops()
        return gflops(flops, best_seconds(self._convolutions, repeats=10)) / matmul_peak(threads)

    track_convolutions_peak_ratio.unit = "of matmul peak"

    def track_traffic_bound_peak_ratio(self, network, threads):
        activation = torch.randn(self.batch, self.width, self.bands, self.frames)
        copy = torch.empty_like(activation)
        bandwidth = 2 * activation.nbytes / best_seconds(lambda: copy.copy_(activation), repeats=10)
        bytes_per_flop = TRAFFIC_PASSES * activation.nbytes / (self.flops + self._backward_flops())
        return 1 / (1 + bytes_per_flop * matmul_peak(threads) * 1e9 / bandwidth)

    track_traffic_bound_peak_ratio.unit = "of matmul peak"

    def time_forward(self, network, threads):
        self._forward()

    def time_forward_backward(self, network, threads):
        self._forward_backward()
