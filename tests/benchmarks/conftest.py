"""Kernel benchmarks (pytest-benchmark) run only on demand: `pytest tests/benchmarks --benchmark-only`.

The default test run skips them, so CI never times them.
"""

import pytest


def pytest_collection_modifyitems(config, items):
    if config.getoption("benchmark_only", False):
        return
    skip = pytest.mark.skip(reason="a benchmark: run pytest tests/benchmarks --benchmark-only")
    for item in items:
        if "benchmark" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)
