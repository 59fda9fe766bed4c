"""Checks of a suite's `[report]` against its variants: layout dimensions, metrics and record values, `where`
values, published numbers, tables, the per-class table and the plot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mirbench.suite.schema import PUBLISHED_RESERVED, SuiteError, nearest

if TYPE_CHECKING:
    from mirbench.suite.variant import Variant

LAYOUT_DIMENSIONS = ("system", "variant", "metric")


def check_report(data: dict, variants: list[Variant], where: str) -> None:
    """Report rows/columns name layout dimensions, published numbers known cells; so do tables, per_class, plot."""
    report = data.get("report", {})
    computed = data.get("metrics")
    check_report_metrics(report.get("metrics", []), "report.metrics", computed, where)
    params = {k for v in variants for k in v.params}
    dims = set(LAYOUT_DIMENSIONS) | params
    if "tables" in report:
        check_tables_alone(report, where)
    rows, cols = report.get("rows", ["variant"]), report.get("columns", ["metric"])
    for key, values in (("rows", rows), ("columns", cols)):
        check_dims(values, f"report.{key}", dims, where)
    metrics = report.get("metrics", data.get("metrics", []))
    if "metric" not in rows + cols and len(metrics) > 1:
        raise SuiteError(f"{where}: 'report': put 'metric' in rows or columns, or list a single metric")
    for i, entry in enumerate(report.get("published", [])):
        for key in entry:
            if key not in dims and key not in PUBLISHED_RESERVED:
                raise SuiteError(
                    f"{where}: 'report.published[{i}].{key}' is not a layout dimension{nearest(key, dims)}"
                )
    for i, table in enumerate(report.get("tables", [])):
        check_table(table, f"report.tables[{i}]", dims, variants, computed, metrics, where)
    if "per_class" in report:
        spec = report["per_class"]
        check_dims(spec.get("columns", []), "report.per_class.columns", dims - {"metric"}, where)
        check_where(spec.get("where", {}), "report.per_class.where", dims - {"metric"}, variants, (), where)
    if "plot" in report:
        check_plot(report["plot"], dims - {"metric"}, variants, computed, where)


def check_report_metrics(metrics: list[str], path: str, computed: list[str] | None, where: str) -> None:
    """A report can only show metrics the suite computes, or record values (n_parameters, training.*, timings.*)."""
    for i, metric in enumerate(metrics):
        check_value_name(metric, f"{path}[{i}]", computed, where)


def check_value_name(name: str, path: str, computed: list[str] | None, where: str) -> None:
    """One name of a metric or record value, as a table or plot may show it."""
    from mirbench.report.values import name_problem

    problem = name_problem(name, computed)
    if problem:
        raise SuiteError(f"{where}: '{path}': {problem}")


def check_plot(spec: dict, dims: set[str], variants, computed, where: str) -> None:
    """`[report.plot]`: x and y are metrics or record values, lines a layout dimension, `where` values exist."""
    check_value_name(spec["x"], "report.plot.x", computed, where)
    check_value_name(spec["y"], "report.plot.y", computed, where)
    lines = spec["lines"]
    if lines not in dims:
        raise SuiteError(
            f"{where}: 'report.plot.lines': {lines!r} is not a layout dimension{nearest(lines, dims)} "
            f"(use system, variant or a system parameter)"
        )
    check_where(spec.get("where", {}), "report.plot.where", dims, variants, (), where)


def check_tables_alone(report: dict, where: str) -> None:
    """`[[report.tables]]` replaces the single table: its rows, columns and published numbers would go unshown."""
    if not report["tables"]:
        raise SuiteError(f"{where}: 'report.tables' is empty; give at least one [[report.tables]] or leave it out")
    for key in ("rows", "columns", "published"):
        if key in report:
            raise SuiteError(
                f"{where}: 'report.{key}' and 'report.tables' are both given; use one or the other "
                f"(with tables, give each table its rows, columns and published numbers)"
            )


def check_dims(values: list[str], path: str, dims: set[str], where: str) -> None:
    """Every name in a rows/columns list is a layout dimension."""
    for i, dim in enumerate(values):
        if dim not in dims:
            raise SuiteError(
                f"{where}: '{path}[{i}]': {dim!r} is not a layout dimension{nearest(dim, dims)} "
                f"(use system, variant, metric or a system parameter)"
            )


def check_table(table: dict, path: str, dims: set[str], variants, computed, default_metrics, where: str) -> None:
    """One `[[report.tables]]` entry: known dimensions and metrics, a metric dimension when it shows several,
    `where` values some variant has, published numbers keyed by this table's dimensions."""
    check_dims(table["rows"], f"{path}.rows", dims, where)
    check_dims(table["columns"], f"{path}.columns", dims, where)
    check_report_metrics(table.get("metrics", []), f"{path}.metrics", computed, where)
    metrics = table.get("metrics") or default_metrics
    if "metric" not in table["rows"] + table["columns"] and len(metrics) > 1:
        raise SuiteError(f"{where}: '{path}': put 'metric' in rows or columns, or list a single metric in its metrics")
    check_where(table.get("where", {}), f"{path}.where", dims, variants, metrics, where)
    own = set(table["rows"]) | set(table["columns"]) | set(table.get("where", {}))
    for i, entry in enumerate(table.get("published", [])):
        for key in entry:
            if key not in own and key not in PUBLISHED_RESERVED:
                raise SuiteError(
                    f"{where}: '{path}.published[{i}].{key}' is not a dimension of this table{nearest(key, own)} "
                    f"(its rows, columns or where keys: {', '.join(sorted(own))})"
                )


def check_where(conditions: dict, path: str, dims: set[str], variants, metrics, where: str) -> None:
    """Each `where` key is a layout dimension and its value one that some variant (or metric) has."""
    for key, value in conditions.items():
        if key not in dims:
            raise SuiteError(f"{where}: '{path}.{key}' is not a layout dimension{nearest(key, dims)}")
        options = dimension_values(key, variants, metrics)
        if str(value) not in options:
            raise SuiteError(
                f"{where}: '{path}.{key}' = {value!r} matches no variant{nearest(str(value), options)} "
                f"(values: {', '.join(sorted(options))})"
            )


def dimension_values(dim: str, variants: list[Variant], metrics) -> set[str]:
    """The values (as text, as the report compares them) a layout dimension takes over the suite's variants."""
    from mirbench.report.cells import variant_name, varying_params

    if dim == "metric":
        return set(metrics)
    if dim == "system":
        return {v.label for v in variants}
    if dim == "variant":
        described = [{"variant": v.describe()} for v in variants]
        varying = varying_params(described)
        return {variant_name(r["variant"], varying) for r in described}
    return {str(v.params[dim]) for v in variants if dim in v.params}
