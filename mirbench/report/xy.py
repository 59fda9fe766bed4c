"""The `[report.plot]` figure: one value against another, a line per value of a layout dimension."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from mirbench.metrics import summarise
from mirbench.report.plots import save
from mirbench.report.cells import dimensions, matches, natural, varying_params, where_items
from mirbench.report.values import MISSING, lookup


@dataclass(frozen=True)
class Point:
    """One variant on the plot: means over its successful trials, and the spread of y."""

    variant: str
    x: float
    y: float
    y_std: float | None  # sample standard deviation of y; None with fewer than two trials
    n: int  # trials with a y value


# What an axis shows, for the record values a reader cannot decode from the name alone (the name follows)
AXIS_LABELS = {
    "n_parameters": "parameters",
    "timings.fit_s": "fit seconds per trial, features excluded",
    "timings.predict_s": "predict seconds per trial, features excluded",
    "timings.features_s": "feature seconds per trial (cache misses)",
    "timings.total_s": "fit + predict seconds per trial",
}
TITLE_WIDTH = 80  # characters of a title line at the figure's width and font size


def axis_label(name: str) -> str:
    """An axis's label: what the value is and its name ("fit seconds per trial, ... (timings.fit_s)"), else the name."""
    return f"{AXIS_LABELS[name]} ({name})" if name in AXIS_LABELS else name


def plot_spec(suite: dict) -> dict | None:
    """The suite's `[report.plot]` table, or None when it has none."""
    return suite.get("report", {}).get("plot")


def plot_title(spec: dict) -> str:
    """The plot's title: the one given, else "<y> against <x>"."""
    return spec.get("title") or f"{spec['y']} against {spec['x']}"


def line_label(dim: str, value: str) -> str:
    """A legend entry: systems and variants by name, parameters as "<name>=<value>", a missing one "no <name>"."""
    if value == "":
        return f"no {dim}"
    return value if dim in ("system", "variant") else f"{dim}={value}"


def values_of(records: list[dict], name: str) -> list:
    """The values of a metric or record value over records that have it."""
    return [v for v in (lookup(r, name) for r in records) if v is not MISSING]


def plot_points(records: list[dict], x: str, y: str, lines: str, where=()) -> dict[str, list[Point]]:
    """Per line (legend label, lines in natural order of their value): one point per variant, the mean x and
    mean y over its successful trials with the sample std of y, sorted by x; a variant lacking x or y is left out."""
    ok = [r for r in records if r.get("status") == "ok"]
    varying = varying_params(ok)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in ok:
        dims = dimensions(r, y, varying)
        if matches(dims, tuple(where)):
            groups.setdefault((dims.get(lines, ""), dims["variant"]), []).append(r)
    out: dict[str, list[Point]] = {}
    for (line, variant), trials in sorted(groups.items(), key=lambda kv: (natural((kv[0][0],)), kv[0][1])):
        xs, ys = summarise(values_of(trials, x)), summarise(values_of(trials, y))
        if xs["mean"] is None or ys["mean"] is None:
            continue
        std = ys["std"] if ys["n"] >= 2 else None
        out.setdefault(line_label(lines, line), []).append(Point(variant, xs["mean"], ys["mean"], std, ys["n"]))
    return {label: sorted(points, key=lambda p: (p.x, p.variant)) for label, points in out.items()}


def draw(points: dict[str, list[Point]], spec: dict, path: Path) -> Path:
    """Lines with markers, bars of ± one std of y, a log x axis when asked, grid lines and a legend; a line of one
    point (a baseline without the swept parameter) is also a dashed level across the figure, to read the others by."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (label, line) in enumerate(points.items()):
        color = f"C{i % 10}"
        ax.plot([p.x for p in line], [p.y for p in line], marker="o", color=color, label=label)
        if len(line) == 1:
            ax.axhline(line[0].y, color=color, linestyle="--", linewidth=1, alpha=0.6)
        bars = [p for p in line if p.y_std is not None]
        if bars:
            ax.errorbar([p.x for p in bars], [p.y for p in bars], yerr=[p.y_std for p in bars],
                        fmt="none", ecolor=color, capsize=3)
    if spec.get("log_x"):
        ax.set_xscale("log")
    ax.grid(True, which="major", alpha=0.4)
    ax.set_xlabel(axis_label(spec["x"]), fontsize=9)
    ax.set_ylabel(axis_label(spec["y"]), fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(title=spec["lines"], fontsize=8, title_fontsize=8)
    return save(fig, path, textwrap.fill(plot_title(spec), TITLE_WIDTH))


def suite_points(spec: dict, records: list[dict]) -> dict[str, list[Point]]:
    """The points of the suite's `[report.plot]` `spec` over `records`."""
    return plot_points(records, spec["x"], spec["y"], spec["lines"], where_items(spec.get("where", {})))


def plot_figure(suite: dict, records: list[dict], path: Path) -> Path | None:
    """Draw the suite's `[report.plot]` to `path`; None when it has none or no variant has both values."""
    spec = plot_spec(suite)
    if not spec:
        return None
    points = suite_points(spec, records)
    return draw(points, spec, path) if points else None


def section(suite: dict, records: list[dict], figure: str | None) -> str:
    """'## <title>': what a point, a bar and (where there is one) a dashed level are, then the figure (nothing when
    there is no figure)."""
    spec = plot_spec(suite)
    if not spec or not figure:
        return ""
    level = any(len(line) == 1 for line in suite_points(spec, records).values())
    x, y, title = spec["x"], spec["y"], plot_title(spec)
    only = ", ".join(f"{k}={v}" for k, v in where_items(spec.get("where", {})))
    caption = (
        f"A point is one variant: mean {x} and mean {y} over its successful trials{f' with {only}' if only else ''}; "
        f"a bar is ± one sample standard deviation of {y} over its folds and seeds (drawn with two trials or more); "
        f"one line per {spec['lines']}{', and a line of one variant also drawn as a dashed level' if level else ''}."
    )
    return f"## {title}\n\n{caption}\n\n![{title}]({figure})\n"
