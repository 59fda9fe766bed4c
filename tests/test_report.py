"""Reports: the suite's layout, published numbers beside reproduced ones, byte-stable regeneration."""

from __future__ import annotations

import csv
import io

import pytest

from mirbench.cli import main
from mirbench.report import csv_text, markdown, write_report
from mirbench.report.cells import Layout, cells
from mirbench.results import ResultStore
from mirbench.run import RunOptions, run_suite
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


def coverage_record(fold: int, seed: int, excluded: list[int], counts: dict[str, int], label: str = "PMSC") -> dict:
    """A minimal ok record of a six-class trial whose test split has these class counts."""
    return {
        "status": "ok", "seed": seed, "variant": {"label": label, "params": {}},
        "dataset": {"task": "single-label", "classes": list(counts)},
        "fold": {"index": fold, "test": sum(counts.values()), "class_counts": {"test": counts}},
        "metrics": {"accuracy": 0.5, "normalised_accuracy": 0.5, "roc_auc_macro": 0.75},
        "auc_undefined_classes": excluded,
        "confusion": [[0] * len(counts) if counts[c] == 0 else [1] + [0] * (len(counts) - 1) for c in counts],
    }  # fmt: skip


def test_a_macro_average_over_fewer_classes_is_said_under_the_table():
    """Issue #17 item 6: a class without a positive test track drops out of a macro AUC; the report says so."""
    from mirbench.report import sections, tables

    full = dict(zip("abcdef", [3] * 6))
    records = [
        coverage_record(0, 0, [], full),
        coverage_record(2, 0, [5], {**full, "f": 0}),
        coverage_record(1, 0, [], full, "MFCC"),
    ]
    note = sections.macro_coverage(records, ["accuracy", "roc_auc_macro", "normalised_accuracy"])
    assert "- roc_auc_macro: macro over 5 of 6 classes in fold 2 (no positive test track of 'f')" in note
    assert "- normalised_accuracy: macro over 5 of 6 classes in fold 2 (no test track of 'f')" in note
    assert "accuracy:" not in note.replace("normalised_accuracy:", "")
    assert sections.macro_coverage(records[:1], ["roc_auc_macro"]) == ""  # every class counted: nothing to say
    # recorded per metric when the record has it, and seeds named when there are several
    recorded = {**coverage_record(3, 1, [], full), "macro_excluded": {"roc_auc_macro": [0, 1]}}
    note = sections.macro_coverage(records + [recorded], ["roc_auc_macro"])
    assert "macro over 5 of 6 classes in fold 2, seed 0 (no positive test track of 'f'); over 4 of 6 classes in fold 3, seed 1" in note
    suite = {"name": "s", "metrics": ["roc_auc_macro"], "report": {"tables": [
        {"title": "PMSC only", "rows": ["system"], "columns": ["metric"], "where": {"system": "PMSC"}},
        {"title": "MFCC only", "rows": ["system"], "columns": ["metric"], "where": {"system": "MFCC"}},
    ]}}  # fmt: skip
    pmsc, mfcc = tables.markdown_sections(suite, records)
    assert "macro over 5 of 6 classes in fold 2" in pmsc and "macro over" not in mfcc


def test_a_tag_on_every_test_track_is_named_as_the_reason():
    from mirbench.report import sections

    record = coverage_record(1, 0, [0], {"piano": 4, "fast": 2})
    record["dataset"]["task"] = "multi-label"
    record["fold"]["test"] = 4  # four test tracks, all tagged piano
    assert "macro over 1 of 2 classes in fold 1 (every test track has 'piano')" in sections.macro_coverage(
        [record], ["roc_auc_macro"]
    )


def test_provenance_names_the_cpu_kernels_the_numbers_came_from():
    """Issue #17 item 7: the same run gives 0.746 on AVX-512 kernels and 0.744 on AVX2 ones; the report says which."""
    from mirbench.report import sections

    records = [
        {**coverage_record(0, 0, [], {"a": 1}), "provenance": {"cpu_kernels": "torch AVX512; openblas SkylakeX"}},
        {**coverage_record(1, 0, [], {"a": 1}), "provenance": {"cpu_kernels": "torch AVX2; openblas Haswell"}},
    ]
    text = sections.provenance({"name": "s", "version": "1"}, records, "results")
    assert "cpu kernels: torch AVX2; openblas Haswell, torch AVX512; openblas SkylakeX" in text
    assert "cpu kernels" not in sections.provenance({"name": "s", "version": "1"}, records[:0], "results")
