"""Hessian-free optimisation kernels on Sigtia & Dixon's network: a 513-500-500-500-10 sigmoid MLP, 5000 frames.

One gradient (forward + backward of the mean cross-entropy); building the
Gauss-Newton operator (one forward pass whose graph later products reuse);
one Gauss-Newton-vector product G v; one conjugate-gradient iteration on the
damped system (a product and a few vector operations: the stopping test
comes from the residual, not from extra products); and one whole HF step
(10 CG iterations, backtracking, line search), without and with Martens'
diagonal preconditioner (`preconditioner` = "none" / "martens": the latter
adds per-example squared gradients on the curvature batch).
Target: a G v product costs at most 1.5 gradient evaluations on the same batch.

`BackPACKPeer` puts BackPACK's `ggn_vector_product` (R-op, output Hessian, L-op on a retained graph) beside
mirbench's reused operator, each in gradients, timed in turn; it skips where BackPACK is not installed
(`pip install -e .[bench]`).
"""

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.machine import THREADS, best_seconds, gflops, interleaved_best_seconds, matmul_peak, use_threads
from mirbench.kit.optim import HessianFree
from mirbench.kit.optim.cg import conjugate_gradient
from mirbench.kit.optim.gauss_newton import GaussNewton

SIZES, FRAMES, DAMPING = (513, 500, 500, 500, 10), 5000, 10.0


def sigmoid_mlp() -> nn.Sequential:
    layers = []
    for a, b in zip(SIZES[:-2], SIZES[1:-1]):
        layers += [nn.Linear(a, b), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(SIZES[-2], SIZES[-1]))


class _Problem:
    """The seeded network, batch, Gauss-Newton operator and vector v that both benchmark classes time."""

    def _build(self, threads):
        use_threads(threads)
        torch.manual_seed(0)
        self.model = sigmoid_mlp()
        self.params_ = list(self.model.parameters())
        self.X = torch.randn(FRAMES, SIZES[0])
        self.y = torch.randint(SIZES[-1], (FRAMES,))
        self.gn = GaussNewton(self.model, self.params_, F.cross_entropy, (self.X, self.y))
        self.v = [torch.randn_like(p) for p in self.params_]

    def _gradient(self):
        return torch.autograd.grad(F.cross_entropy(self.model(self.X), self.y), self.params_)


class HessianFreeKernels(_Problem):
    params = (THREADS, ("none", "martens"))
    param_names = ("threads", "preconditioner")
    version = 2  # 2: the preconditioner parameter (issue #19)
    timeout = 600

    def setup(self, threads, preconditioner):
        self._build(threads)
        self.flat_v = torch.cat([t.reshape(-1) for t in self.v])

    def _product(self):
        return self.gn(self.v)

    def time_gradient(self, threads, preconditioner):
        self._gradient()

    def time_gauss_newton_build(self, threads, preconditioner):
        GaussNewton(self.model, self.params_, F.cross_entropy, (self.X, self.y))

    def time_gauss_newton_product(self, threads, preconditioner):
        self._product()

    def time_cg_iteration(self, threads, preconditioner):
        conjugate_gradient(lambda v: self.gn.flat(v) + DAMPING * v, self.flat_v, max_iters=1, progress_tol=None)

    def time_hf_step(self, threads, preconditioner):
        model = sigmoid_mlp()
        model.load_state_dict(self.model.state_dict())
        optimiser = HessianFree(
            model.parameters(),
            damping=DAMPING,
            max_cg_iters=10,
            min_cg_iters=10,
            preconditioner=None if preconditioner == "none" else preconditioner,
        )
        optimiser.step(model, F.cross_entropy, (self.X, self.y), (self.X, self.y))

    def track_product_over_gradient(self, threads, preconditioner):
        return best_seconds(self._product) / best_seconds(self._gradient)

    track_product_over_gradient.unit = "gradients"

    def track_gradient_gflops(self, threads, preconditioner):
        weights = sum(a * b for a, b in zip(SIZES, SIZES[1:]))
        flops = 2 * FRAMES * (3 * weights - SIZES[0] * SIZES[1])  # forward, weight gradients, input gradients but the data's
        return gflops(flops, best_seconds(self._gradient))

    track_gradient_gflops.unit = "GFLOP/s"

    def track_gradient_peak_ratio(self, threads, preconditioner):
        return self.track_gradient_gflops(threads, preconditioner) / matmul_peak(threads)

    track_gradient_peak_ratio.unit = "of matmul peak"


class BackPACKPeer(_Problem):
    """G v products in gradient evaluations: mirbench's `GaussNewton` beside BackPACK's `ggn_vector_product`."""

    params = (THREADS,)
    param_names = ("threads",)
    version = 1

    def setup(self, threads):
        try:
            from backpack.hessianfree.ggnvp import ggn_vector_product
        except ImportError:
            raise NotImplementedError("BackPACK is not installed (pip install -e .[bench])")
        self._build(threads)
        self.output = self.model(self.X)  # BackPACK's product reuses this graph, as ours reuses its build
        self.loss = F.cross_entropy(self.output, self.y)
        self.ggn_vector_product = ggn_vector_product

    def _costs(self):
        gradient, ours, peer = interleaved_best_seconds(
            [self._gradient, lambda: self.gn(self.v), lambda: self.ggn_vector_product(self.loss, self.output, self.model, self.v)],
            rounds=3, calls=3,
        )  # fmt: skip
        return ours / gradient, peer / gradient

    def track_mirbench_product_over_gradient(self, threads):
        return self._costs()[0]

    track_mirbench_product_over_gradient.unit = "gradients"

    def track_backpack_product_over_gradient(self, threads):
        return self._costs()[1]

    track_backpack_product_over_gradient.unit = "gradients"
