"""Several tables in one report (`[[report.tables]]`): each its own layout, `where` filter and published numbers."""

from __future__ import annotations

import csv
import io

from tabulate import tabulate

from mirbench.report.sections import macro_coverage
from mirbench.report.cells import Layout, cells, dimensions, grid, matches, published_value, varying_params


def table_specs(suite: dict) -> list[dict]:
    """The suite's `[[report.tables]]` entries, in the order written (empty for a single-table report)."""
    return suite.get("report", {}).get("tables", [])


def layouts(suite: dict, records: list[dict]) -> list[tuple[dict, Layout]]:
    """Each table entry with its layout."""
    return [(spec, Layout.from_table(suite, spec, records)) for spec in table_specs(suite)]


def published_entries(suite: dict) -> list[dict]:
    """Every table's published numbers, for the list of sources under the results."""
    return [entry for spec in table_specs(suite) for entry in spec.get("published", [])]


def markdown_sections(suite: dict, records: list[dict]) -> list[str]:
    """One '### <title>' subsection per table: the grid, published columns beside, and under it the class-averaged
    metrics that some of its trials averaged over fewer classes (sections.macro_coverage)."""
    parts = []
    for spec, layout in layouts(suite, records):
        header, body = grid(records, layout, spec.get("published", []))
        table = tabulate(body, header, tablefmt="github", disable_numparse=True) if body else "_No results for this table yet._"
        note = macro_coverage(table_records(records, layout), layout.metrics)
        parts.append(f"### {spec['title']}\n\n{table}" + (f"\n\n{note}" if note else ""))
    return parts


def table_records(records: list[dict], layout: Layout) -> list[dict]:
    """The records a table's `where` lets in (for some metric of the table)."""
    varying = varying_params([r for r in records if r.get("status") == "ok"])
    return [r for r in records if any(matches(dimensions(r, m, varying), layout.where) for m in layout.metrics)]


def coordinates(dims: tuple[str, ...], values: tuple[str, ...]) -> str:
    """A cell's row or column key as text: "dim=value; dim=value"."""
    return "; ".join(f"{d}={v}" for d, v in zip(dims, values))


def csv_text(suite: dict, records: list[dict]) -> str:
    """Long format over all tables (their dimensions differ): one line per cell, the table's title first."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["table", "row", "column", "mean", "std", "n", "published", "published_std"])
    for spec, layout in layouts(suite, records):
        published = spec.get("published", [])
        for (r, c), cell in sorted(cells(records, layout).items()):
            pub = published_value(published, r, c, layout) or {}
            writer.writerow([
                spec["title"], coordinates(layout.rows, r), coordinates(layout.columns, c),
                cell.mean, cell.std, cell.n, pub.get("value", ""), pub.get("std", ""),
            ])
    return buf.getvalue()


def latex(suite: dict, records: list[dict]) -> str:
    """One booktabs tabular per table, each after a `% <title>` comment line."""
    parts = []
    for spec, layout in layouts(suite, records):
        header, body = grid(records, layout, spec.get("published", []))
        table = tabulate(body, header, tablefmt="latex_booktabs", disable_numparse=True)
        parts.append(f"% {' '.join(spec['title'].split())}\n" + table.replace("±", r"$\pm$") + "\n")
    return "\n".join(parts)
