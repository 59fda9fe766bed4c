"""The per-class (per-tag) table of `[report.per_class]`: one AUC per class and variant, over folds and seeds."""

from __future__ import annotations

import csv
import io

from tabulate import tabulate

from mirbench.metrics import summarise
from mirbench.report.cells import (
    Cell,
    Layout,
    column_order,
    column_title,
    dimensions,
    fmt_cell,
    fmt_number,
    matches,
    variant_name,
    varying_params,
    where_items,
)

METRIC_TITLES = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC"}


def class_summaries(trials: list[list], n_classes: int) -> list[Cell]:
    """Mean ± std of each class over trials (one list per trial, aligned with the classes); None is left out."""
    out = []
    for i in range(n_classes):
        s = summarise([values[i] for values in trials if i < len(values)])
        out.append(Cell(s["mean"], s["std"], s["n"]))
    return out


def class_cells(records: list[dict], layout: Layout) -> tuple[list[str], str | None, dict[tuple, list[Cell]]]:
    """The classes, the task, and per column key of `layout` the class cells of its matching trials."""
    ok = [r for r in records if r.get("status") == "ok"]
    varying = varying_params(ok)  # over every trial, so variant names agree with the other tables
    metric = layout.metrics[0]
    classes, task, values = [], None, {}
    for r in ok:
        scores = (r.get("per_class") or {}).get(metric)
        dims = dimensions(r, metric, varying)
        if scores is None or not matches(dims, layout.where):
            continue
        classes, task = classes or list(r["dataset"]["classes"]), task or r["dataset"].get("task")
        values.setdefault(tuple(dims.get(c, "") for c in layout.columns), []).append(scores)
    return classes, task, {key: class_summaries(trials, len(classes)) for key, trials in values.items()}


def mean_of_means(column: list[Cell], layout: Layout) -> str:
    """The mean over classes of the cell means (classes with no value left out), "—" when there are none."""
    means = [c.mean for c in column if c.mean is not None]
    return fmt_number(sum(means) / len(means), layout) if means else "—"


def per_class_layout(suite: dict, records: list[dict]) -> Layout | None:
    """The layout `[report.per_class]` asks for (rows are the classes), or None when it is not configured."""
    spec = suite.get("report", {}).get("per_class")
    if not spec:
        return None
    base = Layout.from_suite(suite, records)
    return Layout(
        rows=("class",),
        columns=tuple(spec.get("columns", ["variant"])),
        metrics=(spec["metric"],),
        decimals=base.decimals,
        percent=base.percent,
        where=where_items(spec.get("where", {})),
    )


def section(suite: dict, records: list[dict]) -> str:
    """'## Per-tag ROC-AUC' (or per-class, or PR-AUC): classes in dataset order, a last row of means."""
    layout = per_class_layout(suite, records)
    if layout is None:
        return ""
    classes, task, table = class_cells(records, layout)
    kind, kinds = ("tag", "tags") if task == "multi-label" else ("class", "classes")
    title = METRIC_TITLES.get(layout.metrics[0], layout.metrics[0])
    heading = f"## Per-{kind} {title}"
    if not table:
        return f"{heading}\n\n_No successful trials yet._\n"
    keys = sorted(table, key=lambda c: column_order(c, layout))
    header = [kind.capitalize()] + [column_title(k, layout) for k in keys]
    body = [[name] + [fmt_cell(table[k][i], layout) for k in keys] for i, name in enumerate(classes)]
    body.append(["mean"] + [mean_of_means(table[k], layout) for k in keys])
    only = f" (trials with {', '.join(f'{k}={v}' for k, v in layout.where)})" if layout.where else ""
    note = (
        f"Mean ± sample standard deviation over folds and seeds{only}; a trial where a {kind}'s {title} is "
        f"undefined (its test set has no positive or no negative item) is left out of that cell. "
        f"The last row is the mean over {kinds} of the cell means" + ("; values in %." if layout.percent else ".")
    )
    return f"{heading}\n\n{tabulate(body, header, tablefmt='github', disable_numparse=True)}\n\n{note}\n"


def csv_text(records: list[dict]) -> str:
    """Long format over every successful trial (no `where`): variant, class, metric, mean, std, n."""
    ok = [r for r in records if r.get("status") == "ok"]
    varying = varying_params(ok)
    values: dict[tuple[str, str], list] = {}
    classes: dict[tuple[str, str], list[str]] = {}
    for r in ok:
        for metric, scores in (r.get("per_class") or {}).items():
            if scores is not None:
                key = (variant_name(r["variant"], varying), metric)
                values.setdefault(key, []).append(scores)
                classes.setdefault(key, list(r["dataset"]["classes"]))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["variant", "class", "metric", "mean", "std", "n"])
    for (name, metric) in sorted(values):
        names = classes[(name, metric)]
        for cls, cell in zip(names, class_summaries(values[(name, metric)], len(names))):
            writer.writerow([name, cls, metric, cell.mean, cell.std, cell.n])
    return buf.getvalue()
