"""Optimisers for the reference systems: Hessian-free optimisation with exact Gauss-Newton products."""

from mirbench.kit.optim.cg import CGResult, conjugate_gradient
from mirbench.kit.optim.gauss_newton import GaussNewton, gauss_newton_product
from mirbench.kit.optim.hessian_free import CurvatureCycle, HessianFree

__all__ = ["HessianFree", "CurvatureCycle", "gauss_newton_product", "conjugate_gradient", "GaussNewton", "CGResult"]
