"""Reports are a pure function of a results directory: Markdown, CSV, LaTeX and PNG, byte-stable."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tabulate import tabulate

from mirbench.report import sections
from mirbench.report.plots import confusion_by_variant, plot_confusions
from mirbench.report.table import Layout, cells, grid, published_value
from mirbench.results import ResultStore


def report_name(suite: dict) -> str:
    return suite["name"] + ("-quick" if suite.get("quick") else "")


def markdown(suite: dict, records: list[dict], results_name: str, figure: str | None) -> str:
    layout = Layout.from_suite(suite, records)
    published = suite.get("report", {}).get("published", [])
    header, body = grid(records, layout, published)
    n_ok = sum(r.get("status") == "ok" for r in records)
    parts = [
        f"# {suite.get('report', {}).get('title', suite['name'])}",
        suite.get("description", "").strip(),
        sections.setup(suite, records),
        "## Results",
        tabulate(body, header, tablefmt="github", disable_numparse=True) if body else "_No successful trials yet._",
        f"Mean ± sample standard deviation over folds and seeds ({n_ok} successful trials)"
        + ("; values in %." if layout.percent else "."),
        sections.sources(published),
        sections.failures(records),
        sections.skipped(records),
        sections.timings(records),
        f"## Confusion matrices\n\n![confusion matrices]({figure})\n" if figure else "",
        sections.provenance(suite, records, results_name),
    ]
    return "\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def csv_text(suite: dict, records: list[dict]) -> str:
    """Long format: one line per cell, with the published value beside it."""
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
    layout = Layout.from_suite(suite, records)
    header, body = grid(records, layout, suite.get("report", {}).get("published", []))
    table = tabulate(body, header, tablefmt="latex_booktabs", disable_numparse=True)
    return table.replace("±", r"$\pm$") + "\n"


def write_report(results_dir: str | Path, out_dir: str | Path = "reports") -> list[Path]:
    """Write <name>.md, .csv, .tex (and -confusion.png for single-label suites) from a results directory."""
    store = ResultStore(results_dir)
    suite = store.read_suite()
    records = list(store.records())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = report_name(suite)
    figure = plot_confusions(confusion_by_variant(records), out / f"{name}-confusion.png", f"{name}: confusion over all folds")
    files = {
        out / f"{name}.md": markdown(suite, records, Path(results_dir).name, figure.name if figure else None),
        out / f"{name}.csv": csv_text(suite, records),
        out / f"{name}.tex": latex(suite, records),
    }
    for path, text in files.items():
        path.write_text(text)
    return sorted(files) + ([figure] if figure else [])
