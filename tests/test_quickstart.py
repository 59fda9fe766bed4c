"""The shipped quickstart suite, end to end on a tiny build of the embedded dataset."""

from __future__ import annotations

import re
from pathlib import Path

from mirbench.cli import main

REPO = Path(__file__).resolve().parent.parent


def test_quickstart_runs_on_a_tiny_corpus(tmp_path, capsys):
    suite = tmp_path / "quickstart-tiny.toml"
    suite.write_text(
        f'extends = "{REPO / "suites" / "quickstart.toml"}"\nversion = "1"\n'
        "[dataset]\nclips_per_class = 6\nclip_seconds = 6.0\nprogress = false\n"
        "[quick]\ntracks_per_class = 6\nfolds = 2\n"
    )
    code = main(["run", str(suite), "--quick", "--results", str(tmp_path / "res"), "--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 trials: 0 already done, 4 ran ok, 0 failed" in out
    report = (tmp_path / "rep" / "quickstart-tiny-quick.md").read_text()
    assert report.startswith("# Quickstart: hand-crafted baselines on the embedded style task")
    for system in ("MFCC", "PMSC"):
        row = next(line for line in report.splitlines() if line.startswith(f"| {system} "))
        values = [float(v) for v in re.findall(r"(\d\.\d{3}) ±", row)]
        assert len(values) == 3 and all(0.0 <= v <= 1.0 for v in values), row
    assert "quick (subset of tracks, folds and epochs" in report
    assert (tmp_path / "rep" / "quickstart-tiny-quick-confusion.png").stat().st_size > 1000
