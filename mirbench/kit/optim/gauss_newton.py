"""Exact Gauss-Newton curvature-vector products G v = J^T H_L J v, never materialising a matrix.

For network outputs z = model(X) and a loss L(z, y) convex in z, the Gauss-Newton matrix is G = J^T H_L J with
J = dz/dtheta and H_L = d^2 L / dz^2 (Schraudolph 2002; Martens 2010 §4.2). G is positive semi-definite whatever the
network, which is why Hessian-free optimisation uses it in place of the Hessian. Each product is three cheap pieces:
J v (forward mode), H_L u in output space (double backward through the loss only), J^T w (a vector-Jacobian product).

Two implementations, both exact:

- `gauss_newton_product` is one-shot: a forward pass with dual numbers gives z and J v together, and one backward
  pass through the primal part of that graph gives J^T H_L J v. On the 513-500-500-500-10 sigmoid MLP with 5000
  frames it costs about 2.0 gradient evaluations on CPU, against 2.2-2.3 for torch.func's jvp + vjp (two forward
  passes) and 2.4-2.8 for the R-op trick done from scratch.
- `GaussNewton` is for many products at the same parameters (conjugate gradient): it runs the forward pass once and
  keeps the graph of J^T u (linear in a dummy u), so that each product is a double backward (J v, the "R-op
  trick") plus a backward (J^T) and no forward pass: about 1.3-1.5 gradient evaluations per product, the same as
  torch.func.linearize + vjp, without tracing the model.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.autograd.forward_ad as fwAD
from torch.func import functional_call

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def gauss_newton_product(
    model: torch.nn.Module,
    params: Sequence[torch.Tensor],
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    v: Sequence[torch.Tensor],
) -> list[torch.Tensor]:
    """G v = J^T H_L J v for the outputs z = model(X), one tensor per parameter in `params`.

    `params` are parameters of `model` (others stay fixed); `v` has their shapes. J v comes from forward-mode AD
    (dual tensors substituted with `torch.func.functional_call`), H_L from double backward of loss_fn in output
    space, J^T from one backward pass. `loss_fn(z, y)` must return the MEAN loss over the batch and be convex in z
    (softmax or sigmoid cross-entropy on logits, squared error); the model must be deterministic (no dropout).
    """
    params = list(params)
    names = parameter_names(model, params)
    with torch.enable_grad():
        with fwAD.dual_level():
            duals = {n: fwAD.make_dual(p, t.detach().to(p)) for n, p, t in zip(names, params, v)}
            z, jv = fwAD.unpack_dual(functional_call(model, duals, (X,)))
        if jv is None:  # the outputs do not depend on these parameters
            return [torch.zeros_like(p) for p in params]
        hjv = output_hessian(loss_fn, z.detach(), y)(jv)
        grads = torch.autograd.grad(z, params, hjv, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


class GaussNewton:
    """The Gauss-Newton operator at the current parameters, for repeated products (one forward pass in all).

    `batches` is one (X, y) pair or a list of them (a curvature set too large for one pass); the products are
    weighted by chunk size, so G is that of the mean loss over all of them. The parameters must not be modified
    in place while the operator is in use (autograd would refuse the stale graph).
    """

    def __init__(self, model: torch.nn.Module, params: Sequence[torch.Tensor], loss_fn: LossFn, batches):
        self.params = list(params)
        self.shapes = [p.shape for p in self.params]
        self.numels = [p.numel() for p in self.params]
        chunks = as_chunks(batches)
        total = sum(batch_size(X) for X, _ in chunks)
        self._chunks = []
        with torch.enable_grad():
            for X, y in chunks:
                z = model(X)
                u = torch.zeros_like(z, requires_grad=True)  # J^T u is linear in u: its graph gives J v
                jtu = torch.autograd.grad(z, self.params, u, create_graph=True, allow_unused=True)
                used = [i for i, g in enumerate(jtu) if g is not None and g.requires_grad]
                hess = output_hessian(loss_fn, z.detach(), y)
                self._chunks.append((z, u, [jtu[i] for i in used], used, hess, batch_size(X) / total))
        self.products = 0

    def __call__(self, v: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """G v with `v` and the result as lists of tensors shaped like the parameters."""
        out = None
        with torch.enable_grad():
            for z, u, jtu, used, hess, weight in self._chunks:
                if not used:
                    continue
                (jv,) = torch.autograd.grad(jtu, u, [v[i].detach() for i in used], retain_graph=True)
                grads = torch.autograd.grad(z, self.params, hess(jv), retain_graph=True, allow_unused=True)
                grads = [torch.zeros_like(p) if g is None else g for p, g in zip(self.params, grads)]
                if weight != 1.0:
                    grads = [g.mul_(weight) for g in grads]
                out = grads if out is None else [o.add_(g) for o, g in zip(out, grads)]
        self.products += 1
        return out if out is not None else [torch.zeros_like(p) for p in self.params]

    def flat(self, v: torch.Tensor) -> torch.Tensor:
        """G v for a flat vector (the parameters concatenated in order), as a flat vector."""
        parts = [t.view(s) for t, s in zip(torch.split(v, self.numels), self.shapes)]
        return torch.cat([g.reshape(-1) for g in self(parts)])


def output_hessian(loss_fn: LossFn, z: torch.Tensor, y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """u -> H_L u, the Hessian of loss_fn(z, y) w.r.t. the outputs z applied to u (double backward, output space)."""
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        (gz,) = torch.autograd.grad(loss_fn(z, y), z, create_graph=True)
    if not gz.requires_grad:  # a loss linear in z has no curvature
        return lambda u: torch.zeros_like(u)

    def apply(u: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            return torch.autograd.grad(gz, z, u, retain_graph=True)[0]

    return apply


def as_chunks(batches) -> list:
    """One (X, y) pair (tuple or list of two tensors), or any iterable of pairs, as a list of pairs."""
    if isinstance(batches, (tuple, list)) and len(batches) == 2 and all(isinstance(t, torch.Tensor) for t in batches):
        return [tuple(batches)]
    chunks = list(batches)
    if not chunks:
        raise ValueError("no data: expected an (X, y) pair or a non-empty iterable of them")
    return chunks


def batch_size(X) -> int:
    return X.shape[0] if isinstance(X, torch.Tensor) else len(X)


def parameter_names(model: torch.nn.Module, params: Sequence[torch.Tensor]) -> list[str]:
    by_id = {id(p): name for name, p in model.named_parameters()}
    missing = [i for i, p in enumerate(params) if id(p) not in by_id]
    if missing:
        raise ValueError(f"params {missing} are not parameters of the model")
    return [by_id[id(p)] for p in params]
