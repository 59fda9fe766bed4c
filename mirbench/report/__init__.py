"""Reports are a pure function of a results directory: Markdown, CSV, LaTeX and PNG, byte-stable."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from tabulate import tabulate

from mirbench.errors import MirbenchError
from mirbench.report import deviations, per_class, sections, significance, tables, xy
from mirbench.report.plots import confusion_by_variant, plot_confusions, plot_filter_spectra
from mirbench.report.cells import Layout, accuracy_like, cells, grid, published_value
from mirbench.report.values import is_record_value, value_kind
from mirbench.results import ResultStore, ran_quick


#: A suite name that can name report files: no separators, no leading dot (so neither "." nor "..").
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
SUFFIXES = (".md", ".csv", ".tex", "-per-class.csv", "-confusion.png", "-filters.png", "-plot.png")


class ReportError(MirbenchError, ValueError):
    """A results directory cannot be reported safely: its suite name would put files outside the output folder."""


def report_name(suite: dict, where: str = "suite.json") -> str:
    """The report files' stem: the suite name (+ "-quick"), refused unless it is a plain file name."""
    name = suite.get("name")
    if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name):
        raise ReportError(f"{where}: the suite name is not a plain file name (letters, digits, '.', '_', '-', not "
                          "starting with '.'), and report files are named after it; fix the name in suite.json")
    return name + ("-quick" if ran_quick(suite) else "")


def inside(out: Path, name: str, where: str) -> Path:
    """`out / name`, refused when it resolves outside `out` (a symbolic link planted in the output folder)."""
    path = out / name
    base = out.resolve()
    if path.resolve().parent != base:
        raise ReportError(f"{where}: the report file {path} would be written outside {out} (a link?); remove it")
    return path


def markdown(
    suite: dict,
    records: list[dict],
    results_name: str,
    figure: str | None,
    filters: str | None = None,
    plot: str | None = None,
) -> str:
    n_ok = sum(r.get("status") == "ok" for r in records)
    parts = [
        f"# {suite.get('report', {}).get('title', suite['name'])}",
        suite.get("description", "").strip(),
        sections.setup(suite, records),
        "## Results",
        *results_tables(suite, records),
        f"Mean ± sample standard deviation over folds and seeds ({n_ok} successful trials)"
        + percent_note(suite, records),
        "" if tables.table_specs(suite) else sections.macro_coverage(records, Layout.from_suite(suite, records).metrics),
        sections.sources(all_published(suite)),
        deviations.markdown_section(suite, records),
        xy.section(suite, records, plot),
        per_class.section(suite, records),
        significance.section(suite, records, Layout.from_suite(suite, records).metrics),
        sections.failures(records),
        sections.skipped(records),
        sections.class_counts(records),
        sections.timings(records),
        f"## Confusion matrices\n\n![confusion matrices]({figure})\n" if figure else "",
        filters_section(filters),
        sections.provenance(suite, records, results_name),
    ]
    return "\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def results_tables(suite: dict, records: list[dict]) -> list[str]:
    """The grid(s) under '## Results': one subsection per `[[report.tables]]` entry, else the one table."""
    if tables.table_specs(suite):
        return tables.markdown_sections(suite, records)
    header, body = grid(records, Layout.from_suite(suite, records), suite.get("report", {}).get("published", []))
    return [tabulate(body, header, tablefmt="github", disable_numparse=True) if body else "_No successful trials yet._"]


def percent_note(suite: dict, records: list[dict]) -> str:
    """The end of the footnote: whether accuracies are in %, and that AUCs and record values are not (unless
    named after an accuracy, like training.train_accuracy)."""
    shown_layouts = [layout for _, layout in tables.layouts(suite, records)] or [Layout.from_suite(suite, records)]
    if not any(layout.percent for layout in shown_layouts):
        return "."
    shown = [m for layout in shown_layouts for m in layout.metrics]
    others = []
    if any(not accuracy_like(m) and value_kind(m, []) == "metric" for m in shown):
        others.append("AUCs as fractions")
    if any(is_record_value(m) and value_kind(m, []) != "metric" for m in shown):
        others.append("record values as recorded")
    return "; accuracies in %" + "".join(f"; {o}" for o in others) + "." if others else "; values in %."


def all_published(suite: dict) -> list[dict]:
    """The published numbers of the report's table(s), for the list of sources."""
    return suite.get("report", {}).get("published", []) + tables.published_entries(suite)


def filters_section(figure: str | None) -> str:
    """The learned-filter figure, when some system reported its filters' spectra."""
    if not figure:
        return ""
    caption = "Normalised magnitude spectra of the filters learned in the lowest layer, ordered by dominant frequency"
    return f"## Learned filters\n\n{caption} (first fold and seed of each system).\n\n![learned filters]({figure})\n"


def csv_text(suite: dict, records: list[dict]) -> str:
    """Long format: one line per cell, with the published value beside it (the tables' long form when there are several)."""
    if tables.table_specs(suite):
        return tables.csv_text(suite, records)
    layout = Layout.from_suite(suite, records)
    published = suite.get("report", {}).get("published", [])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*layout.rows, *layout.columns, "mean", "std", "n", "published", "published_std"])
    for (r, c), cell in sorted(cells(records, layout).items()):
        pub = published_value(published, r, c, layout) or {}
        writer.writerow([*r, *c, cell.mean, cell.std, cell.n, pub.get("value", ""), pub.get("std", "")])
    return buf.getvalue()


def latex(suite: dict, records: list[dict]) -> str:
    if tables.table_specs(suite):
        return tables.latex(suite, records)
    layout = Layout.from_suite(suite, records)
    header, body = grid(records, layout, suite.get("report", {}).get("published", []))
    table = tabulate(body, header, tablefmt="latex_booktabs", disable_numparse=True)
    return table.replace("±", r"$\pm$") + "\n"


def write_report(results_dir: str | Path, out_dir: str | Path = "reports") -> list[Path]:
    """Write <name>.md, .csv, .tex, and where they apply -per-class.csv, -confusion.png, -filters.png and -plot.png."""
    store = ResultStore(results_dir)
    suite = store.read_suite()
    name = report_name(suite, str(store.root / "suite.json"))  # before anything is written
    records = list(store.records())  # an invalid record is a ResultsError naming its file, before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {suffix: inside(out, name + suffix, str(store.root / "suite.json")) for suffix in SUFFIXES}
    figure = plot_confusions(confusion_by_variant(records), paths["-confusion.png"], f"{name}: confusion over all folds")
    filters = plot_filter_spectra(records, paths["-filters.png"], f"{name}: learned filters, normalised magnitude spectra")
    plot = xy.plot_figure(suite, records, paths["-plot.png"])
    figures = [figure, filters, plot]
    files = {
        paths[".md"]: markdown(suite, records, Path(results_dir).name, *(p.name if p else None for p in figures)),
        paths[".csv"]: csv_text(suite, records),
        paths[".tex"]: latex(suite, records),
    }
    if per_class.per_class_layout(suite, records):
        files[paths["-per-class.csv"]] = per_class.csv_text(records)
    for path, text in files.items():
        path.write_text(text)
    return sorted(files) + [p for p in figures if p]
