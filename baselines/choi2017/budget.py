"""Solve a network's width from a parameter budget: the width whose exact parameter count is nearest the budget.

Parameter counts grow monotonically with the width, so a bisection over
integer widths finds the two that bracket the budget; the nearer one wins.
Networks are built on torch's "meta" device: no memory is allocated, so
solving for 3 million parameters costs milliseconds.
"""

from __future__ import annotations

import torch

from mirbench_baselines.choi2017.architectures import build
from mirbench.kit.nn import n_parameters

TOLERANCE = 0.05  # the comparison is fair when every network is within 5 % of its budget
MAX_WIDTH = 4096


def count(arch: str, bands: int, classes: int, width: int) -> int:
    """Exact number of learned parameters of `arch` at `width` (buffers such as BN statistics excluded)."""
    with torch.device("meta"):
        return n_parameters(build(arch, bands, classes, width))


def solve_width(arch: str, budget: int, bands: int, classes: int) -> tuple[int, int]:
    """(width, parameters): the widest layer's width whose network's parameter count is nearest `budget`.

    ValueError when no width comes within 5 % of it.
    """
    if budget < 1:
        raise ValueError(f"a parameter budget must be positive, got {budget}")
    low, high = 1, MAX_WIDTH
    if count(arch, bands, classes, high) < budget:
        raise ValueError(f"{arch} needs a width above {MAX_WIDTH} for {budget:,} parameters")
    while high - low > 1:  # invariant: count(low) < budget <= count(high), or low == 1
        mid = (low + high) // 2
        if count(arch, bands, classes, mid) < budget:
            low = mid
        else:
            high = mid
    width = min((low, high), key=lambda w: abs(count(arch, bands, classes, w) - budget))
    params = count(arch, bands, classes, width)
    if abs(params - budget) > TOLERANCE * budget:
        raise ValueError(
            f"{arch} at width {width} has {params:,} parameters, more than 5 % from the budget of {budget:,}; "
            f"a budget this small leaves no width close enough"
        )
    return width, params
