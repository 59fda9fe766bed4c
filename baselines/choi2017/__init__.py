"""Choi, Fazekas, Sandler & Cho (2017), "Convolutional recurrent neural networks for music classification".

The `choi2017.cnn` system: k1c2, k2c1, k2c2 or CRNN at a parameter budget.
Modules: `architectures` (the four networks), `budget` (width from a
parameter budget), `system` (the System class).
"""

from mirbench_baselines.choi2017.system import Choi2017CNN

__all__ = ["Choi2017CNN"]
