"""The command line: listing, device choice, conformance command; errors are one line, exit 2."""

from __future__ import annotations

import numpy as np
import pytest

from mirbench.cli import main
from mirbench.device import resolve_device


@pytest.mark.parametrize("what", ["systems", "datasets", "protocols", "frontends", "metrics"])
def test_list(what, capsys):
    assert main(["list", what]) == 0
    out = capsys.readouterr().out
    expected = {"systems": "mfcc", "datasets": "corpus", "protocols": "stratified-kfold", "frontends": "logmel", "metrics": "roc_auc_macro"}
    assert expected[what] in out


def test_list_suites(capsys, tmp_path):
    (tmp_path / "a.toml").write_text("")
    assert main(["list", "suites", "--suites-dir", str(tmp_path)]) == 0
    assert "a.toml" in capsys.readouterr().out


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="not a device"):
        resolve_device("tpu")


def test_cuda_without_gpu_is_a_clear_error(capsys, write_suite):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["run", str(write_suite()), "--device", "cuda"]) == 2
    assert "torch sees no GPU" in capsys.readouterr().err


def test_bad_workers(capsys, write_suite):
    assert main(["run", str(write_suite()), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_run_writes_results_and_report(capsys, write_suite, tmp_path):
    path = write_suite()
    code = main(["run", str(path), "--results", str(tmp_path / "res"), "--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"])
    assert code == 0
    out = capsys.readouterr().out
    assert "6 trials: 0 already done, 6 ran ok, 0 failed" in out
    assert (tmp_path / "rep" / "smoke.md").exists()


def test_check_system_command(capsys):
    assert main(["check-system", "mfcc"]) == 0
    assert "deterministic under random_state" in capsys.readouterr().out
    assert main(["check-system", "mfcx"]) == 2


def test_check_system_takes_params_over_the_systems_smoke_params(capsys, monkeypatch):
    """check_fit_predict is faked (no training): honest fakes give scores that follow the parameters, so the
    determinism check passes; fakes that differ between two fits of the same parameters must fail it."""
    import mirbench.testing

    seen = []

    def honest(factory, dataset, store, params):
        seen.append(params)
        return np.full((6, 3), float(len(seen) if "random_state" not in params else params["random_state"]))

    monkeypatch.setattr(mirbench.testing, "check_fit_predict", honest)
    code = main(["check-system", "dieleman2014.cnn", "--param", "max_epochs=1", "--param", 'optimizer="sgd"', "--param", "input=raw"])
    assert code == 0, capsys.readouterr()
    assert seen[0] == {
        "length": 256, "stride": 256, "window_seconds": 0.6, "updates_per_epoch": 10, "max_epochs": 1,
        "optimizer": "sgd", "input": "raw",
    }  # fmt: skip
    assert "deterministic under random_state" in capsys.readouterr().out
    calls = iter(range(100))
    monkeypatch.setattr(mirbench.testing, "check_fit_predict", lambda f, d, s, params: np.full((6, 3), next(calls)))
    assert main(["check-system", "dieleman2014.cnn"]) == 1
    assert "two fits with random_state=0 gave different scores" in capsys.readouterr().err
    assert main(["check-system", "dieleman2014.cnn", "--param", "max_epochs"]) == 2
    assert "is not of the form key=value" in capsys.readouterr().err
