"""The executors have one shape, `run(specs, finish)`, and give the same records: in this process, in a pool of
worker processes, and on a local Dask cluster."""

from __future__ import annotations

import pytest

from mirbench.datasets import open_dataset
from mirbench.run.executors import InProcess, ProcessPool, executor_for
from mirbench.run.plan import RunOptions, plan
from mirbench.suite import load_suite


@pytest.fixture
def specs(write_suite):
    suite = load_suite(write_suite())
    dataset = open_dataset(suite.dataset)
    return plan(suite, dataset, RunOptions(device="cpu"), {})[:3]


def outcomes(executor, specs) -> dict:
    records = []
    executor.run(specs, records.append)
    return {r["trial_id"]: (r["status"], r["metrics"]) for r in records}


def test_the_pool_gives_what_this_process_gives(specs):
    alone = outcomes(InProcess(), specs)
    assert len(alone) == 3 and {status for status, _ in alone.values()} == {"ok"}
    assert outcomes(ProcessPool(2), specs) == alone


def test_dask_gives_what_this_process_gives(specs):
    pytest.importorskip("dask.distributed", reason="the Dask executor needs mirbench[dask]")
    from mirbench.run.cluster import DaskCluster

    assert outcomes(DaskCluster("local:2"), specs) == outcomes(InProcess(), specs)


def test_the_options_choose_the_executor():
    assert isinstance(executor_for(1, None), InProcess)
    assert isinstance(executor_for(3, None), ProcessPool) and executor_for(3, None).workers == 3
    assert type(executor_for(1, "local:2")).__name__ == "DaskCluster"
