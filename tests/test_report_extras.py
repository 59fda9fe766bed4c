"""Report extras: several tables with `where` filters, the per-class table, and the learned-filter figure."""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
import textwrap

import numpy as np
import pytest

from mirbench.registry import systems
from mirbench.report import csv_text, latex, markdown, write_report
from mirbench.report.plots import filter_spectra_by_variant, normalised_spectra, order_by_dominant_frequency
from mirbench.results import ResultStore
from mirbench.run import RunOptions, run_suite
from mirbench.suite import SuiteError, load_suite
from tests.helpers import PriorSystem, grid_under

# ----------------------------------------------------------------------------- hand-built records


def record(label, params, fold, seed=0, metrics=None, per_class=None, task="single-label",
           classes=("guitar", "drums", "voice"), status="ok", diagnostics=None) -> dict:
    """A trial record with just the fields the report reads."""
    tid = f"{label}-{'-'.join(f'{k}{v}' for k, v in params.items())}.fold{fold}.seed{seed}"
    r = {
        "trial_id": tid,
        "status": status,
        "variant": {"system": label.lower(), "label": label, "params": params, "id": tid.split(".")[0]},
        "fold": {"index": fold, "train": 6, "valid": 0, "test": 3},
        "seed": seed,
        "dataset": {"classes": list(classes), "task": task, "n_tracks": 9, "fingerprint": "f"},
        "metrics": metrics or {},
        "per_class": per_class or {},
        "timings": {"features_s": 0.0, "fit_s": 1.0, "predict_s": 0.5},
        "provenance": {},
        "skipped": [],
    }
    if diagnostics is not None:
        r["diagnostics"] = diagnostics
    if status != "ok":
        r["error"] = {"type": "RuntimeError", "message": "broken on purpose", "traceback": ""}
    return r


def suite_doc(report: dict, metrics=("accuracy", "roc_auc_macro")) -> dict:
    return {
        "name": "extras", "version": "1", "hash": "h", "metrics": list(metrics),
        "dataset": {"name": "synthetic"}, "protocol": {"name": "stratified-kfold", "folds": 2}, "report": report,
    }


def cnn(pool, dropout, fold, acc, auc):
    return record("CNN", {"pool_size": pool, "dropout": dropout}, fold, metrics={"accuracy": acc, "roc_auc_macro": auc})


RECORDS = [
    cnn(2, True, 0, 0.60, 0.90), cnn(2, True, 1, 0.80, 0.80),
    cnn(4, True, 0, 0.70, 0.85), cnn(4, True, 1, 0.70, 0.95),
    cnn(2, False, 0, 0.10, 0.50), cnn(2, False, 1, 0.10, 0.50),
    record("MLP", {"hidden": 50}, 0, metrics={"accuracy": 0.5, "roc_auc_macro": 0.6}),
    record("MLP", {"hidden": 50}, 1, metrics={"accuracy": 0.5, "roc_auc_macro": 0.6}),
]

TABLES = {
    "tables": [
        {
            "title": "Pooling",
            "rows": ["pool_size"],
            "columns": ["metric"],
            "where": {"system": "CNN", "dropout": True},
            "published": [{"pool_size": 4, "metric": "accuracy", "value": 0.5, "std": 0.02, "source": "Paper, Table 1"}],
        },
        {"title": "Systems", "rows": ["system"], "columns": ["metric"], "metrics": ["accuracy"]},
    ]
}


# ----------------------------------------------------------------------------- several tables


def test_tables_render_one_subsection_each_with_where_and_published():
    text = markdown(suite_doc(TABLES), RECORDS, "results", None)
    results = text.split("## Results\n\n", 1)[1]
    assert results.startswith("### Pooling\n")
    assert results.index("### Pooling") < results.index("### Systems") < results.index("Mean ± sample")
    assert text.count("Mean ± sample standard deviation over folds and seeds (8 successful trials).") == 1
    assert grid_under(text, "### Pooling") == [
        ["pool_size", "accuracy", "accuracy (published)", "roc_auc_macro"],
        ["4", "0.700 ± 0.000", "0.500 ± 0.020", "0.900 ± 0.071"],  # rows with published numbers first, in their order
        ["2", "0.700 ± 0.141", "", "0.850 ± 0.071"],  # dropout=False trials are left out by `where`
    ]
    cnn_accs = [0.60, 0.80, 0.70, 0.70, 0.10, 0.10]
    assert grid_under(text, "### Systems") == [
        ["System", "accuracy"],
        ["CNN", f"{statistics.mean(cnn_accs):.3f} ± {statistics.stdev(cnn_accs):.3f}"],
        ["MLP", "0.500 ± 0.000"],
    ]
    assert "Published numbers: Paper, Table 1." in text


def test_tables_csv_is_long_form_with_table_titles():
    rows = list(csv.DictReader(io.StringIO(csv_text(suite_doc(TABLES), RECORDS))))
    assert list(rows[0]) == ["table", "row", "column", "mean", "std", "n", "published", "published_std"]
    assert [r["table"] for r in rows] == ["Pooling"] * 4 + ["Systems"] * 2
    four = next(r for r in rows if r["row"] == "pool_size=4" and r["column"] == "metric=accuracy")
    assert float(four["mean"]) == pytest.approx(0.7) and four["n"] == "2"
    assert (four["published"], four["published_std"]) == ("0.5", "0.02")
    assert [r["row"] for r in rows if r["table"] == "Systems"] == ["system=CNN", "system=MLP"]


def test_tables_latex_has_one_commented_tabular_each():
    tex = latex(suite_doc(TABLES), RECORDS)
    assert tex.startswith("% Pooling\n\\begin{tabular}")
    assert "\n% Systems\n\\begin{tabular}" in tex
    assert tex.count(r"\toprule") == 2 and r"$\pm$" in tex and "±" not in tex


def test_single_table_report_is_unchanged_by_the_new_code():
    doc = suite_doc({"rows": ["system"]})
    text = markdown(doc, RECORDS, "results", None)
    assert "###" not in text and "## Per-" not in text and "## Learned filters" not in text
    assert csv_text(doc, RECORDS).splitlines()[0] == "system,metric,mean,std,n,published,published_std"


# ----------------------------------------------------------------------------- suite checks

SUITE = """
version = "1"
metrics = ["accuracy", "roc_auc_macro"]

[dataset]
name = "synthetic"

[protocol]
name = "stratified-kfold"
folds = 2

[[systems]]
name = "mfcc"
grid = { C = [1.0, 10.0], n_mfcc = [13, 20] }

[[systems]]
name = "pmsc"
label = "PMSC"
params = { n_components = 16 }

[[report.tables]]
title = "By C"
rows = ["C"]
columns = ["metric"]
where = { n_mfcc = 13 }

[[report.tables]]
title = "Systems"
rows = ["system"]
columns = ["metric"]
metrics = ["accuracy"]

[[report.tables.published]]
system = "PMSC"
value = 0.68

[report.per_class]
metric = "roc_auc"
columns = ["system", "C"]
where = { system = "mfcc" }
"""

BAD_SUITES = {
    "unknown where dimension": (
        ("where = { n_mfcc = 13 }", "where = { nmfcc = 13 }"),
        "'report.tables[0].where.nmfcc' is not a layout dimension — did you mean 'n_mfcc'?",
    ),
    "where value no variant has": (
        ("where = { n_mfcc = 13 }", "where = { n_mfcc = 14 }"),
        "'report.tables[0].where.n_mfcc' = 14 matches no variant",
    ),
    "where value not a scalar": (
        ("where = { n_mfcc = 13 }", "where = { n_mfcc = [13] }"),
        "'report.tables[0].where.n_mfcc' must be string or integer or float or boolean, got array",
    ),
    "rows beside tables": (
        ('[[report.tables]]\ntitle = "By C"', '[report]\nrows = ["system"]\n\n[[report.tables]]\ntitle = "By C"'),
        "'report.rows' and 'report.tables' are both given; use one or the other",
    ),
    "unknown key in a table": (
        ('rows = ["system"]\ncolumns', 'rows = ["system"]\ncolums'),
        "unknown key 'report.tables[1].colums' — did you mean 'columns'?",
    ),
    "table without title": (('title = "Systems"\n', ""), "missing required key 'report.tables[1].title'"),
    "unknown row dimension": (('rows = ["C"]', 'rows = ["c"]'), "'report.tables[0].rows[0]': 'c' is not a layout dimension"),
    "table metric not computed": (
        ('metrics = ["accuracy"]\n\n', 'metrics = ["pr_auc_macro"]\n\n'),
        "'report.tables[1].metrics[0]': 'pr_auc_macro' is not among the suite's metrics",
    ),
    "several metrics and no metric dimension": (
        ('rows = ["C"]\ncolumns = ["metric"]', 'rows = ["C"]\ncolumns = ["system"]'),
        "'report.tables[0]': put 'metric' in rows or columns",
    ),
    "published key not a dimension of the table": (
        ('system = "PMSC"\nvalue', 'C = 1.0\nvalue'),
        "'report.tables[1].published[0].C' is not a dimension of this table",
    ),
    "per-class metric": (('metric = "roc_auc"', 'metric = "auc"'), "'report.per_class.metric' must be 'roc_auc' or 'pr_auc'"),
    "per-class column": (('columns = ["system", "C"]', 'columns = ["sytem"]'), "did you mean 'system'?"),
}


def test_a_suite_with_tables_and_per_class_loads(tmp_path):
    path = tmp_path / "extras.toml"
    path.write_text(textwrap.dedent(SUITE))
    report = load_suite(path).report
    assert [t["title"] for t in report["tables"]] == ["By C", "Systems"]
    assert report["per_class"]["metric"] == "roc_auc"


@pytest.mark.parametrize("case", sorted(BAD_SUITES))
def test_bad_tables_and_per_class_are_load_errors(case, tmp_path):
    (old, new), expected = BAD_SUITES[case]
    assert old in SUITE, case
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(SUITE.replace(old, new, 1)))
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


# ----------------------------------------------------------------------------- per-class table

TAGS = [
    record("A", {}, 0, metrics={"roc_auc_macro": 0.7}, task="multi-label",
           per_class={"roc_auc": [0.8, None, 0.6], "pr_auc": [0.5, 0.4, 0.3]}),
    record("A", {}, 1, metrics={"roc_auc_macro": 0.65}, task="multi-label",
           per_class={"roc_auc": [0.6, None, 0.7], "pr_auc": [0.7, 0.2, None]}),
    record("B", {}, 0, metrics={"roc_auc_macro": 0.7}, task="multi-label",
           per_class={"roc_auc": [0.5, 0.9, None], "pr_auc": [0.1, 0.2, 0.3]}),
    record("B", {}, 1, task="multi-label", status="failed"),
]


def test_per_tag_section_skips_undefined_values_and_ends_with_the_mean_of_means():
    doc = suite_doc({"per_class": {"metric": "roc_auc"}}, metrics=("roc_auc_macro",))
    text = markdown(doc, TAGS, "results", None)
    assert "## Per-tag ROC-AUC" in text
    assert grid_under(text, "## Per-tag ROC-AUC") == [
        ["Tag", "A", "B"],
        ["guitar", f"0.700 ± {statistics.stdev([0.8, 0.6]):.3f}", "0.500"],
        ["drums", "—", "0.900"],
        ["voice", f"0.650 ± {statistics.stdev([0.6, 0.7]):.3f}", "—"],
        ["mean", f"{(0.7 + 0.65) / 2:.3f}", f"{(0.5 + 0.9) / 2:.3f}"],
    ]
    assert text.index("## Per-tag ROC-AUC") < text.index("## Failed trials")


def test_per_class_where_and_single_label_heading():
    records = [dict(r, dataset=dict(r["dataset"], task="single-label")) for r in TAGS]
    doc = suite_doc({"per_class": {"metric": "pr_auc", "where": {"system": "A"}}, "percent": True}, metrics=("accuracy",))
    text = markdown(doc, records, "results", None)
    assert grid_under(text, "## Per-class PR-AUC") == [
        ["Class", "A"],
        ["guitar", f"0.600 ± {statistics.stdev([0.5, 0.7]):.3f}"],  # an AUC is never in %, whatever `percent` says
        ["drums", f"0.300 ± {statistics.stdev([0.4, 0.2]):.3f}"],
        ["voice", "0.300"],
        ["mean", f"{(0.6 + 0.3 + 0.3) / 3:.3f}"],
    ]
    assert "(trials with system=A)" in text and "values in %." in text


def write_results(tmp_path, doc, records):
    store = ResultStore(tmp_path / "results")
    store.write_suite(doc)
    for r in records:
        store.write(r)
    return store.root


def test_per_class_csv_covers_every_successful_trial(tmp_path):
    doc = suite_doc({"per_class": {"metric": "roc_auc", "where": {"system": "A"}}}, metrics=("roc_auc_macro",))
    paths = write_report(write_results(tmp_path, doc, TAGS), tmp_path / "out")
    assert [p.name for p in paths] == ["extras-per-class.csv", "extras.csv", "extras.md", "extras.tex"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "extras-per-class.csv").read_text())))
    assert list(rows[0]) == ["variant", "class", "metric", "mean", "std", "n"]
    assert [(r["variant"], r["metric"], r["class"]) for r in rows] == [
        (v, m, c) for v in "AB" for m in ("pr_auc", "roc_auc") for c in ("guitar", "drums", "voice")
    ]
    drums = {(r["variant"], r["metric"]): r for r in rows if r["class"] == "drums"}
    assert (drums[("A", "roc_auc")]["mean"], drums[("A", "roc_auc")]["n"]) == ("", "0")
    assert float(drums[("B", "roc_auc")]["mean"]) == 0.9 and drums[("B", "roc_auc")]["n"] == "1"
    assert float(drums[("A", "pr_auc")]["mean"]) == pytest.approx(0.3)


def test_no_per_class_file_without_the_table(tmp_path):
    paths = write_report(write_results(tmp_path, suite_doc({}, metrics=("roc_auc_macro",)), TAGS), tmp_path / "out")
    assert [p.name for p in paths] == ["extras.csv", "extras.md", "extras.tex"]


# ----------------------------------------------------------------------------- diagnostics and the filter figure


def test_filters_are_ordered_by_dominant_frequency():
    spectra = [[0, 1, 5], [9, 1, 0], [0, 7, 1], [3, 0, 3]]  # dominant bins 2, 0, 1, 0
    assert order_by_dominant_frequency(spectra).tolist() == [1, 3, 2, 0]  # ties keep filter order
    image = normalised_spectra(spectra + [[0, 0, 0]])
    assert image.shape == (3, 5)  # frequency bins x filters
    assert image.max(axis=0).tolist() == [1, 1, 0, 1, 1]  # each filter scaled to 1; a silent one (bin 0) stays 0
    assert image[:, 0].tolist() == pytest.approx([1, 1 / 9, 0]) and image[:, 4].tolist() == [0, 0.2, 1]


def test_the_figure_shows_each_variants_first_fold_and_seed():
    spectra = {"sample_rate": 100, "spectra": [[1.0, 0.0]]}
    later = {"sample_rate": 100, "spectra": [[0.0, 1.0]]}
    records = [
        record("A", {}, 1, seed=0, diagnostics={"filter_spectra": later}),
        record("A", {}, 0, seed=1, diagnostics={"filter_spectra": spectra}),
        record("A", {}, 0, seed=0, status="failed", diagnostics={"filter_spectra": later}),
        record("B", {}, 0, diagnostics={}),
    ]
    assert filter_spectra_by_variant(records) == {"A": spectra}


class FilterSystem(PriorSystem):
    """The prior, plus 'filters' whose spectra peak at bin i (numpy values, as real systems give)."""

    def diagnostics(self):
        spectra = np.full((4, 9), 0.1, dtype=np.float32)
        spectra[np.arange(4), [6, 2, 8, 0]] = 1.0
        return {"filter_spectra": {"sample_rate": np.int64(16000), "spectra": spectra}}


FILTER_SUITE = """
version = "1"
metrics = ["accuracy"]
[dataset]
name = "synthetic"
per_class = 4
[protocol]
name = "stratified-kfold"
folds = 2
[[systems]]
name = "test.filters"
label = "Filters"
[[systems]]
name = "test.prior"
label = "Prior"
"""


def test_diagnostics_are_stored_and_drawn_byte_stably(tmp_path, write_suite):
    systems.register("test.filters", "tests.test_report_extras:FilterSystem")
    systems.register("test.prior", "tests.helpers:PriorSystem")
    options = RunOptions(results=tmp_path / "results", progress=False, device="cpu")
    run_suite(load_suite(write_suite(FILTER_SUITE, "filters.toml")), options)
    stored = {json.loads(p.read_text())["variant"]["label"]: json.loads(p.read_text())["diagnostics"]
              for p in sorted((tmp_path / "results" / "trials").glob("*.json"))}
    assert stored["Prior"] == {}
    assert stored["Filters"]["filter_spectra"]["sample_rate"] == 16000
    assert stored["Filters"]["filter_spectra"]["spectra"][1][2] == 1.0
    first = write_report(tmp_path / "results", tmp_path / "a")
    second = write_report(tmp_path / "results", tmp_path / "b")
    assert [p.name for p in first][-2:] == ["filters-confusion.png", "filters-filters.png"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    text = (tmp_path / "a" / "filters.md").read_text()
    section = re.search(r"## Learned filters\n\n(.+)\n\n!\[learned filters\]\(filters-filters\.png\)\n", text)
    assert section and "ordered by dominant frequency" in section.group(1)
    assert text.index("## Confusion matrices") < text.index("## Learned filters") < text.index("## Provenance")


def test_the_skipped_table_keeps_each_reason_whole_wherever_the_data_lives():
    """A skipped track's reason starts with its file's path; in the report the path is cut to the file's name, so
    the table reads the same on every machine and a deep data root cannot push the reason past the cell's limit."""
    from mirbench.report.sections import skipped

    def table(root: str) -> str:
        why = f"{root}/fma_small/099/099134.mp3: a known empty file of the published fma_small: file is empty (0 bytes)"
        return skipped([{"skipped": [{"id": "099134", "reason": why}]}])

    shallow, deep = table("/data"), table("/tmp/" + "nested/" * 30 + "fma")
    assert shallow == deep
    assert "|  099134 | 099134.mp3: a known empty file of the published fma_small: file is empty (0 bytes) |" in deep
