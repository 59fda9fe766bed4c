"""Hessian-free optimisation (Martens 2010; Martens & Sutskever 2011), as Sigtia & Dixon (2014) train sigmoid MLPs.

Each step minimises the local quadratic model M(d) = f + g^T d + d^T (G + lambda I) d / 2 by conjugate gradient,
with g the gradient over ALL the training data and G the Gauss-Newton matrix on a fixed curvature subset (25 % in
the paper), then:

1. CG starts from the previous step's final CG solution times `cg_decay` (Martens 2010 §4.5, with the decay of
   Martens & Sutskever 2011);
2. CG backtracking (Martens 2010 §4.6): of the iterates kept at geometrically spaced iterations, take the last one
   and walk back while the true loss keeps decreasing;
3. the Levenberg-Marquardt rule adapts lambda from the reduction ratio rho = (f(theta + d) - f(theta)) / (q(d) - q(0)),
   with q the damped quadratic model that CG minimised, as in Martens' reference code;
4. an Armijo backtracking line search scales the chosen step (Martens & Sutskever 2012).

The caller owns the loop (Sigtia & Dixon cap it at 200 steps), the data chunks and the device (all tensors follow
the parameters'). This is not a `torch.optim.Optimizer`: a step needs the model, the loss and two data sets, not a
closure. The model must be deterministic while it is optimised (eval mode, or no dropout).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch.func import functional_call, grad, vmap

from mirbench.kit.optim.cg import conjugate_gradient
from mirbench.kit.optim.gauss_newton import GaussNewton, LossFn, as_chunks, batch_size, parameter_names

PRECONDITIONERS = (None, "martens")


class HessianFree:
    """Hessian-free optimiser over `params`; `step()` performs one HF iteration. The state lives in the object:
    `damping` (lambda), `previous_solution` (last CG solution, flat), `steps_taken`; see `state_dict()`.

    Parameters follow Martens (2010) and the paper: `damping` is the initial lambda (10 in Sigtia & Dixon),
    adjusted by `damping_up` / `damping_down` when rho < 1/4 / rho > 3/4; CG runs at most `max_cg_iters` (250) and,
    unless `cg_progress_tol` is None, stops on Martens' relative-progress criterion after `min_cg_iters`;
    `backtracking` and `line_search` switch steps 2 and 4 off (then the last CG iterate, at full length, is taken).
    `line_search_c` (Armijo constant), `line_search_shrink` and `max_line_search` set the line search; if no
    scale satisfies the Armijo condition the parameters stay where they were. `preconditioner="martens"` uses
    Martens' diagonal preconditioner (diag(mean_i grad_i^2) + lambda)^0.75 from per-example gradients on the
    curvature batch (costs about one pass of per-example gradients per step; needs a vmap-able model).
    """

    def __init__(
        self,
        params,
        damping: float = 10.0,
        max_cg_iters: int = 250,
        cg_decay: float = 0.95,
        min_cg_iters: int = 10,
        backtracking: bool = True,
        line_search: bool = True,
        damping_up: float = 3 / 2,
        damping_down: float = 2 / 3,
        cg_progress_tol: float | None = 5e-4,
        cg_save_ratio: float = 1.3,
        line_search_c: float = 1e-2,
        line_search_shrink: float = 0.8,
        max_line_search: int = 60,
        preconditioner: str | None = None,
    ):
        self.params = list(params)
        if not self.params:
            raise ValueError("HessianFree got no parameters")
        if len({p.dtype for p in self.params}) > 1 or len({p.device for p in self.params}) > 1:
            raise ValueError("all parameters must share one dtype and one device")
        checks = {
            "damping >= 0": damping >= 0,
            "max_cg_iters >= 1": max_cg_iters >= 1,
            "0 <= min_cg_iters <= max_cg_iters": 0 <= min_cg_iters <= max_cg_iters,
            "0 <= cg_decay <= 1": 0 <= cg_decay <= 1,
            "damping_up >= 1": damping_up >= 1,
            "0 < damping_down <= 1": 0 < damping_down <= 1,
            "cg_save_ratio > 1": cg_save_ratio > 1,
            "0 < line_search_shrink < 1": 0 < line_search_shrink < 1,
            "0 < line_search_c < 1": 0 < line_search_c < 1,
            "max_line_search >= 0": max_line_search >= 0,
        }
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"invalid HessianFree settings: need {', '.join(failed)}")
        if preconditioner not in PRECONDITIONERS:
            raise ValueError(f"unknown preconditioner {preconditioner!r}; choose from {PRECONDITIONERS}")
        self.damping = float(damping)
        self.max_cg_iters, self.min_cg_iters, self.cg_decay = max_cg_iters, min_cg_iters, cg_decay
        self.backtracking, self.line_search = backtracking, line_search
        self.damping_up, self.damping_down = damping_up, damping_down
        self.cg_progress_tol, self.cg_save_ratio = cg_progress_tol, cg_save_ratio
        self.line_search_c, self.line_search_shrink = line_search_c, line_search_shrink
        self.max_line_search = max_line_search
        self.preconditioner = preconditioner
        self.previous_solution: torch.Tensor | None = None
        self.steps_taken = 0

    def update_damping(self, rho: float) -> float:
        """Levenberg-Marquardt: lambda *= damping_up if rho < 1/4, *= damping_down if rho > 3/4; NaN (no step was
        predicted to help, e.g. a zero gradient) leaves it. Returns the new lambda."""
        if rho < 0.25:  # also -inf, for a step to a non-finite loss
            self.damping *= self.damping_up
        elif rho > 0.75:
            self.damping *= self.damping_down
        return self.damping

    def step(self, model: torch.nn.Module, loss_fn: LossFn, grad_batches, curvature_batch) -> dict:
        """One HF iteration; updates the parameters in place.

        `grad_batches`: an (X, y) pair or an iterable of them covering all the training data (the gradient and
        every loss used for backtracking, rho and the line search are size-weighted means over all chunks; a
        one-shot iterator is read into a list once). `curvature_batch`: the (X, y) subset (or list of chunks) for
        Gauss-Newton products; pass the same one every step. `loss_fn(z, y)` returns the mean loss of a chunk and is
        convex in z. Returns step (= steps_taken), loss_before, loss_after (full-data losses), rho, damping (after
        the update), cg_iterations, cg_stop, cg_chosen_iteration (after backtracking), step_scale (line search; 0
        means no acceptable step was found), gn_products and loss_evaluations (full-data forward passes after the
        gradient). A non-finite loss counts as +inf. If anything raises, the parameters and state are restored.
        """
        chunks = as_chunks(grad_batches)
        flat0 = torch.cat([p.detach().reshape(-1) for p in self.params])
        loss0, g = self._loss_and_gradient(model, loss_fn, chunks)
        evaluations = 0

        def loss_at(d: torch.Tensor) -> float:
            nonlocal evaluations
            evaluations += 1
            self._assign(flat0 + d)
            value = self._loss(model, loss_fn, chunks)
            return value if math.isfinite(value) else math.inf

        state = self.state_dict()
        try:
            info = self._step(model, loss_fn, curvature_batch, flat0, loss0, g, loss_at)
        except BaseException:
            self._assign(flat0)
            self.load_state_dict(state)
            raise
        info["loss_evaluations"] = evaluations
        return info

    def _step(self, model, loss_fn, curvature_batch, flat0, loss0, g, loss_at) -> dict:
        """CG on the damped model, backtracking, the damping update and the line search (see the module docstring)."""
        lam = self.damping
        gn = GaussNewton(model, self.params, loss_fn, curvature_batch)
        precondition = None
        if self.preconditioner == "martens":
            diag = (self._fisher_diagonal(model, loss_fn, as_chunks(curvature_batch)) + lam) ** 0.75
            precondition = diag.reciprocal().mul
        x0 = None if self.previous_solution is None else self.cg_decay * self.previous_solution
        cg = conjugate_gradient(
            lambda v: gn.flat(v) + lam * v,
            -g,
            x0,
            self.max_cg_iters,
            min_iters=self.min_cg_iters,
            progress_tol=self.cg_progress_tol,
            preconditioner=precondition,
            save_ratio=self.cg_save_ratio,
        )
        products = gn.products
        del gn  # frees the curvature graph before the parameters change
        self.previous_solution = cg.iterates[-1]

        chosen = len(cg.iterates) - 1
        loss_chosen = loss_at(cg.iterates[chosen])
        while self.backtracking and chosen > 0:
            candidate = loss_at(cg.iterates[chosen - 1])
            if not candidate < loss_chosen:
                break
            chosen, loss_chosen = chosen - 1, candidate
        d = cg.iterates[chosen]

        predicted = cg.objectives[chosen]  # q(d) - q(0) = g^T d + d^T (G + lambda I) d / 2, CG's own objective
        if not math.isfinite(loss_chosen):
            rho = -math.inf
        elif predicted < 0:
            rho = (loss_chosen - loss0) / predicted
        else:
            rho = math.nan
        self.update_damping(rho)

        scale, loss1 = 1.0, loss_chosen
        if self.line_search:
            slope = torch.dot(g, d).item()
            tries = 0
            while not loss1 <= loss0 + self.line_search_c * scale * slope:
                if tries == self.max_line_search:
                    scale, loss1 = 0.0, loss0
                    break
                tries += 1
                scale *= self.line_search_shrink
                loss1 = loss_at(scale * d)
        self._assign(flat0 + scale * d)
        self.steps_taken += 1
        return {
            "step": self.steps_taken,
            "loss_before": loss0,
            "loss_after": loss1,
            "rho": rho,
            "damping": self.damping,
            "cg_iterations": cg.iterations,
            "cg_stop": cg.stop,
            "cg_chosen_iteration": cg.saved_at[chosen],
            "step_scale": scale,
            "gn_products": products,
        }

    def state_dict(self) -> dict:
        """What a resumed run needs: damping, steps_taken and the previous CG solution (a flat tensor or None)."""
        return {"damping": self.damping, "steps_taken": self.steps_taken, "previous_solution": self.previous_solution}

    def load_state_dict(self, state: dict) -> None:
        self.damping = float(state["damping"])
        self.steps_taken = int(state["steps_taken"])
        prev = state["previous_solution"]
        p0 = self.params[0]
        self.previous_solution = None if prev is None else prev.to(device=p0.device, dtype=p0.dtype)

    # -- helpers ---------------------------------------------------------------------------------------------

    def _loss_and_gradient(self, model, loss_fn, chunks) -> tuple[float, torch.Tensor]:
        total, loss = 0, 0.0
        grads = [torch.zeros_like(p) for p in self.params]
        with torch.enable_grad():
            for X, y in chunks:
                n = batch_size(X)
                value = loss_fn(model(X), y)
                for acc, gr in zip(grads, torch.autograd.grad(value, self.params, allow_unused=True)):
                    if gr is not None:
                        acc.add_(gr, alpha=n)
                loss = loss + n * value.detach()
                total += n
        return float(loss) / total, torch.cat([gr.reshape(-1) for gr in grads]) / total

    def _loss(self, model, loss_fn, chunks) -> float:
        total, loss = 0, 0.0
        with torch.no_grad():
            for X, y in chunks:
                n = batch_size(X)
                loss = loss + n * loss_fn(model(X), y)
                total += n
        return float(loss) / total

    def _assign(self, flat: torch.Tensor) -> None:
        with torch.no_grad():
            offset = 0
            for p in self.params:
                p.copy_(flat[offset : offset + p.numel()].view_as(p))
                offset += p.numel()

    def _fisher_diagonal(self, model, loss_fn, chunks, per_pass: int = 64) -> torch.Tensor:
        """mean_i (d loss_i / d theta)^2 over the examples of `chunks` (per-example gradients by torch.func.vmap)."""
        names = parameter_names(model, self.params)
        detached = [p.detach() for p in self.params]

        def example_loss(ps: Sequence[torch.Tensor], x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            z = functional_call(model, dict(zip(names, ps)), (x.unsqueeze(0),))
            return loss_fn(z, t.unsqueeze(0))

        per_example: Callable = vmap(grad(example_loss), in_dims=(None, 0, 0))
        acc = [torch.zeros_like(p) for p in detached]
        total = 0
        for X, y in chunks:
            for s in range(0, batch_size(X), per_pass):
                for a, gr in zip(acc, per_example(detached, X[s : s + per_pass], y[s : s + per_pass])):
                    a.add_(gr.square().sum(0))
            total += batch_size(X)
        return torch.cat([a.reshape(-1) for a in acc]) / total
