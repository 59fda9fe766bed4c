"""The asv benchmarks stay importable and well-formed (they are timed on demand, not here)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

KINDS = ("time_", "track_", "peakmem_")  # the kinds of asv benchmark the suite uses
MODULES = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "benchmarks").glob("bench_*.py"))


def benchmark_classes(module):
    return [
        cls for name, cls in vars(module).items()
        if inspect.isclass(cls) and not name.startswith("_") and cls.__module__ == module.__name__
        and any(k.startswith(KINDS) for k in dir(cls))
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
        for name in (k for k in dir(cls) if k.startswith("peakmem_")):
            assert not getattr(getattr(cls, name), "unit", None), f"{cls.__name__}.{name}: asv reports bytes"


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


def test_the_memory_benchmarks_measure_the_work_beside_the_whole_process():
    """Every peakmem_X has a track_X_peak_increase in MB, and its setup is light: data comes from setup_cache."""
    from benchmarks import bench_memory

    names = set()
    for cls in benchmark_classes(bench_memory):
        peaks = [k for k in dir(cls) if k.startswith("peakmem_")]
        assert peaks, cls
        for name in peaks:
            names.add(name)
            increase = getattr(cls, f"track_{name.removeprefix('peakmem_')}_peak_increase")
            assert increase.unit == "MB"
        assert hasattr(cls, "setup_cache"), f"{cls.__name__} writes its data in setup_cache, outside the peak"
    assert names == {"peakmem_quickstart_trial", "peakmem_index_10000", "peakmem_feature_extraction"}
    tracks = bench_memory.FeatureExtractionMemory.params[0]
    assert len(tracks) >= 2 and max(tracks) >= 8 * min(tracks)  # streaming: the peak must not follow the count


def test_the_index_benchmark_plans_a_tree_in_the_published_layout(tmp_path):
    from benchmarks.workloads import write_mtat_tree, plan_mtat

    root = write_mtat_tree(tmp_path / "data", 160)
    (spec,) = plan_mtat(root)
    assert spec.trial_id.endswith("fold0.seed0")
    # 10 clips per directory: 0-b train, c valid, d-f test (mtat-12-1-3)
    assert (len(spec.fold.train), len(spec.fold.valid), len(spec.fold.test)) == (120, 10, 30)


def test_the_extraction_benchmark_computes_every_track_into_a_cold_cache(tmp_path):
    from benchmarks.bench_memory import FeatureExtractionMemory
    from benchmarks.workloads import write_tones

    folder = write_tones(tmp_path / "tones", 5, 0.5, 16_000)
    bench = FeatureExtractionMemory()
    bench.setup(folder, 3)
    try:
        increase = bench.track_feature_extraction_peak_increase(folder, 3)
        assert increase >= 0
        assert (bench.store.misses, bench.store.hits) == (3, 0)
        assert len(list(Path(bench.cache).rglob("*.npy"))) == 3
    finally:
        bench.teardown(folder, 3)
    assert not Path(bench.cache).exists()
