"""`mirbench data check` and `mirbench data splits`, on the synthetic dataset."""

from __future__ import annotations

import json

from mirbench.cli import main, parse_params
from mirbench.datasets import open_dataset


def test_parse_params_reads_toml_values():
    assert parse_params(["a=3", "b=0.5", "c=true", "d=medium", "e=[1, 2]"]) == {
        "a": 3, "b": 0.5, "c": True, "d": "medium", "e": [1, 2]
    }


def test_data_check_healthy(capsys):
    assert main(["data", "check", "synthetic", "--param", "per_class=4"]) == 0
    out = capsys.readouterr().out
    assert "12 of 12 tracks usable, 0 unusable" in out
    assert "| high" in out


def test_data_check_reports_corrupt_and_missing(capsys):
    dataset = open_dataset({"name": "synthetic", "per_class": 5})
    corrupt, missing = dataset.tracks[0], dataset.tracks[1]
    saved = corrupt.path.read_bytes(), missing.path.read_bytes()
    corrupt.path.write_bytes(b"garbage")
    missing.path.unlink()
    try:
        assert main(["data", "check", "synthetic", "--param", "per_class=5"]) == 1
    finally:
        corrupt.path.write_bytes(saved[0])
        missing.path.write_bytes(saved[1])
    out = capsys.readouterr().out
    assert "13 of 15 tracks usable, 2 unusable" in out
    assert "unusable (skipped by runs): missing: 1" in out and missing.id in out
    assert "unusable (skipped by runs): unreadable: 1" in out and corrupt.id in out


def test_data_splits_json_and_text(capsys):
    args = ["data", "splits", "stratified-kfold", "--dataset", "synthetic", "--param", "per_class=8",
            "--protocol-param", "folds=4", "--protocol-param", 'proportions="k-fold"']
    assert main(args + ["--json"]) == 0
    folds = json.loads(capsys.readouterr().out)
    assert len(folds) == 4
    assert all(f["train"] + f["valid"] + f["test"] == 24 for f in folds)
    assert sum(f["test"] for f in folds) == 24  # k-fold rotation: test sets partition the data
    assert set(folds[0]["classes"]) == {"high", "low", "mid"}
    assert sum(c["test"] for c in folds[0]["classes"].values()) == folds[0]["test"]
    assert main(args) == 0
    assert "fold 0: train" in capsys.readouterr().out


def test_data_splits_of_a_suite(capsys, write_suite):
    assert main(["data", "splits", str(write_suite()), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_generic_protocol_needs_a_dataset(capsys):
    assert main(["data", "splits", "stratified-kfold"]) == 2
    assert "name one with --dataset" in capsys.readouterr().err


def test_unknown_dataset_is_one_line(capsys):
    assert main(["data", "check", "gtzn"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown dataset 'gtzn'") and "Traceback" not in err
