"""Turn trial records into the suite's table: cells of mean ± std, keyed by the layout's dimensions."""

from __future__ import annotations

from dataclasses import dataclass

from mirbench.metrics import summarise
from mirbench.report.values import MISSING, fmt_record, lookup, split_name, value_kind, value_title
from mirbench.suite.schema import PUBLISHED_RESERVED

DIMENSION_TITLES = {"system": "System", "variant": "System", "metric": "Metric"}


@dataclass(frozen=True)
class Layout:
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    metrics: tuple[str, ...]
    decimals: int = 3
    percent: bool = False  # accuracies in %; False when the layout shows none (see in_percent)
    where: tuple[tuple[str, str], ...] = ()  # (dimension, value as text): only matching values enter

    def __post_init__(self):
        if self.percent and not any(accuracy_like(m) for m in self.metrics):  # e.g. a per-class AUC table
            object.__setattr__(self, "percent", False)

    def in_percent(self, metric: str | None = None) -> bool:
        """Whether a value of `metric` prints in % (only accuracies do); None: the layout's only metric."""
        if metric is None:
            metric = self.metrics[0] if len(self.metrics) == 1 else ""
        return self.percent and accuracy_like(metric)

    @classmethod
    def from_suite(cls, suite: dict, records: list[dict]) -> "Layout":
        report = suite.get("report", {})
        metrics = report.get("metrics") or suite.get("metrics") or sorted(
            {m for r in records for m in r.get("metrics", {})}
        )
        return cls(
            rows=tuple(report.get("rows", ["variant"])),
            columns=tuple(report.get("columns", ["metric"])),
            metrics=tuple(metrics),
            decimals=report.get("decimals", 3),
            percent=report.get("percent", False),
        )

    @classmethod
    def from_table(cls, suite: dict, spec: dict, records: list[dict]) -> "Layout":
        """The layout of one `[[report.tables]]` entry; the report's metrics, decimals and percent are its defaults."""
        base = cls.from_suite(suite, records)
        return cls(
            rows=tuple(spec["rows"]),
            columns=tuple(spec["columns"]),
            metrics=tuple(spec.get("metrics") or base.metrics),
            decimals=base.decimals,
            percent=suite.get("report", {}).get("percent", False),  # not base.percent: the report's may show no accuracy
            where=where_items(spec.get("where", {})),
        )


def accuracy_like(name: str) -> bool:
    """Whether a metric (or a record value named after one, training.train_accuracy) is an accuracy: `percent`
    applies to these only, never to an AUC, which is not a proportion of items."""
    key = split_name(name)[1]
    return key == "accuracy" or key.endswith("_accuracy")


def where_items(where: dict) -> tuple[tuple[str, str], ...]:
    """A `where` table as sorted (dimension, text) pairs: values compare as text, like the dimensions."""
    return tuple(sorted((k, str(v)) for k, v in where.items()))


def matches(dims: dict[str, str], where: tuple[tuple[str, str], ...]) -> bool:
    """Whether coordinates agree with every `where` condition."""
    return all(dims.get(k) == v for k, v in where)


def varying_params(records: list[dict]) -> dict[str, list[str]]:
    """For each system label, the parameters that differ between its variants (they name the variant)."""
    seen: dict[str, dict[str, set]] = {}
    for r in records:
        v = r["variant"]
        for k, val in v["params"].items():
            seen.setdefault(v["label"], {}).setdefault(k, set()).add(repr(val))
    return {label: sorted(k for k, vals in params.items() if len(vals) > 1) for label, params in seen.items()}


def variant_name(variant: dict, varying: dict[str, list[str]]) -> str:
    keys = varying.get(variant["label"], [])
    if not keys:
        return variant["label"]
    params = ", ".join(f"{k}={variant['params'].get(k)}" for k in keys)
    return f"{variant['label']} ({params})"


def by_variant(records: list[dict]) -> dict[str, list[dict]]:
    """Records grouped by variant name (the label, plus the parameters that tell its variants apart), in order."""
    varying = varying_params(records)
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(variant_name(r["variant"], varying), []).append(r)
    return groups


def dimensions(record: dict, metric: str, varying) -> dict[str, str]:
    """The layout coordinates of one record's value of one metric."""
    v = record["variant"]
    dims = {k: str(val) for k, val in v["params"].items()}
    dims.update(system=v["label"], variant=variant_name(v, varying), metric=metric)
    return dims


@dataclass
class Cell:
    mean: float | None
    std: float | None
    n: int
    kind: str = "metric"  # or, for record values, "count" (integral), "value" or "small": see values.fmt_record
    metric: str | None = None  # the metric or record value it holds (None: the layout's only one)


def cells(records: list[dict], layout: Layout) -> dict[tuple[tuple[str, ...], tuple[str, ...]], Cell]:
    """Mean ± std over folds and seeds of each (row key, column key) of the layout."""
    ok = [r for r in records if r.get("status") == "ok"]
    varying = varying_params(ok)
    values: dict[tuple, list] = {}
    names: dict[tuple, str] = {}
    for r in ok:
        for metric in layout.metrics:
            value = lookup(r, metric)
            if value is MISSING:
                continue
            d = dimensions(r, metric, varying)
            if not matches(d, layout.where):
                continue
            key = (tuple(d.get(k, "") for k in layout.rows), tuple(d.get(k, "") for k in layout.columns))
            values.setdefault(key, []).append(value)
            names.setdefault(key, metric)
    out = {}
    for key, vals in values.items():
        s = summarise(vals)
        out[key] = Cell(s["mean"], s["std"], s["n"], value_kind(names[key], vals), names[key])
    small = {names[k] for k, c in out.items() if c.kind == "value" and c.mean is not None and 0 < abs(c.mean) < 0.1}
    for key, cell in out.items():  # one notation per record value across the table, so its column reads evenly
        if cell.kind == "value" and names[key] in small:
            cell.kind = "small"
    return out


def published_value(entries: list[dict], rows: tuple, cols: tuple, layout: Layout) -> dict | None:
    """The published entry whose dimension values all match this cell, if any."""
    coords = dict(layout.where) | dict(zip(layout.rows, rows)) | dict(zip(layout.columns, cols))
    for entry in entries:
        dims = {k: v for k, v in entry.items() if k not in PUBLISHED_RESERVED}
        if dims and all(k in coords and coords[k] == str(v) for k, v in dims.items()):
            return entry
    return None


def fmt_number(value: float | None, layout: Layout, metric: str | None = None) -> str:
    """A metric's value: an accuracy in % when the layout says so, to `decimals` places; any other metric (an
    AUC) of a table in % as a fraction with two more places, the same precision (95.7 % beside 0.957)."""
    if value is None:
        return "n/a"
    if layout.in_percent(metric):
        return f"{value * 100.0:.{layout.decimals}f}"
    return f"{value:.{layout.decimals + (2 if layout.percent else 0)}f}"


def fmt_cell(cell: Cell | None, layout: Layout) -> str:
    if cell is None or cell.mean is None:
        return "—"
    if cell.kind != "metric":
        return fmt_record(cell.mean, cell.std, cell.n, cell.kind, layout.decimals)
    if cell.n < 2:
        return fmt_number(cell.mean, layout, cell.metric)
    return f"{fmt_number(cell.mean, layout, cell.metric)} ± {fmt_number(cell.std, layout, cell.metric)}"


def fmt_published(entry: dict | None, layout: Layout, metric: str = "") -> str:
    if entry is None:
        return ""
    kind = value_kind(metric, [entry["value"]])
    if kind != "metric":
        return fmt_record(entry["value"], entry.get("std"), 2 if "std" in entry else 1, kind, layout.decimals)
    text = fmt_number(entry["value"], layout, metric or None)
    if "std" in entry:
        text += f" ± {fmt_number(entry['std'], layout, metric or None)}"
    return text


def grid(records: list[dict], layout: Layout, published: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the main table, a 'published' column beside each column that has published numbers."""
    table = cells(records, layout)
    col_keys = sorted({k[1] for k in table}, key=lambda c: column_order(c, layout))
    row_keys = sorted({k[0] for k in table}, key=lambda r: (published_rank(published, r, col_keys, layout), natural(r)))
    with_pub = {c for c in col_keys if any(published_value(published, r, c, layout) for r in row_keys)}
    header = [DIMENSION_TITLES.get(d, d) for d in layout.rows]
    for c in col_keys:
        name = column_title(c, layout)
        header.append(name)
        if c in with_pub:
            header.append(f"{name} (published)")
    body = []
    for r in row_keys:
        line = [value_title(v) if d == "metric" else v for d, v in zip(layout.rows, r)]
        for c in col_keys:
            line.append(fmt_cell(table.get((r, c)), layout))
            if c in with_pub:
                line.append(fmt_published(published_value(published, r, c, layout), layout, cell_metric(r, c, layout)))
        body.append(line)
    return header, body


def cell_metric(row: tuple, col: tuple, layout: Layout) -> str:
    """The metric a cell shows: its metric coordinate, else the layout's only metric."""
    coords = dict(layout.where) | dict(zip(layout.rows, row)) | dict(zip(layout.columns, col))
    return coords.get("metric", layout.metrics[0] if layout.metrics else "")


def published_rank(published: list[dict], row: tuple, col_keys, layout: Layout) -> int:
    """Where a row's first published number sits in the suite's list: rows follow the paper's order where it has one."""
    entries = [published_value(published, row, c, layout) for c in col_keys]
    ranks = [i for i, p in enumerate(published) if any(p is e for e in entries)]
    return min(ranks, default=len(published))


def column_title(key: tuple[str, ...], layout: Layout) -> str:
    """Names speak for themselves ("relu-sgd"); flags get their parameter's name ("aggregate=True");
    a parameter a variant does not have reads "no <parameter>"; record values read as their key ("fit_s")."""

    def title(dim: str, value: str) -> str:
        if dim == "metric":
            return value_title(value)
        if value == "":
            return f"no {dim}"
        return f"{dim}={value}" if value in ("True", "False") else value

    return " / ".join(title(d, v) for d, v in zip(layout.columns, key))


def natural(key: tuple[str, ...]):
    """Sort numbers as numbers, text as text."""
    return tuple((0, float(k), "") if is_number(k) else (1, 0.0, k) for k in key)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def column_order(key: tuple[str, ...], layout: Layout):
    """Metrics keep the order the suite lists them in; other dimensions sort naturally."""
    order = []
    for dim, value in zip(layout.columns, key):
        if dim == "metric" and value in layout.metrics:
            order.append((0, float(layout.metrics.index(value)), ""))
        else:
            order.extend(natural((value,)))
    return tuple(order)
