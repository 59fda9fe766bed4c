"""No stage of a real-data run does more than linear work in the clips: index, validate, the pooling before a fit,
and the report, each on the benchmark trees (`benchmarks/trees.py`) at N and 10N clips.

The work is counted, not timed (times belong to asv, `benchmarks/bench_stages.py`): the Python lines a stage
executes and the C functions it calls, at 10x the clips, are at most SLACK x 10 those at 1x. A quadratic loop (a list
scan per track, a re-read of the index per clip) multiplies its share by 100. What runs inside one C call (NumPy's,
the random forest's tree building, n log n by its algorithm) is not counted; benchmarks/README.md gives the measured
time of every stage and its growth.
"""

from __future__ import annotations

import sys

import pytest

from benchmarks import bench_stages, trees

SLACK = 1.15  # per-call constants (imports, the report's fixed sections) make the ratio a little under or over 10


@pytest.fixture(scope="module", autouse=True)
def trees_here(tmp_path_factory):
    """The benchmark trees in this session's temporary directory, not the user's /tmp/mirbench-trees."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trees, "TREES", tmp_path_factory.mktemp("trees"))
        yield


def calls(run) -> int:
    """The Python lines that one call of `run` executes (a loop over the tracks counts each pass), plus the calls
    into C functions (a builtin or a NumPy call inside such a loop counts once a pass)."""
    count = [0]

    def trace(frame, event, arg):
        count[0] += 1
        return trace

    def profile(frame, event, arg):
        if event == "c_call":
            count[0] += 1

    sys.settrace(trace)
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.settrace(None)
        sys.setprofile(None)
    return count[0]


def growth(workload, small: int, large: int) -> float:
    """The count of `workload(large)`'s run over that of `workload(small)`'s, per 10x the clips."""
    counts = [calls(workload(n)) for n in (small, large)]
    return counts[1] / counts[0] * 10 * small / large


def test_the_count_sees_a_quadratic_loop():
    def pairs(n: int):
        ids = [str(i) for i in range(n)]
        return lambda: [[j for j in ids if j == i] for i in ids]

    assert growth(pairs, 50, 500) > 50


@pytest.mark.parametrize("dataset", ["gtzan", "mtat", "folder"])
def test_indexing_does_linear_work(dataset):
    assert growth(lambda n: bench_stages.workload("index", dataset, n), 100, 1000) <= SLACK * 10


@pytest.mark.parametrize("dataset", ["gtzan", "mtat"])
def test_validating_does_linear_work(dataset):
    assert growth(lambda n: bench_stages.workload("validate", dataset, n), 50, 500) <= SLACK * 10


def test_pooling_windows_before_the_fit_does_linear_work():
    def pooling(n: int):
        train, _ = bench_stages.feature_tracksets(n)
        system = bench_stages.mfcc_system()
        frames = train.features(system.frontend())
        return lambda: system.vectors(frames)

    assert growth(pooling, 20, 200) <= SLACK * 10


def test_the_report_does_linear_work(tmp_path):
    assert growth(lambda n: bench_stages.report_workload(n, tmp_path / str(n)), 40, 400) <= SLACK * 10
