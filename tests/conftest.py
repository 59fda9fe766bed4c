"""Shared fixtures: every test gets its own cache, and suites on the synthetic dataset are one call away."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

SMOKE_SUITE = """
version = "1"
seeds = [0]
metrics = ["accuracy", "normalised_accuracy", "roc_auc_macro"]

[dataset]
name = "synthetic"
per_class = 8

[protocol]
name = "stratified-kfold"
folds = 2

[[systems]]
name = "mfcc"
label = "MFCC"
grid = { C = [1.0, 10.0] }

[[systems]]
name = "pmsc"
label = "PMSC"
params = { n_components = 16 }

[report]
rows = ["system", "C"]

[[report.published]]
system = "PMSC"
metric = "accuracy"
value = 0.68
source = "A paper, Table 2"
"""


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Keep dataset builds and features out of the user's cache (shared within a test session)."""
    cache = tmp_path_factory.getbasetemp() / "mirbench-cache"
    monkeypatch.setenv("MIRBENCH_CACHE", str(cache))
    monkeypatch.delenv("MIRBENCH_DATA", raising=False)
    return cache


@pytest.fixture
def write_suite(tmp_path):
    def write(text: str = SMOKE_SUITE, name: str = "smoke.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
