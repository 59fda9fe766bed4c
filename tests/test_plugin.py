"""A contributor's package, end to end: installed beside mirbench, discovered through its entry point, checked,
run on a suite, submitted, verified and put on the leaderboard (docs/contributing-a-system.md)."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mirbench.cli import main
from mirbench.registry import REGISTRIES, systems
from mirbench.system import System

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The fixture package pip-installed (offline, no dependencies) into a folder put on sys.path."""
    root = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(FIXTURE, root / "source")  # the build writes beside the sources: not in the repository
    target = root / "site"
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(source)]
    subprocess.run(command, check=True, capture_output=True)
    sys.path.insert(0, str(target))
    _rescan()  # the registries may have scanned the entry points before the plug-in was on the path
    yield target
    sys.path.remove(str(target))
    sys.modules.pop("mirbench_demo", None)
    _rescan()


def _rescan() -> None:
    importlib.invalidate_caches()
    for registry in REGISTRIES:
        registry.rescan()


def test_the_plugin_is_listed_with_its_distribution(installed, capsys):
    assert "demo.centroid" in systems
    assert systems.entries()["demo.centroid"].origin == "mirbench-demo-plugin"
    assert main(["list", "systems"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("demo.centroid"))
    assert "mirbench_demo:NearestCentroid" in line and "[mirbench-demo-plugin]" in line


def test_the_plugin_passes_check_system(installed, capsys):
    assert main(["check-system", "demo.centroid"]) == 0
    assert "ok   single-label: fit returns self" in capsys.readouterr().out


def test_check_system_says_what_fails(installed, capsys):
    assert main(["check-system", "demo.centroid", "--param", "temperature=0"]) == 1
    assert _fail_line(capsys) == "FAIL demo.centroid: single-label:fit_predict: fit raised ValueError: temperature must be positive, got 0"


def _fail_line(capsys) -> str:
    """The one line check-system printed on stderr (nothing on stdout, no traceback)."""
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    return err.strip()


def test_check_system_names_a_parameter_the_system_does_not_have(installed, capsys):
    assert main(["check-system", "demo.centroid", "--param", "c=0.1"]) == 1
    line = _fail_line(capsys)
    assert line.startswith("FAIL demo.centroid: init_stores_params: ") and "no parameter 'c'" in line, line


class Doubling(System):
    """Alters its parameter in __init__, so sklearn's clone (which checks each parameter comes back unchanged) fails."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale * 2


class NeedsAnArgument(System):
    """Cannot be built with its defaults: it has none."""

    def __init__(self, width):
        self.width = width


@pytest.mark.parametrize("name, target, why", [
    ("test.doubling", "Doubling", "clone(system) raised RuntimeError: Cannot clone object"),
    ("test.needs-argument", "NeedsAnArgument", "constructing it with its defaults raised TypeError"),
])
def test_a_system_that_breaks_init_is_one_fail_line(name, target, why, capsys):
    systems.register(name, f"tests.test_plugin:{target}")
    assert main(["check-system", name]) == 1
    line = _fail_line(capsys)
    assert line.startswith(f"FAIL {name}: init_stores_params: {why}"), line


def test_the_plugin_runs_a_suite(installed, tmp_path, capsys):
    args = ["run", str(FIXTURE / "demo-quick.toml"), "--quick", "--results", str(tmp_path / "res")]
    assert main(args + ["--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"]) == 0
    assert "4 ran ok, 0 failed" in capsys.readouterr().out
    text = (tmp_path / "rep" / "demo-quick-quick.md").read_text()
    assert "Centroid (demo plug-in)" in text and "MFCC" in text


def test_the_plugin_is_submitted_verified_compared_and_ranked(installed, tmp_path, capsys):
    results, reports = tmp_path / "res", tmp_path / "rep"
    run = ["run", str(FIXTURE / "demo-quick.toml"), "--results", str(results), "--reports", str(reports)]
    assert main(run + ["--no-progress", "--device", "cpu"]) == 0
    submission = tmp_path / "demo.json"
    assert main(["submit", str(results), "--out", str(submission)]) == 0
    assert main(["verify", str(submission), "--suites-dir", str(FIXTURE)]) == 0
    assert "verified: 4 trial(s)" in capsys.readouterr().out
    assert main(["compare", str(results), "Centroid (demo plug-in)", "MFCC", "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert "mcnemar" in out and "bootstrap" in out and "permutation" in out
    assert main(["leaderboard", str(submission), "--reports", str(reports), "--suites-dir", str(FIXTURE)]) == 0
    board = (reports / "leaderboard.md").read_text()
    section = "## synthetic (per_class=8, seconds=2.0) · stratified-kfold (folds=2, proportions=[0.5, 0.25, 0.25], seed=0) · accuracy"
    assert section in board and "Centroid (demo plug-in)" in board
    assert "submission:demo.json" in board and (reports / "leaderboard.html").exists()
    assert "## Significance" in (reports / "demo-quick.md").read_text()


def test_a_tampered_submission_is_kept_off_the_leaderboard(installed, tmp_path, capsys):
    import json

    results = tmp_path / "res"
    run = ["run", str(FIXTURE / "demo-quick.toml"), "--quick", "--results", str(results), "--reports", str(tmp_path)]
    assert main(run + ["--no-progress", "--device", "cpu"]) == 0
    submission = tmp_path / "demo.json"
    assert main(["submit", str(results), "--out", str(submission)]) == 0
    doc = json.loads(submission.read_text())
    doc["records"][0]["metrics"]["accuracy"] = 0.123
    submission.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["verify", str(submission), "--suites-dir", str(FIXTURE)]) == 1
    assert "accuracy is reported as 0.123" in capsys.readouterr().out
    assert main(["leaderboard", str(submission), "--reports", str(tmp_path)]) == 2  # nothing verified: nothing to rank
    assert "rejected" in capsys.readouterr().err
