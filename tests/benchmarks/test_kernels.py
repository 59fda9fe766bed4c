"""The asv kernels (benchmarks/) at small sizes, for a quick local comparison between two checkouts:

    pytest tests/benchmarks --benchmark-only --benchmark-autosave
    pytest tests/benchmarks --benchmark-only --benchmark-compare      # against the last saved run

Each benchmark also checks its kernel's result, so a fast wrong kernel fails.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from torch import nn

from mirbench_baselines.choi2017.architectures import conv_block
from mirbench_baselines.dieleman2014.layers import StridedConv1d
from mirbench.audio import load_audio
from mirbench.frontends import MFCC, LogMel, STFTMagnitude
from mirbench.kit.optim import HessianFree
from mirbench.kit.optim.gauss_newton import GaussNewton

SR = 22050
FRONTENDS = {"stft": STFTMagnitude, "logmel": LogMel, "mfcc": MFCC}


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("name", list(FRONTENDS))
def test_frontend(benchmark, name, batch):
    audio = torch.from_numpy(np.random.default_rng(0).standard_normal((batch, 3 * SR)).astype(np.float32))
    frontend = FRONTENDS[name]()
    with torch.inference_mode():
        out = benchmark(frontend, audio)
    assert out.shape == (batch, frontend.n_frames(3 * SR), frontend.n_dims)


def test_decode_and_resample_wav(benchmark, tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, np.random.default_rng(0).standard_normal((3 * 44100, 2)).astype(np.float32) * 0.1, 44100)
    assert benchmark(load_audio, path, SR).shape == (3 * SR,)


def training_step(module: nn.Module, x: torch.Tensor):
    def step():
        out = module(x)
        out.backward(torch.ones_like(out))
        module.zero_grad(set_to_none=True)
        return out

    return step


def test_strided_frontend_forward_backward(benchmark):
    layer = StridedConv1d(32, 256, 256)
    out = benchmark(training_step(layer, torch.randn(4, 256 * 62)))
    assert out.shape == (4, 32, 62)


def test_mel_conv_layer_forward_backward(benchmark):
    layer = nn.Sequential(nn.Conv1d(128, 32, 8), nn.ReLU(), nn.MaxPool1d(4, ceil_mode=True))
    assert benchmark(training_step(layer, torch.randn(4, 128, 187))).shape == (4, 32, 45)


def test_conv2d_block_forward_backward(benchmark):
    block = conv_block(nn.Conv2d(1, 16, 3, padding=1), 16, (2, 4))
    assert benchmark(training_step(block, torch.randn(2, 1, 96, 256))).shape == (2, 16, 48, 64)


def small_mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 32), nn.Sigmoid(), nn.Linear(32, 10))
    return model, torch.randn(512, 64), torch.randint(10, (512,))


def test_gradient(benchmark):
    model, X, y = small_mlp()
    grads = benchmark(lambda: torch.autograd.grad(F.cross_entropy(model(X), y), list(model.parameters())))
    assert len(grads) == 6


def test_gauss_newton_product(benchmark):
    model, X, y = small_mlp()
    params = list(model.parameters())
    operator = GaussNewton(model, params, F.cross_entropy, (X, y))
    v = [torch.randn_like(p) for p in params]
    product = benchmark(operator, v)
    assert sum(float((a * b).sum()) for a, b in zip(v, product)) >= 0  # G is positive semi-definite


def test_hessian_free_step(benchmark):
    model, X, y = small_mlp()
    optimiser = HessianFree(model.parameters(), damping=10.0, max_cg_iters=10)
    info = benchmark(optimiser.step, model, F.cross_entropy, (X, y), (X, y))
    assert info["loss_after"] <= info["loss_before"]
