"""Runs that survive faults: a worker killed mid-trial (process pool and Dask), out-of-memory, a full disk.

Each fault costs at most the trial it hit: that trial is retried once or recorded as failed with its reason,
every other trial gets its result, and no result file is ever half-written.
"""

from __future__ import annotations

import errno
import json

import pytest

from mirbench.cli import main
from mirbench.registry import systems
from mirbench.results import ResultStore
from tests.helpers import synthetic_suite

SUITE = synthetic_suite("""
[[systems]]
name = "test.faulty"
grid = {{ fault = {faults} }}
params = {{ marker = "{marker}" }}
""")


@pytest.fixture(autouse=True)
def faulty_system():
    systems.register("test.faulty", "tests.helpers:FaultySystem")


def run(write_suite, tmp_path, faults, *extra) -> tuple[int, list[tuple]]:
    """`mirbench run` of one test.faulty variant per fault; (exit code, [(fault, status, error type, message)])."""
    suite = write_suite(SUITE.format(faults=json.dumps(faults), marker=tmp_path / "killed-once"))
    out = tmp_path / "results"
    args = ["run", str(suite), "--results", str(out), "--reports", str(tmp_path / "rep"), "--no-progress"]
    code = main(args + ["--device", "cpu", *extra])
    error = lambda r: r["error"] or {}  # noqa: E731
    outcome = [
        (r["variant"]["params"]["fault"], r["status"], error(r).get("type"), error(r).get("message", ""))
        for r in ResultStore(out).records()
    ]
    return code, outcome


def by_fault(outcome: list[tuple], fault: str) -> list[tuple]:
    """(status, error type, message) of the trials of one fault."""
    return [rest for f, *rest in outcome if f == fault]


@pytest.mark.parametrize("executor", [["--workers", "2"], ["--cluster", "local:2"]], ids=["pool", "dask"])
def test_a_killed_worker_costs_only_its_trial(executor, write_suite, tmp_path, capsys):
    if executor[0] == "--cluster":
        pytest.importorskip("dask.distributed")
    code, outcome = run(write_suite, tmp_path, ["none", "kill-once", "kill"], *executor)
    assert len(outcome) == 6 and code == 1  # 1: some trials failed
    assert all(status == "ok" for status, _, _ in by_fault(outcome, "none"))
    assert all(status == "ok" for status, _, _ in by_fault(outcome, "kill-once"))  # retried after the kill
    killed = by_fault(outcome, "kill")
    assert [s for s, _, _ in killed] == ["failed", "failed"]
    assert all(kind in ("WorkerDied", "KilledWorker") and "died" in msg for _, kind, msg in killed)
    err = capsys.readouterr().err
    failures = [line for line in err.splitlines() if line.startswith("  failed:")]
    assert "Traceback" not in err and len(failures) == 2 and all("died" in line for line in failures)
    assert not list((tmp_path / "results" / "trials").glob("*.tmp"))


@pytest.mark.parametrize("fault, says", [("gpu-oom", "GPU out of memory on cpu"), ("host-oom", "host out of memory")])
def test_out_of_memory_is_reported_as_such(fault, says, write_suite, tmp_path, capsys):
    code, outcome = run(write_suite, tmp_path, ["none", fault])
    assert code == 1
    assert all(status == "ok" for status, _, _ in by_fault(outcome, "none"))
    for status, kind, message in by_fault(outcome, fault):
        assert (status, kind) == ("failed", "OutOfMemoryError")
        assert says in message and "batch_size" in message  # what happened, and what to do
    assert "Traceback" not in capsys.readouterr().err


class FullDisk:
    """A file object on a disk with `room` bytes left: writes beyond it fail with ENOSPC, as on a full disk."""

    def __init__(self, fh, room: int):
        self.fh, self.room = fh, room

    def write(self, text: str) -> int:
        if len(text) > self.room:
            self.fh.write(text[: self.room])  # the part that fitted, as a real full disk leaves it
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(text)
        return self.fh.write(text)

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


def test_a_full_disk_leaves_no_corrupt_result_and_the_run_resumes(write_suite, tmp_path, monkeypatch, capsys):
    import mirbench.results as results

    code, first = run(write_suite, tmp_path, ["none"])
    assert code == 0 and len(first) == 2
    trials = tmp_path / "results" / "trials"
    kept = sorted(trials.glob("*.json"))
    before = {p.name: p.read_bytes() for p in kept}
    kept[0].unlink()  # this trial runs again, and the disk fills up while its result is written

    real_fdopen = results.os.fdopen
    monkeypatch.setattr(results.os, "fdopen", lambda fd, mode="r": FullDisk(real_fdopen(fd, mode), room=500))
    code, _ = run(write_suite, tmp_path, ["none"])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "run the same command again" in err
    assert "Traceback" not in err
    assert not list(trials.glob("*.tmp")) and not list(trials.glob(".*"))  # no torn or temporary file
    assert {p.name: p.read_bytes() for p in trials.glob("*.json")} == {kept[1].name: before[kept[1].name]}

    monkeypatch.setattr(results.os, "fdopen", real_fdopen)  # space freed
    code, again = run(write_suite, tmp_path, ["none"])
    assert code == 0 and "1 already done, 1 ran ok" in capsys.readouterr().out
    assert all(status == "ok" for _, status, _, _ in again)
    assert json.loads((trials / kept[0].name).read_text())["status"] == "ok"
