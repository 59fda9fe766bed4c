"""Submissions: bundle a quick run, read it back, verify it, and reject each kind of tampering."""

from __future__ import annotations

import copy
import json
import os
import textwrap
import warnings
from pathlib import Path

import pytest

from mirbench.submission import SCHEMA, bundle, read_submission, verify, write_submission

SUITE = """
version = "1"
seeds = [0]
metrics = ["accuracy", "roc_auc_macro"]

[dataset]
name = "synthetic"
per_class = 4

[protocol]
name = "stratified-kfold"
folds = 2

[[systems]]
name = "mfcc"
label = "MFCC"
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A real results directory: the tiny suite run --quick on CPU (two trials), with the session's cache."""
    from mirbench.cli import main

    saved = {k: os.environ.get(k) for k in ("MIRBENCH_CACHE", "MIRBENCH_DATA")}
    os.environ["MIRBENCH_CACHE"] = str(tmp_path_factory.getbasetemp() / "mirbench-cache")  # as isolated_cache
    os.environ.pop("MIRBENCH_DATA", None)
    out = tmp_path_factory.mktemp("submission")
    suite = out / "tiny.toml"
    suite.write_text(textwrap.dedent(SUITE))
    args = ["run", str(suite), "--quick", "--results", str(out / "res"), "--reports", str(out / "rep")]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main(args + ["--no-progress", "--device", "cpu"]) == 0
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return out / "res"


@pytest.fixture
def submission(results) -> dict:
    return bundle(results)


def problems_of(sub: dict, **kw) -> list[str]:
    result = verify(sub, **kw)
    assert not result.ok
    return result.problems


def test_round_trip_and_untouched_submission_verifies(results, tmp_path):
    path = write_submission(results, tmp_path / "sub.json")
    sub = read_submission(path)
    assert sub["schema"] == SCHEMA and sub["created_at"].endswith("+00:00")
    assert sub["suite"]["quick_run"] is True and sub["suite"]["hash"]
    n_trials = len(list((results / "trials").glob("*.json")))
    assert len(sub["records"]) == n_trials == 2
    assert {"trial_id", "fold", "metrics", "predictions", "provenance"} <= set(sub["records"][0])
    result = verify(sub)
    assert result.ok, result.problems
    assert result.checked == n_trials


def test_read_rejects_other_files(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"schema": "mirbench.trial/1"}))
    with pytest.raises(ValueError, match="not a mirbench submission"):
        read_submission(path)


def test_edited_metric_is_rejected(submission):
    record = submission["records"][0]
    true_value = record["metrics"]["accuracy"]
    record["metrics"]["accuracy"] = true_value - 0.25
    (problem,) = problems_of(submission)
    assert record["trial_id"] in problem and "accuracy is reported as" in problem
    assert f"predictions give {true_value}" in problem


def test_submitted_truth_must_be_the_datasets_labels(submission):
    # The verifier computes metrics from the dataset's labels, never the submitted ones; but a report made from the
    # bundle prints chance levels and significance from the stored truth, so a truth that differs is rejected.
    record = submission["records"][0]
    truth = record["predictions"]["truth"]
    record["predictions"]["truth"] = [(t + 1) % 3 for t in truth]
    (problem,) = problems_of(submission)
    assert record["trial_id"] in problem and "predictions.truth is not the dataset's labels" in problem


@pytest.mark.parametrize("key", ["confusion", "per_class"])
def test_derived_values_the_report_prints_are_recomputed(submission, key):
    record = submission["records"][0]
    if key == "confusion":
        record["confusion"][0][0] += 1
    else:
        record["per_class"]["roc_auc"][0] = 0.123
    (problem,) = problems_of(submission)
    assert record["trial_id"] in problem and f"{key} does not match what its predictions give" in problem


def test_missing_track_is_rejected(submission):
    record = submission["records"][1]
    predictions = record["predictions"]
    dropped = predictions["track_ids"].pop(0)
    predictions["scores"].pop(0)
    predictions["truth"].pop(0)
    problems = problems_of(submission)
    assert f"trial {record['trial_id']}: 1 test track missing from the predictions: {dropped}" in problems


def test_another_split_is_rejected(submission):
    record = submission["records"][0]
    record["fold"]["split_hash"] = "0" * 64
    (problem,) = problems_of(submission)
    assert problem.startswith(f"trial {record['trial_id']} ran another split")


def test_wrong_shape_is_rejected(submission):
    record = submission["records"][0]
    scores = record["predictions"]["scores"]
    record["predictions"]["scores"] = [row[:-1] for row in scores]
    (problem,) = problems_of(submission)
    n, c = len(scores), len(scores[0])
    assert problem == f"trial {record['trial_id']}: predictions have shape ({n}, {c - 1}), expected ({n}, {c})"


def test_edited_suite_document_is_rejected(submission):
    submission["suite"]["metrics"] = ["accuracy"]
    problems = problems_of(submission)
    assert any(p.startswith("the suite document was edited: hash") for p in problems)


def test_unknown_trial_is_rejected(submission):
    submission["records"].append(copy.deepcopy(submission["records"][0]))
    submission["records"][-1]["trial_id"] = "mfcc-deadbeef.fold9.seed0"
    problems = problems_of(submission)
    assert "trial mfcc-deadbeef.fold9.seed0 is not a trial of suite tiny" in problems


def test_suites_dir_with_another_version_is_rejected(submission, tmp_path):
    (tmp_path / "tiny.toml").write_text(textwrap.dedent(SUITE).replace('version = "1"', 'version = "2"'))
    problems = problems_of(submission, suites_dir=tmp_path)
    assert "suite tiny is version 2 here, the submission ran version 1" in problems


def test_suites_dir_with_same_version_verifies(submission, tmp_path):
    (tmp_path / "tiny.toml").write_text(textwrap.dedent(SUITE))
    assert verify(submission, suites_dir=tmp_path).ok


def test_results_dir_without_suite_json(results, tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path} holds no suite.json"):
        bundle(tmp_path)


def test_results_dir_without_ok_trials(results, tmp_path):
    (tmp_path / "suite.json").write_text((results / "suite.json").read_text())
    trial = json.loads(next((results / "trials").glob("*.json")).read_text())
    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / f"{trial['trial_id']}.json").write_text(json.dumps({**trial, "status": "failed"}))
    with pytest.raises(ValueError, match="holds no successful trial"):
        bundle(tmp_path)


def test_a_suite_with_a_quick_table_verifies_from_its_own_document(tmp_path, capsys):
    """suite.json keeps the suite's [quick] table beside the run's quick_run flag, so the hash recomputes."""
    from tests.helpers import run_quick

    text = textwrap.dedent(SUITE) + "\n[quick]\ntracks_per_class = 3\nfolds = 1\n"
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "tiny.toml").write_text(text)
    run_quick(tmp_path / "suites" / "tiny.toml", tmp_path, tmp_path, capsys)
    sub = bundle(tmp_path / "res")
    assert len(sub["records"]) == 1 and sub["suite"]["quick"] == {"tracks_per_class": 3, "folds": 1}
    result = verify(sub)
    assert result.ok and result.checked == 1, result.problems
