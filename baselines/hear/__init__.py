"""`hear`: evaluate any module implementing the HEAR 2021 API with a probe on its cached scene embeddings.

The module is imported when the system fits, never when this package is imported. See docs/systems/hear.md.
"""

from mirbench_baselines.hear.system import HEARSystem

__all__ = ["HEARSystem"]
