"""Sigtia & Dixon (2014), "Improved music feature learning with deep neural networks": the `sigtia2014.mlp` system.

Modules: `mlp` (the network and its three training regimes), `features`
(frame sampling, hidden activations, windows), `transfer` (pre-training on
another dataset, Table 2), `system` (the System class).
"""

from mirbench_baselines.sigtia2014.system import Sigtia2014MLP

__all__ = ["Sigtia2014MLP"]
