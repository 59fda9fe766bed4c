"""Preconditioned conjugate gradient on flat vectors, as Hessian-free optimisation needs it (Martens 2010 §4).

Minimises phi(x) = x^T A x / 2 - b^T x (i.e. solves A x = b) for a symmetric positive (semi-)definite A given only
as a product `Av`. Beyond the textbook method it keeps iterates at geometrically spaced iterations, so that the
caller can backtrack to an earlier one (§4.6: later iterates fit the quadratic better but may fit the true objective
worse), and it can stop on Martens' relative-progress criterion on phi (§4.4) rather than on the residual, which HF
would drive to zero long after the step stops improving.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch


class CGResult(NamedTuple):
    """What `conjugate_gradient` returns; `iterates[-1]` is always the final x."""

    iterates: list[torch.Tensor]  # saved iterates, oldest first, for backtracking
    iterations: int  # iterations run (= products with A, not counting the one for a non-zero x0)
    saved_at: list[int]  # the iteration of each saved iterate
    objectives: list[float]  # phi at each saved iterate
    stop: str  # "max_iters", "progress" (Martens' criterion), "residual", or "curvature" (p^T A p <= 0)


def conjugate_gradient(
    Av: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    x0: torch.Tensor | None = None,
    max_iters: int = 250,
    min_iters: int = 1,
    progress_tol: float | None = 5e-4,
    residual_tol: float = 1e-10,
    preconditioner: Callable[[torch.Tensor], torch.Tensor] | None = None,
    save_ratio: float | None = 1.3,
) -> CGResult:
    """Solve A x = b by (preconditioned) conjugate gradient from `x0` (zeros if None).

    Stops after `max_iters` iterations; when ||r|| <= residual_tol * ||b||; when a direction has no positive
    curvature; or, from iteration `min_iters` on and if `progress_tol` is not None, on Martens' criterion:
    i > k, phi_i < 0 and (phi_i - phi_{i-k}) / phi_i < k * progress_tol with k = max(10, 0.1 i).
    `preconditioner(r)` applies M^{-1} (M symmetric positive definite). Iterates are saved at iterations
    ceil(save_ratio^j) and at the end (only at the end if `save_ratio` is None). A warm start x0 with phi(x0) >= 0
    is no better than zero and is replaced by zero (this costs nothing: A x0 is needed for the residual anyway).
    """
    if max_iters < 1:
        raise ValueError(f"max_iters must be >= 1, got {max_iters}")
    if save_ratio is not None and save_ratio <= 1:
        raise ValueError(f"save_ratio must be > 1, got {save_ratio}")
    bnorm = torch.linalg.vector_norm(b).item()
    x = torch.zeros_like(b)
    r = b.clone()
    phi = 0.0
    if x0 is not None and bool(torch.any(x0 != 0)):
        r0 = b - Av(x0)
        phi0 = -0.5 * torch.dot(x0, b + r0).item()
        if phi0 < 0:
            x, r, phi = x0.clone(), r0, phi0
    checkpoints = _checkpoints(max_iters, save_ratio)
    history = [phi]  # phi after each iteration, history[0] at the start
    iterates, saved_at, objectives = [], [], []
    z = preconditioner(r) if preconditioner is not None else r
    p = z.clone()
    rz = torch.dot(r, z).item()
    stop, i = "max_iters", 0
    if torch.linalg.vector_norm(r).item() <= residual_tol * bnorm:
        stop = "residual"
    else:
        for i in range(1, max_iters + 1):
            Ap = Av(p)
            pAp = torch.dot(p, Ap).item()  # one host sync per iteration for the step, one for the tests below
            if not pAp > 0:
                stop, i = "curvature", i - 1
                break
            alpha = rz / pAp
            x.add_(p, alpha=alpha)
            r.sub_(Ap, alpha=alpha)
            z = preconditioner(r) if preconditioner is not None else r
            stats = [-0.5 * (torch.dot(x, b) + torch.dot(x, r)), torch.linalg.vector_norm(r), torch.dot(r, z)]
            phi, rnorm, rz_new = torch.stack(stats).tolist()
            history.append(phi)
            if i in checkpoints:
                iterates.append(x.clone())
                saved_at.append(i)
                objectives.append(phi)
            if rnorm <= residual_tol * bnorm:
                stop = "residual"
                break
            k = max(10, int(0.1 * i))
            if progress_tol is not None and i >= min_iters and i > k and phi < 0:
                if (phi - history[i - k]) / phi < k * progress_tol:
                    stop = "progress"
                    break
            p.mul_(rz_new / rz).add_(z)
            rz = rz_new
    if not saved_at or saved_at[-1] != i:
        iterates.append(x.clone())
        saved_at.append(i)
        objectives.append(phi)
    return CGResult(iterates, i, saved_at, objectives, stop)


def _checkpoints(max_iters: int, ratio: float | None) -> set[int]:
    if ratio is None:
        return set()
    out, j = set(), 0
    while (it := math.ceil(ratio**j)) <= max_iters:
        out.add(it)
        j += 1
    return out
