"""Submission bundles on disk: byte-stable compressed files, reports rebuilt from them byte for byte, the
submissions/ folder's names, and the limits an untrusted bundle meets before anything is written from it."""

from __future__ import annotations

import copy
import gzip
import json

import pytest

import mirbench
from mirbench.bundles import default_name, encode, extends, unpack, write_bundle
from mirbench.cli import main
from mirbench.submission import NOT_CHECKED, SubmissionError, bundle, read_submission, verify
from tests.test_submission import results  # noqa: F401  (the module's fixture: a real --quick run)


@pytest.fixture
def doc(results):  # noqa: F811
    return bundle(results)


def test_a_compressed_bundle_is_byte_stable_and_reads_back(doc, tmp_path):
    first, second = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    write_bundle(doc, first)
    write_bundle(copy.deepcopy(doc), second)
    assert first.read_bytes() == second.read_bytes()  # no time stamp in the gzip header
    assert first.read_bytes()[:2] == b"\x1f\x8b" and read_submission(first) == json.loads(json.dumps(doc))
    assert len(first.read_bytes()) < len(encode(doc, compressed=False)) / 3


def test_the_bundle_carries_what_a_maintainer_judges_it_by(doc):
    about = doc["about"]
    assert about["suite_hash"] == doc["suite"]["hash"]
    assert about["dataset_fingerprint"] == [doc["records"][0]["dataset"]["fingerprint"]]
    assert about["environment"]["mirbench"] == [mirbench.__version__] and about["environment"]["python"]
    assert about["hardware"]["cpu_count"] and about["hardware"]["device"] == ["cpu"]
    assert about["systems"] == [{"system": "mfcc", "package": "mirbench", "version": mirbench.__version__}]
    assert "code_revision" in about
    assert default_name(doc) == "tiny--mirbench.json.gz"


def test_a_report_from_the_bundle_is_the_runs_report_byte_for_byte(results, tmp_path, capsys):  # noqa: F811
    from mirbench.report import write_report

    direct = sorted(write_report(results, tmp_path / "direct"))
    path = tmp_path / "sub.json.gz"
    assert main(["submit", str(results), "--out", str(path)]) == 0
    assert main(["report", str(path), "--reports", str(tmp_path / "from-bundle")]) == 0
    rebuilt = sorted((tmp_path / "from-bundle").iterdir())
    assert [p.name for p in rebuilt] == [p.name for p in direct]
    for mine, theirs in zip(direct, rebuilt):
        assert mine.read_bytes() == theirs.read_bytes(), mine.name


def test_a_report_is_never_written_from_a_bundle_that_does_not_verify(doc, tmp_path, capsys):
    doc["records"][0]["metrics"]["accuracy"] = 0.123
    path = write_bundle(doc, tmp_path / "bad.json.gz")
    assert main(["report", str(path), "--reports", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "accuracy is reported as 0.123" in err and "no report was written" in err
    assert not (tmp_path / "out").exists()


def test_verify_says_what_it_cannot_check(results, tmp_path, capsys):  # noqa: F811
    path = tmp_path / "sub.json.gz"
    assert main(["submit", str(results), "--out", str(path)]) == 0
    assert main(["verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert NOT_CHECKED in out and "never saw the test tracks' labels" in out


def test_submit_names_the_bundle_and_never_replaces_another_runs(results, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    assert main(["submit", str(results)]) == 0
    path = tmp_path / "submissions" / "tiny--mirbench.json.gz"
    assert path.is_file() and capsys.readouterr().out.strip() == f"wrote {path.relative_to(tmp_path)}"
    assert main(["submit", str(results)]) == 0  # the same run again replaces its own bundle
    other = read_submission(path)
    other["suite"]["hash"] = "0" * 16  # another run of a suite by that name
    write_bundle(other, path)
    before = path.read_bytes()
    assert main(["submit", str(results)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds another run's submission" in err[0] and "--out" in err[0]
    assert path.read_bytes() == before


def test_a_resumed_run_extends_its_own_bundle_only(doc):
    fewer = copy.deepcopy(doc)
    fewer["records"] = fewer["records"][:1]
    assert extends(doc, fewer) and not extends(fewer, doc)
    changed = copy.deepcopy(doc)
    changed["records"][0]["identity"] = {"other": "inputs"}
    assert not extends(changed, doc)


@pytest.mark.parametrize("where, value", [
    ("failed", [{"trial_id": "../../outside", "status": "failed", "variant": {"system": "x", "label": "x", "id": "x"}}]),
    ("results_name", "../outside"),
    ("plan", {"../outside": "abc"}),
])
def test_nothing_in_a_bundle_names_a_file_outside_its_folder(doc, tmp_path, where, value):
    doc[where] = value
    result = verify(doc)
    assert not result.ok and where in result.problems[0]
    with pytest.raises(Exception):
        unpack(doc, tmp_path / "unpacked")
    assert not (tmp_path / "outside").exists() and not (tmp_path / "outside.json").exists()


def test_a_failed_trial_is_checked_as_a_record_too(doc):
    record = copy.deepcopy(doc["records"][0])
    record.update(status="failed", metrics="not a table")
    doc["failed"] = [record]
    result = verify(doc)
    assert not result.ok and "not a trial record as 'mirbench run' writes it" in result.problems[0]


def test_a_small_file_that_inflates_past_the_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(b'{"schema": "' + b" " * 3_000_000 + b'"}', mtime=0))
    monkeypatch.setenv("MIRBENCH_SUBMISSION_MAX_MB", "1")
    with pytest.raises(SubmissionError, match="decompresses to more than 1 MiB"):
        read_submission(path)


def test_a_truncated_gzip_file_is_one_line(doc, tmp_path):
    path = write_bundle(doc, tmp_path / "cut.json.gz")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(SubmissionError, match="is not a readable gzip file"):
        read_submission(path)
