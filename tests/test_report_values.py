"""Record values (n_parameters, training.<key>, timings.<key>) as table metrics, and the `[report.plot]` figure."""

from __future__ import annotations

import csv
import io
import statistics
import struct
import textwrap

import pytest

from mirbench.report import csv_text, markdown, write_report
from mirbench.report.values import fmt_record, name_problem, value_title
from mirbench.report import xy
from mirbench.report.xy import Point, plot_points
from mirbench.results import ResultStore
from mirbench.suite import SuiteError, load_suite
from tests.helpers import grid_under

# ----------------------------------------------------------------------------- hand-built records


def record(label, params, fold, acc, n_parameters=None, training=None, fit_s=1.0, status="ok") -> dict:
    """A trial record with the fields the report reads, record values included."""
    tid = f"{label}-{'-'.join(f'{k}{v}' for k, v in params.items())}.fold{fold}"
    r = {
        "trial_id": tid,
        "status": status,
        "variant": {"system": label.lower(), "label": label, "params": params, "id": tid.split(".")[0]},
        "fold": {"index": fold, "train": 6, "valid": 0, "test": 3},
        "seed": 0,
        "dataset": {"classes": ["a", "b"], "task": "single-label", "n_tracks": 9, "fingerprint": "f"},
        "metrics": {"accuracy": acc},
        "n_parameters": n_parameters,
        "training": training or {},
        "timings": {"features_s": 0.0, "fit_s": fit_s, "predict_s": 0.5, "total_s": fit_s + 0.5},
        "provenance": {},
        "skipped": [],
    }
    if status != "ok":
        r["error"] = {"type": "RuntimeError", "message": "broken on purpose", "traceback": ""}
    return r


SPW = {8: [1.1e-3, 1.5e-3, 1.3e-3], 16: [2.0e-3, 2.0e-3, 2.6e-3]}  # training.s_per_window per width, fold by fold
EPOCHS = {8: [10, 12, 14], 16: [9, 9, 9]}
FIT = {8: [12.5, 13.5, 14.5], 16: [20.0, 22.0, 24.0]}
NPARAMS = {8: 1234567, 16: 2469134}


def cnn(width, fold, acc):
    training = {"s_per_window": SPW[width][fold], "epochs": EPOCHS[width][fold], "stopped": "max_epochs"}
    return record("CNN", {"width": width}, fold, acc, NPARAMS[width], training, FIT[width][fold])


RECORDS = [
    cnn(8, 0, 0.60), cnn(8, 1, 0.70), cnn(8, 2, 0.80),
    cnn(16, 0, 0.70), cnn(16, 1, 0.75), cnn(16, 2, 0.80),
    record("MLP", {}, 0, 0.50, n_parameters=5000, fit_s=2.0),  # reports no training numbers
    record("MLP", {}, 1, 0.55, n_parameters=None, fit_s=3.0),  # nor, here, its size: left out of that cell
    record("MLP", {}, 2, 0.40, n_parameters=5000, status="failed"),
]

SHOWN = ["accuracy", "n_parameters", "training.s_per_window", "timings.fit_s", "training.epochs"]


def suite_doc(report: dict, metrics=("accuracy",)) -> dict:
    return {
        "name": "values", "version": "1", "hash": "h", "metrics": list(metrics),
        "dataset": {"name": "synthetic"}, "protocol": {"name": "stratified-kfold", "folds": 3}, "report": report,
    }


# ----------------------------------------------------------------------------- cells of record values


def test_record_values_are_cells_like_metrics_with_their_own_formats():
    doc = suite_doc({"rows": ["system", "width"], "metrics": SHOWN, "percent": True})
    text = markdown(doc, RECORDS, "results", None)
    spw = f"{statistics.mean(SPW[8]):.2e} ± {statistics.stdev(SPW[8]):.2e}"
    assert spw == "1.30e-03 ± 2.00e-04"
    assert grid_under(text, "## Results") == [
        ["System", "width", "accuracy", "parameters", "s_per_window", "fit_s", "epochs"],
        ["CNN", "8", "70.000 ± 10.000", "1,234,567", spw, "13.500 ± 1.000", "12 ± 2"],  # % for the metric only
        ["CNN", "16", "75.000 ± 5.000", "2,469,134", "2.20e-03 ± 3.46e-04", "22.000 ± 2.000", "9"],  # 22.0 s: a float
        ["MLP", "", "52.500 ± 3.536", "5,000", "—", "2.500 ± 0.707", "—"],
    ]
    assert "(8 successful trials); accuracies in %; record values as recorded." in text


def test_a_record_value_keeps_one_notation_down_its_column():
    slow = [record("CNN", {"width": 32}, f, 0.7, training={"s_per_window": 0.25}) for f in range(2)]
    doc = suite_doc({"rows": ["width"], "metrics": ["training.s_per_window"]})
    rows = grid_under(markdown(doc, RECORDS[:6] + slow, "results", None), "## Results")
    assert [r[-1] for r in rows[1:]] == ["1.30e-03 ± 2.00e-04", "2.20e-03 ± 3.46e-04", "2.50e-01 ± 0.00e+00"]


def test_record_values_in_a_table_of_tables_and_as_rows():
    doc = suite_doc({"tables": [
        {"title": "Size", "rows": ["variant"], "columns": ["metric"], "metrics": ["n_parameters"],
         "published": [{"variant": "CNN (width=8)", "value": 1200000, "source": "Paper"}]},
        {"title": "By metric", "rows": ["metric"], "columns": ["system"], "metrics": ["training.epochs", "timings.fit_s"]},
    ]})
    text = markdown(doc, RECORDS, "results", None)
    assert grid_under(text, "### Size") == [
        ["System", "parameters", "parameters (published)"],
        ["CNN (width=8)", "1,234,567", "1,200,000"],
        ["CNN (width=16)", "2,469,134", ""],
        ["MLP", "5,000", ""],
    ]
    all_epochs = EPOCHS[8] + EPOCHS[16]
    assert grid_under(text, "### By metric") == [
        ["Metric", "CNN", "MLP"],
        ["fit_s", f"{statistics.mean(FIT[8] + FIT[16]):.3f} ± {statistics.stdev(FIT[8] + FIT[16]):.3f}", "2.500 ± 0.707"],
        ["epochs", f"{statistics.mean(all_epochs):,.0f} ± {statistics.stdev(all_epochs):,.0f}", "—"],  # rows: by name
    ]


def test_csv_keeps_the_raw_names_and_numbers():
    rows = list(csv.DictReader(io.StringIO(csv_text(suite_doc({"rows": ["variant"], "metrics": SHOWN}), RECORDS))))
    mlp = {r["metric"]: r for r in rows if r["variant"] == "MLP"}
    assert set(mlp) == {"accuracy", "n_parameters", "timings.fit_s"}  # no training numbers: no cells
    assert (float(mlp["n_parameters"]["mean"]), mlp["n_parameters"]["n"]) == (5000.0, "1")
    spw = next(r for r in rows if r["variant"] == "CNN (width=8)" and r["metric"] == "training.s_per_window")
    assert float(spw["mean"]) == pytest.approx(1.3e-3) and spw["n"] == "3"


@pytest.mark.parametrize(
    "args, expected",
    [
        ((1234567.0, 0.0, 3, "count"), "1,234,567"),
        ((1234567.0, None, 1, "count"), "1,234,567"),
        ((3500.0, 707.1, 2, "count"), "3,500 ± 707"),
        ((0.0123, 0.004, 3, "value"), "1.23e-02 ± 4.00e-03"),
        ((-0.05, None, 1, "value"), "-5.00e-02"),
        ((0.1, 0.0, 2, "value"), "0.100 ± 0.000"),
        ((0.0, 0.0, 2, "value"), "0.000 ± 0.000"),
        ((2.5, 0.25, 2, "value"), "2.500 ± 0.250"),
    ],
)
def test_record_value_formats(args, expected):
    assert fmt_record(*args, decimals=3) == expected


def test_value_titles_and_names():
    assert [value_title(n) for n in ("n_parameters", "training.s_per_window", "timings.fit_s", "accuracy")] == [
        "parameters", "s_per_window", "fit_s", "accuracy"
    ]
    assert name_problem("training.anything", ["accuracy"]) is None
    assert name_problem("accuracy", ["accuracy"]) is None
    assert "names no key" in name_problem("timings.", ["accuracy"])
    assert name_problem("timing.fit_s", None).endswith("did you mean 'timings.fit_s'?")


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

[report]
rows = ["variant"]
metrics = ["accuracy", "n_parameters", "training.epochs", "timings.fit_s"]

[[report.published]]
variant = "mfcc (C=1.0, n_mfcc=13)"
metric = "n_parameters"
value = 1000

[report.plot]
x = "timings.fit_s"
y = "roc_auc_macro"
lines = "n_mfcc"
log_x = true
where = { C = 1.0 }
"""

BAD_SUITES = {
    "record section without a key": (
        ('"training.epochs"', '"training."'), "'report.metrics[2]': 'training.' names no key: write training.<key>"
    ),
    "misspelt record section": (
        ('"timings.fit_s"]', '"timing.fit_s"]'),
        "'report.metrics[3]': 'timing.fit_s' is not among the suite's metrics ['accuracy', 'roc_auc_macro'] nor a "
        "record value (n_parameters, training.<key>, timings.<key>) — did you mean 'timings.fit_s'?",
    ),
    "misspelt n_parameters": (('"n_parameters", "training', '"n_params", "training'), "did you mean 'n_parameters'?"),
    "plot x": (('x = "timings.fit_s"', 'x = "n_parameter"'), "'report.plot.x': 'n_parameter' is not among"),
    "plot y": (('y = "roc_auc_macro"', 'y = "roc_auc_macr"'), "'report.plot.y': 'roc_auc_macr' is not among"),
    "plot y without key": (('y = "roc_auc_macro"', 'y = "timings."'), "'report.plot.y': 'timings.' names no key"),
    "plot lines": (
        ('lines = "n_mfcc"', 'lines = "nmfcc"'),
        "'report.plot.lines': 'nmfcc' is not a layout dimension — did you mean 'n_mfcc'?",
    ),
    "plot lines of metrics": (('lines = "n_mfcc"', 'lines = "metric"'), "'report.plot.lines': 'metric' is not a layout"),
    "plot where": (("where = { C = 1.0 }", "where = { C = 2.0 }"), "'report.plot.where.C' = 2.0 matches no variant"),
    "plot unknown key": (("log_x = true", "log_y = true"), "unknown key 'report.plot.log_y' — did you mean 'log_x'?"),
    "plot log_x type": (("log_x = true", 'log_x = "yes"'), "'report.plot.log_x' must be boolean"),
    "plot without x": (('x = "timings.fit_s"\n', ""), "missing required key 'report.plot.x'"),
}


def test_a_suite_with_record_values_and_a_plot_loads(tmp_path):
    path = tmp_path / "values.toml"
    path.write_text(textwrap.dedent(SUITE))
    report = load_suite(path).report
    assert report["metrics"][1:] == ["n_parameters", "training.epochs", "timings.fit_s"]
    assert report["plot"] == {"x": "timings.fit_s", "y": "roc_auc_macro", "lines": "n_mfcc", "log_x": True, "where": {"C": 1.0}}


@pytest.mark.parametrize("case", sorted(BAD_SUITES))
def test_bad_record_values_and_plots_are_load_errors(case, tmp_path):
    (old, new), expected = BAD_SUITES[case]
    assert old in SUITE, case
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(SUITE.replace(old, new, 1)))
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


def test_a_table_metric_is_checked_too(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(SUITE.split("[report]")[0]) + textwrap.dedent("""
        [[report.tables]]
        title = "Size"
        rows = ["variant"]
        columns = ["metric"]
        metrics = ["n_parameters", "trainng.epochs"]
    """))
    expected = r"'report\.tables\[0\]\.metrics\[1\]': 'trainng\.epochs' .* did you mean 'training\.epochs'\?"
    with pytest.raises(SuiteError, match=expected):
        load_suite(path)


# ----------------------------------------------------------------------------- the plot


def test_plot_points_are_per_line_and_variant_sorted_by_x():
    cnn_8, cnn_16 = RECORDS[:3], RECORDS[3:6]
    points = plot_points(RECORDS, "timings.fit_s", "accuracy", "system")
    assert list(points) == ["CNN", "MLP"]
    assert points["CNN"] == [
        Point("CNN (width=8)", statistics.mean(FIT[8]), pytest.approx(0.7), pytest.approx(0.1), 3),
        Point("CNN (width=16)", statistics.mean(FIT[16]), pytest.approx(0.75), pytest.approx(0.05), 3),
    ]
    assert points["MLP"] == [Point("MLP", 2.5, pytest.approx(0.525), pytest.approx(statistics.stdev([0.5, 0.55])), 2)]
    # x that only some trials have: means over those; a variant with none is left out; one trial has no bar
    by_width = plot_points(cnn_16 + cnn_8 + RECORDS[6:7], "training.s_per_window", "accuracy", "width")
    assert list(by_width) == ["width=8", "width=16"]  # numbers in numeric order
    assert [p.x for p in by_width["width=8"]] == [pytest.approx(1.3e-3)]
    assert "no width" not in by_width
    one = plot_points(RECORDS[:1] + RECORDS[6:7], "n_parameters", "accuracy", "variant")
    assert one == {"CNN": [Point("CNN", 1234567, 0.6, None, 1)], "MLP": [Point("MLP", 5000, 0.5, None, 1)]}
    assert plot_points(RECORDS, "n_parameters", "accuracy", "system", (("system", "MLP"),)) == {
        "MLP": [Point("MLP", 5000, pytest.approx(0.525), pytest.approx(statistics.stdev([0.5, 0.55])), 2)]
    }


def test_plot_points_sort_by_x_within_a_line():
    recs = [record("A", {"k": k}, 0, acc, n_parameters=n) for k, n, acc in ((1, 300, 0.3), (2, 100, 0.1), (3, 200, 0.2))]
    assert [(p.x, p.y) for p in plot_points(recs, "n_parameters", "accuracy", "system")["A"]] == [
        (100, 0.1), (200, 0.2), (300, 0.3)
    ]


PLOT = {"x": "n_parameters", "y": "accuracy", "lines": "system", "log_x": True}


def write_results(tmp_path, doc, records):
    store = ResultStore(tmp_path / "results")
    store.write_suite(doc)
    for r in records:
        store.write(r)
    return store.root


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plot_is_written_byte_stably_and_placed_after_the_results(tmp_path):
    doc = suite_doc({"rows": ["variant"], "published": [{"variant": "MLP", "value": 0.5, "source": "Paper"}],
                     "plot": PLOT})
    results = write_results(tmp_path, doc, RECORDS)
    first, second = write_report(results, tmp_path / "a"), write_report(results, tmp_path / "b")
    assert [p.name for p in first] == ["values.csv", "values.md", "values.tex", "values-plot.png"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert png_size(tmp_path / "a" / "values-plot.png") == (640, 440)
    text = (tmp_path / "a" / "values.md").read_text()
    section = (
        "Published numbers: Paper.\n\n## accuracy against n_parameters\n\n"
        "A point is one variant: mean n_parameters and mean accuracy over its successful trials; a bar is ± one "
        "sample standard deviation of accuracy over its folds and seeds (drawn with two trials or more); "
        "one line per system, and a line of one variant also drawn as a dashed level.\n\n"
        "![accuracy against n_parameters](values-plot.png)\n\n## Failed trials"
    )
    assert section in text
    assert text.index("## Results") < text.index("## accuracy against n_parameters") < text.index("## Training time")


def test_plot_options_change_the_figure_and_its_title(tmp_path):
    linear = dict(PLOT, log_x=False, title="Size and accuracy", where={"system": "CNN"})
    results = write_results(tmp_path, suite_doc({"plot": linear}), RECORDS)
    write_report(results, tmp_path / "lin")
    log = write_results(tmp_path / "log", suite_doc({"plot": dict(linear, log_x=True)}), RECORDS)
    write_report(log, tmp_path / "log-out")
    assert (tmp_path / "lin" / "values-plot.png").read_bytes() != (tmp_path / "log-out" / "values-plot.png").read_bytes()
    text = (tmp_path / "lin" / "values.md").read_text()
    assert "## Size and accuracy\n\nA point is one variant: mean n_parameters and mean accuracy over its successful " \
           "trials with system=CNN;" in text
    assert "one line per system.\n" in text  # CNN alone: two variants, so no dashed level to explain


def drawn(monkeypatch, points, spec):
    """The figure and title xy.draw hands to save (nothing written)."""
    seen = {}
    monkeypatch.setattr(xy, "save", lambda fig, path, title: seen.update(fig=fig, title=title) or path)
    xy.draw(points, spec, None)
    return seen["fig"], seen["title"]


def test_a_baseline_of_one_point_is_a_dashed_level_and_axes_say_what_they_show(monkeypatch):
    points = plot_points(RECORDS, "timings.fit_s", "accuracy", "system")  # CNN: two variants, MLP: one
    fig, title = drawn(monkeypatch, points, dict(PLOT, x="timings.fit_s"))
    ax = fig.axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [tuple(line.get_ydata()) for line in dashed] == [(points["MLP"][0].y, points["MLP"][0].y)]
    assert ax.get_xlabel() == "fit seconds per trial, features excluded (timings.fit_s)"
    assert ax.get_ylabel() == "accuracy" and title == "accuracy against timings.fit_s"


def test_a_long_plot_title_is_wrapped_to_the_figure():
    long = "Test accuracy against training time: each learned system at 1x, 4x and 16x its budget, beside MFCC and PMSC"
    with pytest.MonkeyPatch.context() as mp:
        _, title = drawn(mp, plot_points(RECORDS, "n_parameters", "accuracy", "system"), dict(PLOT, title=long))
    assert title.replace("\n", " ") == long and all(len(line) <= xy.TITLE_WIDTH for line in title.split("\n"))
    assert "\n" in title


def test_no_plot_without_the_table_or_without_points(tmp_path):
    assert [p.name for p in write_report(write_results(tmp_path, suite_doc({}), RECORDS), tmp_path / "a")] == [
        "values.csv", "values.md", "values.tex"
    ]
    nothing = dict(PLOT, x="training.missing")
    paths = write_report(write_results(tmp_path / "n", suite_doc({"plot": nothing}), RECORDS), tmp_path / "b")
    assert not any(p.name.endswith("-plot.png") for p in paths)
    assert "against training.missing" not in (tmp_path / "b" / "values.md").read_text()


def test_a_record_value_named_after_a_metric_prints_like_that_metric():
    runs = [
        record("CNN", {}, f, acc, training={"train_accuracy": train, "valid_accuracy": 0.05}, fit_s=0.05)
        for f, (acc, train) in enumerate([(0.6, 0.9), (0.8, 0.95)])
    ]
    doc = suite_doc({
        "rows": ["system"], "metrics": ["training.train_accuracy", "training.valid_accuracy", "accuracy", "timings.fit_s"],
        "percent": True,
        "published": [{"system": "CNN", "metric": "training.train_accuracy", "value": 0.985}],
    })  # fmt: skip
    text = markdown(doc, runs, "results", None)
    assert grid_under(text, "## Results")[1] == [
        "CNN", "92.500 ± 3.536", "98.500", "5.000 ± 0.000", "70.000 ± 14.142", "5.00e-02 ± 0.00e+00",
    ]  # fmt: skip
    assert "accuracies in %; record values as recorded." in text  # fit_s is as recorded
