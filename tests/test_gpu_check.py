"""The GPU check script: its CPU dry run prints the table, and without CUDA it says so and succeeds."""

from __future__ import annotations

import pytest
import torch

from benchmarks import gpu_check


@pytest.mark.slow  # about 17 s on a loaded 2-core machine: extracts features, trains three times
def test_the_cpu_dry_run_of_one_family_prints_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "gpu-check.md"
    assert gpu_check.main(["--cpu-dry-run", "--families", "dieleman2014 mel", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if line.startswith("| dieleman2014 mel |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[1]) > 0 and float(cells[2]) > 0 and cells[-1] == "yes"
    assert out.read_text() in printed


def test_trials_beyond_the_tolerance_disagree():
    a = {"accuracy": 0.9, "roc_auc": 0.97}
    assert gpu_check.disagreement(a, {"accuracy": 0.85, "roc_auc": 0.95}) is None
    assert "accuracy" in gpu_check.disagreement(a, {"accuracy": 0.33, "roc_auc": 0.5})
    assert gpu_check.disagreement(a, {"accuracy": 0.9, "roc_auc": 0.9}) is not None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message printed where torch sees no GPU")
def test_without_cuda_it_says_so_in_one_line_and_succeeds(capsys):
    assert gpu_check.main([]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_an_unknown_family_is_refused():
    with pytest.raises(SystemExit):
        gpu_check.main(["--cpu-dry-run", "--families", "choi2017 k9c9"])
