"""Shared fixtures: every test gets its own cache and leaves the registries as it found them, and suites on the
synthetic dataset are one call away."""

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
    monkeypatch.setenv("MIRBENCH_NO_ESTIMATE", "1")  # a run's calibration costs seconds; tests of it unset this
    return cache


@pytest.fixture(autouse=True)
def restored_registries():
    """Undo every `register()` a test makes, in every registry of mirbench.registry (systems, datasets, protocols,
    frontends, metrics, ...): a registration made in one test must not make another pass. A registration a module
    needs belongs in a function-scoped fixture (autouse for the module), which this one outlives."""
    from mirbench import registry

    kinds = [obj for obj in vars(registry).values() if isinstance(obj, registry.Registry)]
    saved = [(r, dict(r._extra)) for r in kinds]
    yield
    for r, extra in saved:
        r._extra.clear()
        r._extra.update(extra)


@pytest.fixture
def write_suite(tmp_path):
    def write(text: str = SMOKE_SUITE, name: str = "smoke.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
