"""The raw-audio strided convolution of Dieleman & Schrauwen (2014): one GEMM over framed audio beside conv1d.

Minibatches of 10 windows of ~3 s at 16 kHz, 32 filters, forward and backward
(a training step's share), at every (length, stride) of the paper's Table 1.
"""

import time

import torch
import torch.nn.functional as F

from baselines.dieleman2014.layers import StridedConv1d

SR = 16000
GRID = ["1024/1024", "1024/512", "512/512", "512/256", "256/256"]


class StridedConvolution:
    params = (GRID,)
    param_names = ("length/stride",)
    version = 1

    def setup(self, grid):
        torch.set_num_threads(1)
        torch.manual_seed(0)
        length, stride = (int(v) for v in grid.split("/"))
        frames = round(3 * SR / stride)
        self.layer = StridedConv1d(32, length, stride)
        self.audio = torch.randn(10, (frames - 1) * stride + length)
        self.stride = stride

    def _step(self, forward):
        out = forward()
        out.square().mean().backward()
        self.layer.zero_grad(set_to_none=True)

    def time_gemm(self, grid):
        self._step(lambda: self.layer(self.audio))

    def time_conv1d(self, grid):
        self._step(lambda: F.conv1d(self.audio[:, None], self.layer.weight[:, None], self.layer.bias, stride=self.stride))

    def track_gemm_windows_per_second(self, grid):
        start, n = time.perf_counter(), 20
        for _ in range(n):
            self.time_gemm(grid)
        return n * len(self.audio) / (time.perf_counter() - start)

    track_gemm_windows_per_second.unit = "windows/s"
