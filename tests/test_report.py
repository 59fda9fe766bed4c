"""Reports: the suite's layout, published numbers beside reproduced ones, byte-stable regeneration."""

from __future__ import annotations

import csv
import io

import pytest

from mirbench.cli import main
from mirbench.report import csv_text, markdown, write_report
from mirbench.report.table import Layout, cells
from mirbench.results import ResultStore
from mirbench.runner import RunOptions, run_suite
from mirbench.suite import load_suite


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    import textwrap

    from tests.conftest import SMOKE_SUITE

    tmp = tmp_path_factory.mktemp("report")
    path = tmp / "smoke.toml"
    path.write_text(textwrap.dedent(SMOKE_SUITE))
    mp = pytest.MonkeyPatch()
    mp.setenv("MIRBENCH_CACHE", str(tmp / "cache"))
    run_suite(load_suite(path), RunOptions(results=tmp / "results", progress=False, device="cpu"))
    mp.undo()
    return tmp / "results"


def test_cells_are_mean_and_sample_std_over_folds(results):
    store = ResultStore(results)
    records = list(store.records())
    layout = Layout.from_suite(store.read_suite(), records)
    table = cells(records, layout)
    accs = [r["metrics"]["accuracy"] for r in records if r["variant"]["label"] == "PMSC"]
    cell = table[(("PMSC", ""), ("accuracy",))]
    assert cell.n == 2 and cell.mean == pytest.approx(sum(accs) / 2)
    assert cell.std == pytest.approx(abs(accs[0] - accs[1]) / 2 ** 0.5)


def test_markdown_layout_published_and_footer(results):
    store = ResultStore(results)
    text = markdown(store.read_suite(), list(store.records()), "results", "smoke-confusion.png")
    header = next(line for line in text.splitlines() if line.startswith("| System"))
    assert [h.strip() for h in header.strip("|").split("|")] == [
        "System", "C", "accuracy", "accuracy (published)", "normalised_accuracy", "roc_auc_macro"
    ]
    pmsc = next(line for line in text.splitlines() if line.startswith("| PMSC"))
    assert "0.680" in pmsc and " ± " in pmsc
    assert "Published numbers: A paper, Table 2." in text
    assert "## Provenance" in text and "hash `" in text
    assert "**Skipped tracks**: none" in text
    assert "![confusion matrices](smoke-confusion.png)" in text


def test_csv_has_one_line_per_cell(results):
    store = ResultStore(results)
    rows = list(csv.DictReader(io.StringIO(csv_text(store.read_suite(), list(store.records())))))
    assert len(rows) == 3 * 3  # (MFCC C=1, MFCC C=10, PMSC) x three metrics
    pub = [r for r in rows if r["published"]]
    assert len(pub) == 1 and pub[0]["system"] == "PMSC" and float(pub[0]["published"]) == 0.68


def test_regenerating_gives_identical_bytes(results, tmp_path):
    first = write_report(results, tmp_path / "a")
    assert main(["report", str(results), "--reports", str(tmp_path / "b")]) == 0
    second = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert sorted(p.name for p in first) == second
    for a in first:
        assert a.read_bytes() == (tmp_path / "b" / a.name).read_bytes(), a.name
    assert {p.suffix for p in first} == {".md", ".csv", ".tex", ".png"}


def test_report_of_a_non_results_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no suite.json" in capsys.readouterr().err


def test_chance_line_and_latex(results):
    store = ResultStore(results)
    suite, records = store.read_suite(), list(store.records())
    text = markdown(suite, records, "results", None)
    assert "- **Chance**: accuracy 0.333" in text  # three balanced classes
    from mirbench.report import latex

    tex = latex(suite, records)
    assert r"\toprule" in tex and r"$\pm$" in tex and "±" not in tex


def test_failed_trials_are_listed(tmp_path, write_suite):
    from mirbench.registry import systems
    from tests.test_runner import PRIOR_SUITE

    systems.register("test.prior", "tests.helpers:PriorSystem")
    run_suite(load_suite(write_suite(PRIOR_SUITE)), RunOptions(results=tmp_path / "res", progress=False, device="cpu"))
    store = ResultStore(tmp_path / "res")
    text = markdown(store.read_suite(), list(store.records()), "res", None)
    assert "## Failed trials" in text
    assert text.count("this variant fails on purpose") == 4
    assert "4 ok, 4 failed" in text
    assert "| epochs 3, train_s 0 |" in text.replace("  ", "")  # what the system reported about training
