"""Trials on a Dask cluster: a real LocalCluster of 2 worker processes gives the in-process results."""

from __future__ import annotations

import json

import pytest

import os
import signal
import time
from pathlib import Path

from mirbench.cli import main
from mirbench.run.cluster import check_address, lost
from mirbench.registry import systems
from mirbench.results import ResultStore
from tests.helpers import PriorSystem, synthetic_suite

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
        trial_id, seed, protocol, suite, identity = "t.fold0.seed0", 0, {}, {}, {}
        variant = type("V", (), {"describe": lambda self: {"label": "x"}})()
        fold = type("F", (), {"index": 0, "split_hash": lambda self: "h"})()
        quick = False

    record = lost(Spec(), RuntimeError("KilledWorker: worker died"))
    assert record["status"] == "failed" and "worker died" in record["error"]["message"]
    KilledWorker = type("KilledWorker", (Exception,), {"allowed_failures": 1})
    record = lost(Spec(), KilledWorker())
    assert record["error"]["type"] == "KilledWorker" and "2 times more when it ran by itself" in record["error"]["message"]
    assert check_address("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"


class PairKiller(PriorSystem):
    """One event that kills two workers (the kernel's OOM killer taking one worker, then another): the first two
    trials to run wait for each other, then one of them SIGKILLs the other's worker, and its own once Dask has moved
    the other trial onto it (after a fixed half second, in one CI run, the other trial had not died twice: the
    restarted worker was up by then, and work stealing can hand it over). Once `marker`/killed exists, a trial
    behaves like PriorSystem."""

    def __init__(self, marker: str = "", random_state: int = 0):
        super().__init__(random_state=random_state)
        self.marker = marker

    def fit(self, train, valid=None):
        folder = Path(self.marker)
        killed = folder / "killed"
        if not killed.exists():
            (folder / f"running-{os.getpid()}").touch()
            deadline = time.monotonic() + 60
            while len(list(folder.glob("running-*"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                os.close(os.open(killed, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # one of the two does the killing
            except FileExistsError:
                while time.monotonic() < deadline:  # the other one waits for it
                    time.sleep(0.05)
            else:
                from distributed import get_worker

                tasks = get_worker().state.tasks  # this trial's, and the other one once Dask moves it here
                for pid in [int(p.name.split("-")[1]) for p in folder.glob("running-*")]:
                    if pid != os.getpid():
                        os.kill(pid, signal.SIGKILL)
                moved_by = time.monotonic() + 20
                while len(tasks) < 2 and time.monotonic() < moved_by:
                    time.sleep(0.01)
                os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(train, valid)


def test_one_event_that_kills_two_workers_fails_no_trial(write_suite, tmp_path, capsys, monkeypatch):
    """Both workers die, one shortly after the other, each running a trial. Dask moved the first dead worker's
    trial to the second worker, which then died too: that trial had 2 deaths (KilledWorker) from one event and
    was failed though it killed nothing. A KilledWorker trial now runs once more, by itself, and both end ok."""
    systems.register("test.pairkill", "tests.test_cluster:PairKiller")
    import mirbench.run.cluster

    given_up = []  # trials Dask gave up on (KilledWorker): the branch that reruns them by themselves
    real_killed = mirbench.run.cluster.killed
    monkeypatch.setattr(mirbench.run.cluster, "killed", lambda exc: given_up.append(exc) or real_killed(exc))
    # no work stealing: it would hand the moved trial to the restarted worker before its second death
    config = {**mirbench.run.cluster.SCHEDULER_CONFIG, "distributed.scheduler.work-stealing": False}
    monkeypatch.setattr(mirbench.run.cluster, "SCHEDULER_CONFIG", config)
    marker = tmp_path / "marker"
    marker.mkdir()
    text = synthetic_suite(f'[[systems]]\nname = "test.pairkill"\nparams = {{ marker = "{marker}" }}')
    out = tmp_path / "res"
    args = ["run", str(write_suite(text)), "--results", str(out), "--reports", str(tmp_path / "rep"), "--no-progress"]
    code = main(args + ["--device", "cpu", "--cluster", "local:2"])
    captured = capsys.readouterr()
    assert (marker / "killed").exists() and len(list(marker.glob("running-*"))) == 2  # the event happened
    records = list(ResultStore(out).records())
    assert [r["status"] for r in records] == ["ok"] * 2, [r["error"] for r in records]
    assert code == 0 and "2 ran ok, 0 failed" in captured.out
    assert [type(e).__name__ for e in given_up] == ["KilledWorker"], given_up


def test_a_port_that_listens_but_is_no_scheduler_is_one_error_within_the_timeout(monkeypatch):
    """Something accepts the connection and stays silent (a dashboard, another service): Dask's client would wait
    for its handshake forever; the probe gives up after CONNECT_TIMEOUT."""
    import socket

    from mirbench.run import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(cluster.ClusterError, match=f"could not reach the Dask scheduler at {address} .*not a Dask"):
            cluster.client_for(address)
        assert time.monotonic() - start < 10


def test_a_running_scheduler_passes_the_probe():
    from dask.distributed import LocalCluster

    from mirbench.run.cluster import client_for

    with LocalCluster(n_workers=0, dashboard_address=None) as running:
        client, started = client_for(running.scheduler_address)
        try:
            assert started is None and client.scheduler_info()["address"] == running.scheduler_address
        finally:
            client.close()
