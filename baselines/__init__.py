"""The reference systems: hand-crafted baselines and the reproduced papers' models."""
