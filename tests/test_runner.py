"""The runner: one result per trial, resumption, failure isolation, unreadable audio, parallel workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirbench.datasets import open_dataset
from mirbench.registry import systems
from mirbench.results import ResultStore
from mirbench.run import RunOptions, run_suite
from mirbench.suite import load_suite

REPO = Path(__file__).resolve().parent.parent

PRIOR_SUITE = """
version = "1"
metrics = ["accuracy"]
seeds = [0, 1]
[dataset]
name = "synthetic"
per_class = 4
[protocol]
name = "stratified-kfold"
folds = 2
[[systems]]
name = "test.prior"
grid = { fail = [false, true] }
"""


@pytest.fixture(autouse=True)
def prior_system():
    systems.register("test.prior", "tests.helpers:PriorSystem")


def run(path, tmp_path, **kw) -> tuple:
    options = RunOptions(results=tmp_path / "results", progress=False, device="cpu", **kw)
    return run_suite(load_suite(path), options), ResultStore(options.results)


def test_one_result_per_trial_with_provenance(write_suite, tmp_path):
    summary, store = run(write_suite(), tmp_path)
    records = list(store.records())
    assert summary.planned == len(records) == 6 and summary.ok == 6
    r = records[0]
    assert r["schema"] == "mirbench.trial/1" and r["status"] == "ok"
    assert set(r["metrics"]) == {"accuracy", "normalised_accuracy", "roc_auc_macro"}
    assert r["fold"]["train"] + r["fold"]["valid"] + r["fold"]["test"] == 24
    assert len(r["predictions"]["track_ids"]) == len(r["predictions"]["scores"]) == r["fold"]["test"]
    for key in ("mirbench", "python", "libraries", "device", "git_revision", "started_at", "finished_at"):
        assert key in r["provenance"]
    assert r["suite"]["hash"] == load_suite(write_suite()).hash()
    assert r["dataset"]["fingerprint"] and r["dataset"]["name"] == "synthetic"
    assert {"features_s", "fit_s", "predict_s"} <= set(r["timings"])
    # MFCC separates the tones: accuracy is far above chance (1/3)
    assert min(rec["metrics"]["accuracy"] for rec in records) > 0.8


def test_rerun_does_only_missing_trials(write_suite, tmp_path):
    run(write_suite(), tmp_path)
    store = ResultStore(tmp_path / "results")
    paths = sorted(store.trials_dir.glob("*.json"))
    paths[0].unlink()
    paths[3].unlink()
    summary, _ = run(write_suite(), tmp_path)
    assert (summary.skipped_done, summary.ok) == (4, 2)
    assert len(list(store.trials_dir.glob("*.json"))) == 6


def test_failed_trial_is_recorded_and_run_goes_on(write_suite, tmp_path):
    summary, store = run(write_suite(PRIOR_SUITE), tmp_path)
    records = list(store.records())
    failed = [r for r in records if r["status"] == "failed"]
    assert len(records) == 8 and len(failed) == 4 and summary.ok == 4
    assert failed[0]["error"]["type"] == "RuntimeError"
    assert "fails on purpose" in failed[0]["error"]["message"]
    again, _ = run(write_suite(PRIOR_SUITE), tmp_path, retry_failed=False)
    assert again.skipped_done == 8 and again.ok == 0


def test_unreadable_track_is_skipped_and_counted(write_suite, tmp_path, monkeypatch):
    """The corrupted file is this test's own copy (its own cache): other tests, and workers of other runs, read the
    session's synthetic audio."""
    monkeypatch.setenv("MIRBENCH_CACHE", str(tmp_path / "cache"))
    dataset = open_dataset({"name": "synthetic", "per_class": 8})
    victim = dataset.tracks[0]
    assert tmp_path in victim.path.parents
    victim.path.write_bytes(b"not audio at all")
    summary, store = run(write_suite(), tmp_path)
    assert summary.ok == 6 and victim.id in summary.unusable_tracks
    records = list(store.records())
    skipped = {s["id"] for r in records for s in r["skipped"]}
    assert skipped == {victim.id}
    assert all(r["fold"]["train"] + r["fold"]["valid"] + r["fold"]["test"] == 23 for r in records)


def test_quick_mode_restricts_folds_tracks_and_params(write_suite, tmp_path):
    text = PRIOR_SUITE.replace("folds = 2", "folds = 3") + "\n[quick]\ntracks_per_class = 2\nfolds = 1\nparams = { sleep = 0.0, epochs = 3 }\n"
    summary, store = run(write_suite(text), tmp_path, quick=True)
    records = list(store.records())
    assert summary.planned == 2  # 2 variants x 1 fold x 1 seed
    ok = [r for r in records if r["status"] == "ok"]
    assert ok and all(r["fold"]["train"] + r["fold"]["valid"] + r["fold"]["test"] <= 6 for r in ok)
    assert all("epochs" not in r["variant"]["params"] for r in records)  # only parameters the system takes


def test_process_pool_gives_the_same_results(write_suite, tmp_path):
    run(write_suite(), tmp_path / "inline")
    run(write_suite(), tmp_path / "pool", workers=2)
    inline = {r["trial_id"]: r["metrics"] for r in ResultStore(tmp_path / "inline" / "results").records()}
    pooled = {r["trial_id"]: r["metrics"] for r in ResultStore(tmp_path / "pool" / "results").records()}
    assert inline == pooled


KILLABLE = PRIOR_SUITE.replace('grid = { fail = [false, true] }', 'grid = { sleep = [1.0, 1.01, 1.02] }')


def start_run(write_suite, tmp_path, wait_for: int):
    """Start `mirbench run` on the slow suite in a subprocess; return once `wait_for` results exist."""
    suite = write_suite(KILLABLE)
    results = tmp_path / "results"
    script = (  # Ctrl-C semantics even when this test itself runs as a background job (which ignores SIGINT)
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "import sys; from mirbench.registry import systems; "
        "systems.register('test.prior', 'tests.helpers:PriorSystem'); "
        "from mirbench.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    cmd = [sys.executable, "-c", script, "run", str(suite), "--results", str(results), "--no-progress",
           "--device", "cpu", "--reports", str(tmp_path / "reports")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((results / "trials").glob("*.json"))) < wait_for:
        time.sleep(0.05)
    return proc, cmd, env, results


def test_ctrl_c_stops_cleanly(write_suite, tmp_path):
    proc, _, _, results = start_run(write_suite, tmp_path, wait_for=1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted: finished trials are saved" in err and "Traceback" not in err
    assert not list((results / "trials").glob("*.tmp"))


def test_killed_run_resumes_with_only_missing_trials(write_suite, tmp_path):
    proc, cmd, env, results = start_run(write_suite, tmp_path, wait_for=3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p.name for p in (results / "trials").glob("*.json")}
    assert 3 <= len(done_before) < 12
    assert not list((results / "trials").glob("*.tmp"))  # no half-written result
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{len(done_before)} already done, {12 - len(done_before)} ran ok" in out.stdout
    records = [json.loads(p.read_text()) for p in (results / "trials").glob("*.json")]
    assert len(records) == 12 and all(r["status"] == "ok" for r in records)
