"""Submissions that try to game verification, and untrusted files that try to reach outside (issue #17, items 8-13).

Every test here failed on the code before the fix: each builds the tampered file the issue describes and checks the
one line it must now give (or that nothing is written outside, or nothing of a file's content is printed)."""

from __future__ import annotations

import copy
import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from mirbench.cli import main
from mirbench.submission import bundle, read_submission, verify
from tests.test_submission import SUITE, results  # noqa: F401  (the module-scoped quick run of the tiny suite)

SECRET = "s3cr3t-c0ntent"


def resign(sub: dict) -> dict:
    """What a submitter who edits the suite does: recompute the hash over the edited document."""
    doc = sub["suite"]
    data = {k: v for k, v in doc.items() if k not in ("hash", "quick_run")}
    doc["hash"] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return sub


@pytest.fixture
def submission(results) -> dict:  # noqa: F811
    return bundle(results)


@pytest.fixture
def registered(tmp_path) -> Path:
    """A verifier's suites directory that holds the tiny suite."""
    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "tiny.toml").write_text(textwrap.dedent(SUITE))
    return folder


def write(doc, path: Path) -> Path:
    path.write_text(json.dumps(doc))
    return path


def one_line(capsys) -> tuple[list[str], list[str]]:
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return out.out.splitlines(), out.err.splitlines()


# -- item 8: the suite must be the registered one, the trials the planned ones ---------------------------------------


def test_seeds_copied_under_an_edited_registered_suite_are_rejected(submission, registered):
    """Four real trials copied under seeds 0-9 (the hash recomputed) no longer verify as forty."""
    sub = submission
    sub["suite"]["seeds"] = list(range(10))
    sub["suite"]["quick_run"] = False
    copies = []
    for record in sub["records"]:
        for seed in range(10):
            twin = copy.deepcopy(record)
            twin["seed"] = seed
            twin["trial_id"] = record["trial_id"].replace(".seed0", f".seed{seed}")
            copies.append(twin)
    sub["records"] = copies
    resign(sub)
    result = verify(sub, suites_dir=registered)
    assert not result.ok
    (problem,) = result.problems
    assert problem.startswith(f"suite tiny differs from the registered suite {registered / 'tiny.toml'} at: seeds")
    assert "0, 1, 2" not in problem  # key paths, never the file's values


def test_changed_labels_and_unknown_keys_of_a_registered_suite_are_rejected(submission, registered):
    sub = submission
    sub["suite"]["systems"][0]["label"] = "Best system"
    sub["suite"]["bonus"] = {"x": 1}
    result = verify(resign(sub), suites_dir=registered)
    assert not result.ok
    assert "at: bonus, systems[0].label" in result.problems[0] and "Best system" not in result.problems[0]


def test_an_unregistered_suite_is_verified_as_new_and_checked_like_a_suite_file(submission, registered, tmp_path):
    assert verify(copy.deepcopy(submission), suites_dir=registered).new_suite is False
    result = verify(copy.deepcopy(submission), suites_dir=tmp_path / "empty")
    assert result.ok and result.new_suite is True, result.problems
    submission["suite"]["bonus"] = 1  # no local file to compare with: the suite schema itself refuses it
    result = verify(resign(submission), suites_dir=tmp_path / "empty")
    assert not result.ok and "unknown key 'bonus'" in result.problems[0]


def test_cli_verify_says_when_a_suite_is_new(submission, tmp_path, capsys):
    path = write(submission, tmp_path / "sub.json")
    assert main(["verify", str(path), "--suites-dir", str(tmp_path / "none")]) == 0
    out, _ = one_line(capsys)
    assert any(line.startswith("note: suite tiny is not registered") and "NEW suite" in line for line in out)


def test_duplicate_renamed_and_extra_trials_are_rejected(submission, registered):
    twin = copy.deepcopy(submission["records"][0])
    renamed = copy.deepcopy(submission["records"][1])
    renamed["seed"], renamed["trial_id"] = 1, renamed["trial_id"].replace(".seed0", ".seed1")
    submission["records"] += [twin, renamed]
    problems = verify(submission, suites_dir=registered).problems
    assert f"trial {twin['trial_id']} appears more than once" in problems
    assert f"trial {renamed['trial_id']} is not a trial of suite tiny" in problems


def test_another_mirbench_version_is_rejected(submission):
    submission["mirbench"] = "0.0.1"
    result = verify(submission)
    assert not result.ok
    assert result.problems[0].startswith("the submission was made with mirbench 0.0.1; this verifier is mirbench ")


# -- item 9: cherry-picked and empty submissions -------------------------------------------------------------------


def test_a_cherry_picked_submission_is_incomplete(submission, registered, tmp_path, capsys):
    dropped = submission["records"].pop(1)
    result = verify(copy.deepcopy(submission), suites_dir=registered)
    assert result.ok and not result.complete and (result.submitted, result.planned) == (1, 2)
    assert result.missing == [dropped["trial_id"]]
    path = write(submission, tmp_path / "picked.json")
    assert main(["verify", str(path), "--suites-dir", str(registered)]) == 1
    out, _ = one_line(capsys)
    assert any("INCOMPLETE: 1 of 2 planned trials" in line for line in out)


def test_an_empty_submission_is_rejected(submission):
    submission["records"] = []
    result = verify(submission)
    assert not result.ok and result.problems == ["the submission holds no trial record; bundle a run with 'mirbench submit'"]


def test_the_leaderboard_ranks_an_incomplete_submission_apart(submission, registered, tmp_path, capsys):
    full = write(submission, tmp_path / "full.json")
    picked = copy.deepcopy(submission)
    picked["records"].pop(0)
    picked = write(picked, tmp_path / "picked.json")
    reports = tmp_path / "board"
    args = ["leaderboard", str(picked), str(full), "--reports", str(reports), "--suites-dir", str(registered)]
    assert main(args) == 0
    board = (reports / "leaderboard.md").read_text()
    rows = [line for line in section(board, "accuracy").splitlines() if line.startswith("| ")]
    picked_row = next(row for row in rows if "picked.json" in row)
    assert "(incomplete: 1 of 2 trials)" in picked_row and picked_row.startswith("| —")
    assert "(incomplete" not in next(row for row in rows if "full.json" in row)


def test_the_leaderboard_labels_a_new_suite_and_does_not_rank_it(submission, tmp_path, capsys):
    path = write(submission, tmp_path / "new.json")
    reports = tmp_path / "board"
    assert main(["leaderboard", str(path), "--reports", str(reports), "--suites-dir", str(tmp_path / "none")]) == 0
    board = (reports / "leaderboard.md").read_text()
    (line,) = [row for row in section(board, "accuracy").splitlines() if "new.json" in row]
    assert "(new suite 'tiny', not registered here)" in line and line.startswith("| —")


def section(board: str, metric: str) -> str:
    """The text of the board's first section on `metric` (its heading ends "<dataset>, <protocol>: <metric>")."""
    heads = [h for h in board.split("\n## ")[1:] if h.split("\n", 1)[0].split(": ")[-1].startswith(metric)]
    return heads[0]


# -- item 10: every field read is typed and bounded -------------------------------------------------------------------


def set_path(doc: dict, path: str, value) -> dict:
    *parents, last = path.split("/")
    here = doc
    for key in parents:
        here = here[int(key)] if isinstance(here, list) else here[key]
    if value is DELETE:
        del here[last]
    else:
        here[int(last) if isinstance(here, list) else last] = value
    return doc


DELETE = object()

MALFORMED = {
    "records not a list": ("records", {"a": 1}, "'records' must be a list"),
    "a record not a table": ("records/0", 7, "record 1 must be a table"),
    "suite missing": ("suite", DELETE, "'suite' is missing"),
    "suite not a table": ("suite", ["tiny"], "'suite' must be a table"),
    "predictions missing": ("records/0/predictions", DELETE, "'predictions' is missing"),
    "track_ids not a list": ("records/0/predictions/track_ids", "a.000", "'predictions.track_ids' must be a list"),
    "fold a string": ("records/0/fold", "0", "'fold' must be a table"),
    "metrics a list": ("records/0/metrics", [0.5], "'metrics' must be a table"),
    "trial_id a list": ("records/0/trial_id", ["x"], "record 1: 'trial_id' must be a plain name"),
    "seed a string": ("records/0/seed", "0", "'seed' must be a whole number"),
    "suite name with a path": ("suite/name", "../tiny", "'suite.name' must be a plain name"),
    "n_parameters a string": ("records/0/n_parameters", "many", "'n_parameters' must be a whole number"),
    "n_parameters infinite": ("records/0/n_parameters", float("inf"), "'n_parameters' must be a whole number"),
    "fit_s as text": ("records/0/timings/fit_s", "ten", "'timings.fit_s' must be a finite number"),
    "a metric as text": ("records/0/metrics/accuracy", "high", "'metrics.accuracy' must be a finite number"),
    "device name too long": ("records/0/provenance/device_name", "x" * 5000, "'provenance.device_name' must be"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_submission_is_one_line_and_the_others_are_still_ranked(case, submission, tmp_path, capsys):
    good = write(copy.deepcopy(submission), tmp_path / "good.json")
    where, value, message = MALFORMED[case]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(set_path(submission, where, value)))  # json writes inf as Infinity, as a forger would
    assert main(["verify", str(bad)]) != 0
    out, err = one_line(capsys)
    lines = [line for line in out + err if line.startswith(("REJECTED:", "error:"))]
    assert len(lines) == 1 and message in lines[0], out + err
    reports = tmp_path / "board"
    assert main(["leaderboard", str(bad), str(good), "--reports", str(reports)]) == 1
    out, err = one_line(capsys)
    assert len([line for line in err if "bad.json" in line]) == 1
    assert "submission:good.json" in (reports / "leaderboard.md").read_text()


def test_deeply_nested_json_is_refused_in_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text('{"schema": "mirbench.submission/1", "suite": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ValueError, match="nested too deeply"):
        read_submission(deep)
    assert main(["verify", str(deep)]) == 2
    _, err = one_line(capsys)
    assert len(err) == 1 and err[0].startswith("error:")


def test_moderate_nesting_in_a_record_is_refused(submission):
    nested: list = []
    for _ in range(200):
        nested = [nested]
    submission["records"][0]["training"] = {"history": nested}
    result = verify(submission)
    assert not result.ok and "nested more than" in result.problems[0]


# -- item 11: messages name the file, never its contents ----------------------------------------------------------


def test_fixed_split_errors_never_print_the_lines_of_a_list_file(tmp_path):
    from mirbench.protocols import FixedSplit
    from tests.test_protocols import single_label

    listed = tmp_path / "ids.txt"
    listed.write_text(f"a.00000\n{SECRET}-1\n{SECRET}-2\n")
    with pytest.raises(ValueError) as unknown:
        FixedSplit(train=listed, test=["a.00001"]).folds(single_label({"a": 3}))
    assert SECRET not in str(unknown.value) and str(listed) in str(unknown.value)
    assert "lines 2, 3 of" in str(unknown.value)
    listed.write_text(f"{SECRET}\n{SECRET}\n")
    with pytest.raises(ValueError) as twice:
        FixedSplit(train=listed)
    assert SECRET not in str(twice.value) and "lines 1, 2" in str(twice.value)
    listed.write_text(f"{SECRET}\n")
    with pytest.raises(ValueError) as overlap:
        FixedSplit(train=listed, test=[SECRET])
    assert str(overlap.value).count(SECRET) <= 1  # the suite's own inline id may show; the file's line does not
    assert "line 1 of" in str(overlap.value)


def test_gtzan_checksum_errors_never_print_the_json_they_read(tmp_path):
    from mirbench.datasets.base import DatasetError
    from mirbench.datasets.gtzan import read_checksums

    path = tmp_path / "any.json"
    path.write_text(json.dumps({f"{SECRET}-key": f"{SECRET}-value"}))
    with pytest.raises(DatasetError) as bad:
        read_checksums(path)
    assert SECRET not in str(bad.value) and str(path) in str(bad.value)
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DatasetError, match="nested too deeply"):
        read_checksums(path)


# -- item 12: the verifier's paths and bounded sizes only; reports stay in --reports ---------------------------------


def with_suite(submission: dict, section: str, table: dict) -> dict:
    submission["suite"][section] = table
    return resign(submission)


def test_a_submitted_cache_dir_is_refused_and_nothing_is_built_there(submission, tmp_path):
    outside = tmp_path / "outside"
    sub = with_suite(submission, "dataset", {"name": "corpus", "cache_dir": str(outside), "clips_per_class": 1})
    result = verify(sub)
    assert not result.ok and not outside.exists()
    assert result.problems[0].startswith("the submitted suite names a path in 'dataset.cache_dir'")


def test_a_submitted_split_list_path_is_refused_before_it_is_read(submission, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET + "\n")
    sub = with_suite(submission, "protocol", {"name": "fixed-split", "train": str(secret), "test": ["x"]})
    result = verify(sub)
    assert not result.ok and "'protocol.train'" in result.problems[0]
    assert SECRET not in " ".join(result.problems)


def test_unbounded_synthetic_sizes_are_refused(submission):
    result = verify(with_suite(submission, "dataset", {"name": "synthetic", "per_class": 10**9}))
    assert not result.ok and "'dataset.per_class'" in result.problems[0] and "at most" in result.problems[0]


def test_report_of_a_suite_named_with_dots_writes_nothing_outside(results, tmp_path, capsys):  # noqa: F811
    import shutil

    copied = shutil.copytree(results, tmp_path / "theirs")
    doc = json.loads((copied / "suite.json").read_text())
    doc["name"] = "../escaped"
    (copied / "suite.json").write_text(json.dumps(doc))
    reports = tmp_path / "reports" / "inner"
    assert main(["report", str(copied), "--reports", str(reports)]) == 2
    _, err = one_line(capsys)
    assert len(err) == 1 and "plain file name" in err[0]
    assert not list((tmp_path / "reports").glob("escaped*")) and not (reports.parent / "escaped.md").exists()


# -- item 13: a stated size limit, checked before reading -------------------------------------------------------


def test_a_submission_over_the_size_limit_is_refused_before_it_is_read(submission, tmp_path, monkeypatch):
    path = write(submission, tmp_path / "big.json")
    monkeypatch.setenv("MIRBENCH_SUBMISSION_MAX_MB", str(path.stat().st_size / 2**20 / 2))
    with pytest.raises(ValueError, match="over the limit of"):
        read_submission(path)
    monkeypatch.setenv("MIRBENCH_SUBMISSION_MAX_MB", "64")
    assert read_submission(path)["records"]


def test_a_submission_that_is_not_a_regular_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a regular file"):
        read_submission(tmp_path)


def test_local_results_missing_planned_trials_are_listed_apart_in_both_formats(tmp_path):
    """A results directory whose plan.json plans three trials but holds two successful ones is not ranked."""
    from mirbench import leaderboard
    from mirbench.run.identity import digest
    from mirbench.results import ResultStore
    from tests.test_leaderboard import record, suite

    def planned(label: str, fold: int) -> dict:
        r = record(label, fold, 0.9 - fold / 10)
        r["trial_id"] = f"{r['variant']['id']}.fold{fold}.seed0"
        return r

    store = ResultStore(tmp_path / "partial")
    store.write_suite(suite())
    store.write_plan({planned("CNN", f)["trial_id"]: digest(None) for f in range(3)})  # records without identity
    for fold in range(2):
        store.write(planned("CNN", fold))
    full = {"source": "local:full", "suite": suite(), "records": [planned("MLP", f) for f in range(3)]}
    table_rows = leaderboard.rows([leaderboard.entry_from_results(tmp_path / "partial"), full])
    md = leaderboard.markdown(table_rows)
    ranked, apart = section(md, "accuracy").split("Not ranked")
    assert "MLP" in ranked and "CNN" not in ranked
    assert "| —" in apart and "CNN (incomplete: 2 of 3 trials)" in apart
    from mirbench.site.board import page as board_page

    page = board_page(table_rows)
    assert page.count("Not ranked: incomplete runs and suites not registered here") == 2  # one per metric section
    assert 'data-value="nan">—</td>' in page
