"""`mirbench plan`: the planned trials, which are done or have cached features, an estimate, and no writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

from mirbench.cli import main
from tests.test_bad_input import cli_error


def snapshot(folder: Path) -> dict:
    """Every file under `folder` with its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def plan_json(capsys, suite: Path, results: Path, cache: Path) -> dict:
    assert main(["plan", str(suite), "--device", "cpu", "--results", str(results), "--cache-dir", str(cache),
                 "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_plan_after_a_partial_run_names_done_cached_and_to_run_and_writes_nothing(write_suite, tmp_path, capsys,
                                                                                   monkeypatch):
    monkeypatch.delenv("MIRBENCH_NO_ESTIMATE")
    suite, results, cache = write_suite(), tmp_path / "results", tmp_path / "cache"
    assert main(["run", str(suite), "--device", "cpu", "--results", str(results), "--cache-dir", str(cache),
                 "--reports", str(tmp_path / "reports"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "estimated " in err and " for 6 trials on cpu (calibrated in " in err  # run prints the plan's line
    records = sorted((results / "trials").glob("*.json"))
    assert len(records) == 6
    records[0].unlink()  # a trial to run again, its features cached
    records[1].write_text("{not json")  # an invalid record: the run would set it aside; the plan must not
    before = snapshot(results)

    doc = plan_json(capsys, suite, results, cache)
    states = {t["trial_id"]: t["state"] for t in doc["trials"]}
    assert len(states) == 6
    assert {states[records[0].stem], states[records[1].stem]} == {"cached features"}
    assert [s for tid, s in states.items() if tid not in (records[0].stem, records[1].stem)] == ["done"] * 4
    assert snapshot(results) == before  # nothing created, changed or renamed

    fresh = plan_json(capsys, suite, results, tmp_path / "empty-cache")  # same results, features not cached
    states = {t["trial_id"]: t["state"] for t in fresh["trials"]}
    assert states[records[0].stem] == states[records[1].stem] == "to run"
    assert list(states.values()).count("done") == 4
    assert snapshot(results) == before


def test_plan_json_shape_and_a_positive_estimate_for_a_new_run(write_suite, tmp_path, capsys):
    results = tmp_path / "never-run"
    doc = plan_json(capsys, write_suite(), results, tmp_path / "cache")
    assert isinstance(doc["trials"], list) and len(doc["trials"]) == 6
    for trial in doc["trials"]:
        assert {"trial_id", "system", "state", "seconds", "features_s", "fit_s"} <= set(trial)
        assert trial["state"] == "to run" and trial["seconds"] > 0 and math.isfinite(trial["seconds"])
    assert isinstance(doc["estimated_seconds"], float)
    assert doc["estimated_seconds"] > 0 and math.isfinite(doc["estimated_seconds"])
    assert not results.exists()  # planning a run creates no results directory


def test_plan_table_ends_with_the_estimate_line(write_suite, tmp_path, capsys):
    assert main(["plan", str(write_suite()), "--device", "cpu", "--results", str(tmp_path / "r"),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["trial", "state", "estimated"]
    rows = [line.split() for line in lines[1:7]]
    assert [(row[1], row[2], row[-1]) for row in rows] == [("to", "run", "s")] * 6 and all(float(r[3]) > 0 for r in rows)
    assert lines[-1].startswith("estimated ") and "for 6 trials on cpu (calibrated in " in lines[-1]


def test_plan_of_a_missing_suite_is_one_line(tmp_path, capsys):
    line = cli_error(["plan", str(tmp_path / "nope.toml")], capsys)
    assert "nope.toml" in line


def test_plan_refuses_bad_workers_in_one_line(write_suite, capsys):
    line = cli_error(["plan", str(write_suite()), "--workers", "0"], capsys)
    assert "--workers" in line
