"""Which variants differ significantly from the best one: paired tests on the same folds, seeds and tracks.

For each suite metric of the main table, the variant with the best mean is
compared with every other by `mirbench.stats.compare_records` (a paired
permutation test and a bootstrap confidence interval of the difference over
the pooled test tracks; McNemar's test too for accuracy on single-label
tasks). A row whose p-value is below `ALPHA` is marked. With several seeds,
the spread over seeds is printed apart from the spread over folds.
"""

from __future__ import annotations

from tabulate import tabulate

from mirbench.metrics import METRICS, summarise
from mirbench.report.cells import by_variant
from mirbench.report.values import is_record_value
from mirbench.stats import compare_records, variance_components

ALPHA = 0.05
RESAMPLES = 200  # per comparison: p-values resolve to 0.005 near ALPHA, and a report of 20 variants stays in seconds


def section(suite: dict, records: list[dict], metrics: tuple[str, ...]) -> str:
    """The "Significance" section, or "" when there is nothing to compare (one variant, no predictions)."""
    ok = [r for r in records if r.get("status") == "ok" and r.get("predictions", {}).get("scores")]
    groups = by_variant(ok)
    shown = [m for m in metrics if m in METRICS and not is_record_value(m)]
    if len(groups) < 2 or not shown:
        return ""
    parts = [
        "## Significance",
        f"Each variant against the best one of each metric, paired on the same folds, seeds and test tracks: "
        f"the difference with its 95 % bootstrap interval, the permutation-test p-value (and McNemar's for accuracy); "
        f"**†** marks p < {ALPHA}. {RESAMPLES} resamples per comparison.",
    ]
    parts += [table(metric, groups) for metric in shown]
    parts.append(seed_spread(groups, shown))
    return "\n\n".join(p for p in parts if p)


def table(metric: str, groups: dict[str, list[dict]]) -> str:
    means = {name: mean_of(group, metric) for name, group in groups.items()}
    ranked = sorted((m, n) for n, m in means.items() if m is not None)
    if not ranked:
        return ""
    best = ranked[-1][1]
    rows = [[best, f"{means[best]:.3f}", "best", "", "", ""]]
    for _, name in reversed(ranked[:-1]):
        rows.append([name, f"{means[name]:.3f}", *comparison(groups[name], groups[best], metric)])
    header = ["variant", metric, "difference to best", "95 % CI", "p (permutation)", "p (McNemar)"]
    return f"### {metric}\n\n" + tabulate(rows, header, tablefmt="github", disable_numparse=True)


def comparison(records: list[dict], best: list[dict], metric: str) -> list[str]:
    """Difference, interval and p-values of one variant against the best, or why there are none."""
    try:
        result = compare_records(records, best, metric=metric, n_resamples=RESAMPLES)
    except ValueError as exc:
        return [f"n/a ({exc})", "", "", ""]
    boot, perm, mcnemar = result["bootstrap"], result["permutation"], result.get("mcnemar")
    mark = " †" if perm.p_value < ALPHA or (mcnemar is not None and metric == "accuracy" and mcnemar.p_value < ALPHA) else ""
    mcn = f"{mcnemar.p_value:.3g}" if mcnemar is not None and metric == "accuracy" else ""
    return [f"{boot.difference:+.3f}{mark}", f"[{boot.ci_low:+.3f}, {boot.ci_high:+.3f}]", f"{perm.p_value:.3g}", mcn]


def mean_of(group: list[dict], metric: str) -> float | None:
    return summarise(r["metrics"].get(metric) for r in group)["mean"]


def seed_spread(groups: dict[str, list[dict]], metrics: list[str]) -> str:
    """Fold and seed standard deviations apart, when some variant ran several seeds on one fold."""
    rows = []
    for name, group in groups.items():
        if len({r["seed"] for r in group}) < 2:
            continue
        for metric in metrics:
            values = {(r["fold"]["index"], r["seed"]): r["metrics"][metric] for r in group if r["metrics"].get(metric) is not None}
            if values:
                parts = variance_components(values)
                rows.append([name, metric, f"{parts['mean']:.3f}", fmt(parts["fold_std"]), fmt(parts["seed_std"]),
                             parts["n_folds"], parts["n_seeds"]])
    if not rows:
        return ""
    header = ["variant", "metric", "mean", "std over folds", "std over seeds", "folds", "seeds"]
    return "### Fold and seed variance\n\n" + tabulate(rows, header, tablefmt="github", disable_numparse=True)


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
