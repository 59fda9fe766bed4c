"""The network of Sigtia & Dixon (2014) and its three training regimes.

A 3-hidden-layer MLP on standardised |FFT| frames (the standardisation is part
of the model, as buffers, so a stored model carries its training statistics):

- ``relu-sgd``: ReLU hidden units, softmax output, plain SGD (lr 0.01, no
  schedule, no momentum), early stopping on the validation loss, patience 10;
- ``relu-sgd-dropout``: the same with dropout 0.25 after every hidden layer
  (none on the input);
- ``sigmoid-hf``: sigmoid hidden units and sigmoid output units trained with
  Hessian-free optimisation (`mirbench.kit.optim.HessianFree`): gradient on all
  training frames, Gauss-Newton curvature on a 25 % chunk, initial damping 10,
  at most 250 CG iterations per step and 200 steps; by default with the
  details of Martens' code (`hf_martens`): the four 25 % chunks in turn,
  his diagonal preconditioner, rho from the undamped model on the chunk and
  an L2 weight cost of 2e-5.

Losses are mean over frames of a per-frame loss summed over outputs: softmax
cross-entropy for single-label SGD; for sigmoid outputs (HF, and every regime
on multi-label data) the logistic loss summed over classes against one-hot (or
tag) targets, the matching loss of a logistic output that Martens (2010) uses,
so the Gauss-Newton matrix is positive semi-definite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mirbench.kit import training

REGIMES = ("relu-sgd", "relu-sgd-dropout", "sigmoid-hf")
SPARSE_CONNECTIONS = 15  # Martens (2010): each unit gets 15 non-zero incoming weights drawn from N(0, 1)


class FrameMLP(nn.Module):
    """Standardise -> 3 x (Linear, activation, dropout) -> Linear logits."""

    def __init__(self, n_in: int, units: int, n_out: int, activation: str = "relu", dropout: float = 0.0, depth: int = 3):
        super().__init__()
        if activation not in ("relu", "sigmoid"):
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("scale", torch.ones(n_in))
        sizes = [n_in] + [units] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(units, n_out)
        self.act = nn.ReLU() if activation == "relu" else nn.Sigmoid()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations of every hidden layer (before dropout: what the features are)."""
        h = (x - self.mean) / self.scale
        out = []
        for i, lin in enumerate(self.hidden):
            a = self.act(lin(h if i == 0 else self.drop(h)))
            out.append(a)
            h = a
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.layers(x)[-1]))


def glorot_init(model: FrameMLP) -> None:
    """Glorot & Bengio (2010) uniform weights, zero biases (Theano-era default; the paper does not say)."""
    for lin in list(model.hidden) + [model.out]:
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)


def sparse_init(model: FrameMLP, connections: int = SPARSE_CONNECTIONS) -> None:
    """Martens (2010)'s sparse initialisation: per unit `connections` incoming weights ~ N(0, 1), the rest 0; zero biases."""
    with torch.no_grad():
        for lin in list(model.hidden) + [model.out]:
            n_out, n_in = lin.weight.shape
            w = torch.zeros(n_out, n_in)
            k = min(connections, n_in)
            for row in range(n_out):
                w[row, torch.randperm(n_in)[:k]] = torch.randn(k)
            lin.weight.copy_(w)
            lin.bias.zero_()


def build(regime: str, n_in: int, units: int, n_out: int, dropout: float) -> FrameMLP:
    """The network of a regime, initialised from torch's global RNG (seed it first)."""
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    if regime == "sigmoid-hf":
        model = FrameMLP(n_in, units, n_out, "sigmoid", 0.0)
        sparse_init(model)
    else:
        model = FrameMLP(n_in, units, n_out, "relu", dropout if regime == "relu-sgd-dropout" else 0.0)
        glorot_init(model)
    return model


def loss_function(regime: str, multilabel: bool, hf_output: str = "sigmoid"):
    """loss(z, y) -> mean over frames, convex in the logits z; y are class indices or 0/1 rows."""
    sigmoid = multilabel or (regime == "sigmoid-hf" and hf_output == "sigmoid")
    if not sigmoid:
        return F.cross_entropy

    def logistic(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(z, y, reduction="sum") / len(z)

    return logistic


def targets(y: np.ndarray, n_classes: int, regime: str, multilabel: bool, hf_output: str, device) -> torch.Tensor:
    """Targets in the form the regime's loss wants: long indices, or float one-hot/tag rows."""
    if multilabel:
        return torch.as_tensor(np.asarray(y, dtype=np.float32), device=device)
    y = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    if regime == "sigmoid-hf" and hf_output == "sigmoid":
        return F.one_hot(y, n_classes).to(torch.float32)
    return y


@dataclass(frozen=True)
class Settings:
    """Everything (but the data and the seed) that determines a trained network."""

    regime: str
    units: int
    learning_rate: float = 0.01
    batch_size: int = 100
    dropout: float = 0.25
    max_epochs: int = 500
    patience: int = 10
    hf_steps: int = 200
    cg_iters: int = 250
    damping: float = 10.0
    curvature_fraction: float = 0.25
    hf_output: str = "sigmoid"
    hf_preconditioner: bool = True
    hf_curvature: str = "cycle"
    hf_rho: str = "martens"
    hf_weight_cost: float = 2e-5
    time_budget_s: float | None = None


HF_CURVATURE = ("cycle", "fixed")
HF_RHO = ("martens", "damped")


def trained_precision(regime: str, precision: str) -> str:
    """What a regime trains in: Hessian-free's curvature products and CG need float32, the others take `precision`."""
    return "fp32" if regime == "sigmoid-hf" else precision


def fit_network(
    settings: Settings,
    X: torch.Tensor,
    y: torch.Tensor,
    Xv: torch.Tensor | None,
    yv: torch.Tensor | None,
    n_out: int,
    multilabel: bool,
    mean: torch.Tensor,
    scale: torch.Tensor,
    seed: int,
    precision: str = "fp32",
) -> tuple[FrameMLP, dict]:
    """Build and train the network on frames X (already on the device); returns it and a JSON-able info dict.

    SGD and dropout train in `precision`; Hessian-free always in float32 (`trained_precision`)."""
    device = X.device
    with training.seeded(seed, device):
        model = build(settings.regime, X.shape[1], settings.units, n_out, settings.dropout)
    model.mean.copy_(mean)
    model.scale.copy_(scale)
    model.to(device)
    loss_fn = loss_function(settings.regime, multilabel, settings.hf_output)
    precision = trained_precision(settings.regime, precision)
    valid_fn = None if Xv is None or len(Xv) == 0 else (lambda: training.mean_loss(model, loss_fn, Xv, yv, precision=precision))
    generator = torch.Generator().manual_seed(seed)
    info: dict = {"regime": settings.regime, "precision": precision}
    if settings.regime == "sigmoid-hf":
        epoch_fn, counters = _hf_steps(model, loss_fn, X, y, settings, generator)
        max_units = settings.hf_steps
    else:
        opt = torch.optim.SGD(model.parameters(), lr=settings.learning_rate)

        def epoch_fn(epoch: int) -> float:
            return training.sgd_epoch(model, opt, loss_fn, X, y, settings.batch_size, generator, precision=precision)

        counters = None
        max_units = settings.max_epochs
    with training.seeded(seed + 1, device):  # dropout masks
        record = training.train(
            model,
            epoch_fn,
            valid_fn,
            max_epochs=max_units,
            patience=settings.patience,
            time_budget_s=settings.time_budget_s,
        )
    info.update(
        mlp_train_s=record.train_seconds,
        best_epoch=record.best_epoch,
        best_valid=record.best_valid,
        initial_valid=record.initial,
        stopped=record.stopped,
        frames=int(len(X)),
        history=record.history,
    )
    if counters is None:
        info["epochs"] = record.epochs
    else:
        info.update(hf_steps=record.epochs, cg_iterations=counters["cg_iterations"], damping=counters["damping"])
    return model, info


def _hf_steps(model, loss_fn, X, y, settings: Settings, generator):
    """An epoch function doing one Hessian-free iteration, and the counters it keeps."""
    from mirbench.kit.optim import CurvatureCycle, HessianFree

    opt = HessianFree(
        model.parameters(),
        damping=settings.damping,
        max_cg_iters=settings.cg_iters,
        min_cg_iters=min(10, settings.cg_iters),  # the optimiser's default, capped: cg_iters < 10 was refused
        preconditioner="martens" if settings.hf_preconditioner else None,
        rho=settings.hf_rho,
        weight_cost=settings.hf_weight_cost,
    )
    chunk = 8192
    grad_batches = [(X[s : s + chunk], y[s : s + chunk]) for s in range(0, len(X), chunk)]
    order = torch.randperm(len(X), generator=generator)
    if settings.hf_curvature == "cycle":  # Martens: numchunks chunks of a permutation, one per step in turn
        n_chunks = min(len(X), max(1, round(1 / settings.curvature_fraction)))
        picks = [p.sort().values.to(X.device) for p in torch.tensor_split(order, n_chunks)]
        curvature_batch = CurvatureCycle([(X[p], y[p]) for p in picks])
    else:  # one subset drawn once, fixed for the whole run
        pick = order[: max(1, math.ceil(settings.curvature_fraction * len(X)))].sort().values.to(X.device)
        curvature_batch = (X[pick], y[pick])
    counters = {"cg_iterations": 0, "damping": settings.damping}

    def epoch_fn(step: int) -> float:
        out = opt.step(model, loss_fn, grad_batches, curvature_batch)
        counters["cg_iterations"] += int(out.get("cg_iterations", 0))
        counters["damping"] = float(out.get("damping", counters["damping"]))
        return float(out.get("loss_after", out.get("loss_before")))

    return epoch_fn, counters
