"""Trials on a Dask cluster: a real LocalCluster of 2 worker processes gives the in-process results."""

from __future__ import annotations

import json

import pytest

from mirbench.cli import main
from mirbench.cluster import check_address, lost
from mirbench.results import ResultStore

pytest.importorskip("dask.distributed")

SUITE = """
name = "cluster-smoke"
version = "1"
seeds = [0, 1]
metrics = ["accuracy", "roc_auc_macro"]

[dataset]
name = "synthetic"
per_class = 6

[protocol]
name = "stratified-kfold"
folds = 2
proportions = [0.5, 0.25, 0.25]

[[systems]]
name = "mfcc"
grid = { classifier = ["rf", "svm"] }
"""


def run(suite, out, *extra) -> dict:
    args = ["run", str(suite), "--results", str(out), "--reports", str(out / "rep"), "--no-progress", "--device", "cpu"]
    assert main(args + list(extra)) == 0
    return {r["trial_id"]: r["metrics"] for r in ResultStore(out).records()}


def test_a_local_cluster_gives_the_in_process_results(tmp_path, write_suite, capsys):
    suite = write_suite(SUITE)
    inline = run(suite, tmp_path / "inline")
    clustered = run(suite, tmp_path / "cluster", "--cluster", "local:2")
    assert len(inline) == 8 and clustered == inline
    assert "8 ran ok, 0 failed" in capsys.readouterr().out
    assert json.loads((tmp_path / "cluster" / "suite.json").read_text())["quick_run"] is False


@pytest.mark.parametrize("address", ["local:0", "local", "host:8786", "http://host:8786"])
def test_a_bad_cluster_address_says_which_forms_exist(address, write_suite, capsys):
    assert main(["run", str(write_suite(SUITE)), "--cluster", address]) == 2
    assert "use local:N" in capsys.readouterr().err


def test_a_lost_trial_is_recorded_as_failed_with_its_reason():
    class Spec:  # only what failed_record reads
        trial_id, seed, protocol, suite = "t.fold0.seed0", 0, {}, {}
        variant = type("V", (), {"describe": lambda self: {"label": "x"}})()
        fold = type("F", (), {"index": 0, "split_hash": lambda self: "h"})()
        quick = False

    record = lost(Spec(), RuntimeError("KilledWorker: worker died"))
    assert record["status"] == "failed" and "worker died" in record["error"]["message"]
    assert check_address("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"
