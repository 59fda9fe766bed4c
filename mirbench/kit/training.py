"""The one training loop learned systems share: epochs, early stopping on validation, best weights, timing.

`train(model, epoch_fn, valid_fn, ...)` is optimiser-agnostic: `epoch_fn(epoch)`
does one unit of training (an epoch of minibatch SGD, or one Hessian-free
iteration) and returns its mean training loss; `valid_fn()` returns the
validation criterion (lower is better). The loop stops after `patience` units
without improvement, at `max_epochs`, or when a time budget is spent; it then
restores the best weights and returns a `TrainRecord`. A non-finite training
loss or validation value is a RuntimeError naming the epoch.

`sgd_epoch` and `mean_loss` are the two helpers most systems need: one shuffled
minibatch pass with a torch optimiser, and a chunked loss over a fixed set.
Seeds: the caller seeds (`seeded`) model initialisation; shuffling draws from a
`torch.Generator` the caller owns, so a run is a function of its seed.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from mirbench.device import autocast

log = logging.getLogger("mirbench.kit.training")


@dataclass
class TrainRecord:
    """What happened in training; `asdict()` goes into a system's `training_info()`."""

    epochs: int  # units of training run (epochs, or optimiser iterations)
    best_epoch: int  # the one whose weights were kept (0: the initial weights)
    best_valid: float | None  # the criterion there (validation, else training loss)
    train_seconds: float
    stopped: str  # "patience" | "max_epochs" | "time_budget"
    initial: float | None = None  # the criterion of the initial weights (epoch 0; None without validation)
    history: list[dict] = field(default_factory=list)  # per epoch: epoch, train_loss, valid, seconds

    def asdict(self) -> dict:
        return asdict(self)


@contextmanager
def seeded(seed: int, device: str | torch.device = "cpu"):
    """Run a block under torch's global RNG seeded with `seed` (CPU, and CUDA when `device` is CUDA), then restore it."""
    device = torch.device(device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _check_finite(value: float, what: str, epoch: int) -> None:
    if not math.isfinite(value):
        raise RuntimeError(
            f"{what} is {value} at epoch {epoch}: training diverged "
            "(lower the learning rate, check the inputs are standardised, or raise the damping)"
        )


def train(
    model: torch.nn.Module,
    epoch_fn: Callable[[int], float],
    valid_fn: Callable[[], float] | None = None,
    *,
    max_epochs: int,
    patience: int | None = 10,
    min_delta: float = 0.0,
    time_budget_s: float | None = None,
    restore_best: bool = True,
    progress: Callable[[dict], None] | None = None,
) -> TrainRecord:
    """Call `epoch_fn(1..max_epochs)` with early stopping on `valid_fn` (lower is better).

    Without `valid_fn` the training loss is the criterion. `patience=None`
    disables early stopping (the best weights are still kept). The criterion of
    the initial weights is epoch 0, so a model that never improves is returned
    as it came. `progress` receives each epoch's history entry.
    """
    if max_epochs < 0:
        raise ValueError(f"max_epochs must be >= 0, got {max_epochs}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1 or None, got {patience}")
    start = time.perf_counter()
    history: list[dict] = []

    def criterion(epoch: int, train_loss: float | None) -> float | None:
        if valid_fn is None:
            return train_loss
        model.eval()
        with torch.no_grad():
            value = float(valid_fn())
        _check_finite(value, "the validation criterion", epoch)
        return value

    best = initial = criterion(0, None)
    best_epoch = 0
    best_state = _snapshot(model) if restore_best else None
    stopped = "max_epochs"
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss = float(epoch_fn(epoch))
        _check_finite(loss, "the training loss", epoch)
        value = criterion(epoch, loss)
        entry = {"epoch": epoch, "train_loss": loss, "valid": value if valid_fn else None, "seconds": time.perf_counter() - t0}
        history.append(entry)
        if progress is not None:
            progress(entry)
        log.debug("epoch %d: train loss %.5g, criterion %.5g", epoch, loss, value)
        if best is None or value < best - min_delta:
            best, best_epoch = value, epoch
            if restore_best:
                best_state = _snapshot(model)
        elif patience is not None and epoch - best_epoch >= patience:
            stopped = "patience"
            break
        if time_budget_s is not None and time.perf_counter() - start >= time_budget_s:
            stopped = "time_budget"
            break
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainRecord(
        epochs=epoch,
        best_epoch=best_epoch,
        best_valid=best,
        train_seconds=time.perf_counter() - start,
        stopped=stopped,
        initial=initial,
        history=history,
    )


def _snapshot(model: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def sgd_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator | None = None,
    precision: str = "fp32",
) -> float:
    """One pass over (X, y) in shuffled minibatches; the mean training loss (weighted by batch size).

    The permutation is drawn on the CPU from `generator`, so the order is the
    same on every device. The loss is summed on the device and read once at the
    end of the epoch (no per-batch synchronisation). `precision` "bf16" runs the
    forward pass and loss in bfloat16 autocast (`mirbench.device`).
    """
    n = len(X)
    if n == 0:
        raise ValueError("cannot train on an empty set")
    order = torch.randperm(n, generator=generator).to(X.device)
    total = torch.zeros((), device=X.device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        with autocast(X.device, precision):
            loss = loss_fn(model(X[idx]), y[idx])
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(idx)
    return float(total) / n


def mean_loss(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    chunk: int = 8192,
    precision: str = "fp32",
) -> float:
    """The mean of a mean-reduced `loss_fn` over (X, y), in chunks, without gradients (in `precision`)."""
    if len(X) == 0:
        raise ValueError("cannot evaluate a loss on an empty set")
    total = torch.zeros((), device=X.device)
    with torch.no_grad(), autocast(X.device, precision):
        for start in range(0, len(X), chunk):
            xb, yb = X[start : start + chunk], y[start : start + chunk]
            total += loss_fn(model(xb), yb).float() * len(xb)
    return float(total) / len(X)
