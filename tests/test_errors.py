"""One error type for users, caught once in main(); any other exception keeps its traceback (STYLE rule 13)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import mirbench.cli
from mirbench.cli import main
from mirbench.errors import INTERNAL_ERROR, MirbenchError


def test_a_programming_error_keeps_its_traceback_and_asks_for_a_report(monkeypatch):
    def bug(args):
        raise TypeError("bug")

    monkeypatch.setattr(mirbench.cli, "cmd_list", bug)
    monkeypatch.setattr(mirbench.cli.parser().__class__, "parse_args", lambda self, argv=None: _args(bug))
    with pytest.raises(TypeError, match="bug") as caught:
        main(["list", "systems"])
    assert INTERNAL_ERROR in getattr(caught.value, "__notes__", [])


def _args(func):
    import argparse

    return argparse.Namespace(func=func, verbose=False)


def test_a_bug_run_as_a_program_prints_the_traceback_then_the_report_line(tmp_path):
    script = ("import sys, mirbench.cli\n"
              "def bug(args): raise TypeError('bug')\n"
              "mirbench.cli.cmd_list = bug\n"
              "p = mirbench.cli.parser\n"
              "def parser():\n"
              "    q = p()\n"
              "    q._subparsers._group_actions[0].choices['list'].set_defaults(func=bug)\n"
              "    return q\n"
              "mirbench.cli.parser = parser\n"
              "sys.exit(mirbench.cli.main(['list', 'systems']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback (most recent call last)" in done.stderr and "TypeError: bug" in done.stderr
    assert done.stderr.rstrip().endswith(INTERNAL_ERROR)
    assert "error: bug" not in done.stderr


def test_a_user_error_is_one_line_and_exit_2(capsys):
    assert main(["check-system", "mfcx"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_the_cli_catches_no_bare_value_or_type_error():
    source = Path(mirbench.cli.__file__).read_text()
    assert not re.findall(r"except\s*\(?[^:\n]*\b(ValueError|TypeError)\b", source)


def test_user_facing_errors_share_the_base_class():
    from mirbench.run.cluster import ClusterError
    from mirbench.datasets.base import DatasetError, UnknownEntryError
    from mirbench.fetch import FetchError
    from mirbench.registry import RegistryError
    from mirbench.report import ReportError
    from mirbench.results import ResultsError, ResultWriteError
    from mirbench.submission import SubmissionError
    from mirbench.suite import SuiteError

    for cls in (ClusterError, DatasetError, FetchError, RegistryError, ReportError, ResultsError, ResultWriteError,
                SubmissionError, SuiteError):
        assert issubclass(cls, MirbenchError), cls
    for cls in (UnknownEntryError, SuiteError, SubmissionError, ReportError):
        assert issubclass(cls, ValueError), cls  # callers that catch them as ValueError still do


def test_cluster_without_dask_names_the_extra(monkeypatch, write_suite, capsys):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    assert main(["run", str(write_suite()), "--cluster", "local:2", "--no-progress", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ('error: running on a cluster needs dask.distributed, which is not installed: '
                           'pip install "mirbench[dask]"')


@pytest.mark.parametrize("argv, message", [
    (["data", "check", "synthetic", "--param", "bogus=1"], "has no parameter 'bogus'"),
    (["data", "check", "synthetic", "--param", "per_class=x"], "'--param per_class' must be integer"),
    (["data", "splits", "stratified-kfold", "--dataset", "synthetic", "--protocol-param", "bogus=1"],
     "protocol 'stratified-kfold' has no parameter 'bogus'"),
    (["data", "splits", "fma-top10", "--dataset", "synthetic"], "is defined for the 'fma' dataset"),
    (["report", "."], "holds no suite.json"),
])
def test_bad_command_line_params_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_quick_reports_go_beside_their_results(write_suite, tmp_path, monkeypatch, capsys):
    suite = write_suite()
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "res"
    assert main(["run", str(suite), "--quick", "--results", str(results), "--no-progress", "--device", "cpu"]) == 0
    assert (results / "report" / "smoke-quick.md").is_file()
    assert not (tmp_path / "reports").exists()
    (results / "report" / "smoke-quick.md").unlink()
    assert main(["report", str(results)]) == 0
    assert (results / "report" / "smoke-quick.md").is_file() and not (tmp_path / "reports").exists()
