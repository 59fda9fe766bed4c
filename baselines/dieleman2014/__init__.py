"""Dieleman & Schrauwen (2014), "End-to-end learning for music audio": the `dieleman2014.cnn` system.

Modules: `layers` (the strided convolution, compression nonlinearities,
feature pooling), `model` (the network), `system` (the System class, on
`mirbench.kit.window_network.WindowedNetwork`).
"""

from mirbench_baselines.dieleman2014.system import Dieleman2014CNN

__all__ = ["Dieleman2014CNN"]
