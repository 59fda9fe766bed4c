"""The asv benchmarks stay importable and well-formed (they are timed on demand, not here)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

MODULES = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "benchmarks").glob("bench_*.py"))


def benchmark_classes(module):
    return [
        cls for name, cls in vars(module).items()
        if inspect.isclass(cls) and not name.startswith("_") and cls.__module__ == module.__name__
        and any(k.startswith(("time_", "track_")) for k in dir(cls))
    ]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_benchmarks_declare_their_parameters(name):
    module = importlib.import_module(f"benchmarks.{name}")
    classes = benchmark_classes(module)
    assert classes, f"{name} defines no benchmark"
    for cls in classes:
        assert len(cls.params) == len(cls.param_names), cls
        assert hasattr(cls, "version"), f"{cls.__name__} needs a version, bumped when what it measures changes"
        for method in (getattr(cls, k) for k in dir(cls) if k.startswith("track_")):
            assert getattr(method, "unit", None), f"{cls.__name__}.{method.__name__} needs a unit"


def test_every_kernel_benchmark_runs_at_one_and_two_threads():
    from benchmarks.machine import THREADS

    assert THREADS == [1, 2]
    kernels = ("bench_frontends", "bench_audio", "bench_convolutions", "bench_hessian_free", "bench_end_to_end")
    for name in kernels:
        for cls in benchmark_classes(importlib.import_module(f"benchmarks.{name}")):
            assert "threads" in cls.param_names or cls.__name__ == "FrontendAccuracy", cls


def test_a_frontend_benchmark_measures_its_agreement_with_librosa():
    from benchmarks.bench_frontends import FrontendAccuracy

    bench = FrontendAccuracy()
    bench.setup("mfcc")
    assert bench.track_max_abs_difference("mfcc") < 1e-2  # dB
