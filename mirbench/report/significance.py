"""Which variants differ significantly from the best one: paired tests on the same folds, seeds and tracks.

One estimand throughout: each metric computed once over all test tracks of the paired trials, pooled across
folds and seeds (`mirbench.stats.compare_records`), not the mean over folds of the results table (the two
agree for accuracy over folds of equal size, not for an AUC). The variant with the best pooled value is
compared with every other; each row shows the variant's pooled value, the difference variant − best on
the same tracks (the convention of `mirbench compare A B`: A − B), its 95 % bootstrap interval with the
resamples it rests on, and the paired permutation test's p-value; McNemar's test too, in the accuracy table
only (it tests accuracy). A row whose p-value is below `ALPHA` is marked. With several seeds, the spread
over seeds is printed apart from the spread over folds.
"""

from __future__ import annotations

from tabulate import tabulate

from mirbench.metrics import METRICS
from mirbench.report.cells import by_variant
from mirbench.report.values import is_record_value
from mirbench.stats import RESAMPLES, compare_records, pooled_value, variance_components

ALPHA = 0.05


def section(suite: dict, records: list[dict], metrics: tuple[str, ...]) -> str:
    """The "Significance" section, or "" when there is nothing to compare (one variant, no predictions)."""
    ok = [r for r in records if r.get("status") == "ok" and r.get("predictions", {}).get("scores")]
    groups = by_variant(ok)
    shown = [m for m in metrics if m in METRICS and not is_record_value(m)]
    if len(groups) < 2 or not shown:
        return ""
    parts = [
        "## Significance",
        "Each variant against the best one of each metric, paired on the same folds, seeds and test tracks. "
        "Values here are each metric computed once over all paired test tracks pooled across folds and seeds "
        "(so an AUC can differ from the mean over folds in the results table); the difference is variant − best "
        "(as `mirbench compare VARIANT BEST` prints it), with its 95 % percentile bootstrap interval over tracks "
        "and the number of resamples it rests on, and the paired permutation test's p-value "
        f"({RESAMPLES} sign flips); McNemar's p-value in the accuracy table only (it tests accuracy). "
        f"**†** marks p < {ALPHA}.",
    ]
    parts += [table(metric, groups) for metric in shown]
    parts.append(seed_spread(groups, shown))
    return "\n\n".join(p for p in parts if p)


def table(metric: str, groups: dict[str, list[dict]]) -> str:
    values = {name: pooled_value(group, metric) for name, group in groups.items()}
    ranked = sorted((v, n) for n, v in values.items() if v is not None)
    if not ranked:
        return ""
    best = ranked[-1][1]
    mcnemar = metric == "accuracy"
    rows = [[best, f"{values[best]:.3f}", "best", "", "", "", *([""] if mcnemar else [])]]
    for _, name in reversed(ranked[:-1]):
        rows.append([name, *comparison(groups[name], groups[best], metric, values[best], mcnemar)])
    header = ["variant", f"{metric} (pooled)", "difference (variant − best)", "95 % CI", "resamples", "p (permutation)"]
    header += ["p (McNemar)"] if mcnemar else []
    return f"### {metric}\n\n" + tabulate(rows, header, tablefmt="github", disable_numparse=True)


def comparison(records: list[dict], best: list[dict], metric: str, best_value: float, mcnemar: bool) -> list[str]:
    """Value, difference, interval, resamples and p-values of one variant against the best, or why there are
    none. Where the pair shares fewer tracks than the best has, the best's value on the shared ones is said."""
    try:
        result = compare_records(records, best, metric=metric, n_resamples=RESAMPLES)
    except ValueError as exc:
        value = pooled_value(records, metric)
        return ["—" if value is None else f"{value:.3f}", f"n/a ({exc})", "", "", "", *([""] if mcnemar else [])]
    boot, perm, mcn = result["bootstrap"], result["permutation"], result.get("mcnemar")
    significant = perm.p_value < ALPHA or (mcnemar and mcn is not None and mcn.p_value < ALPHA)
    difference = f"{boot.difference:+.3f}" + (" †" if significant else "")
    if abs(result["b"] - best_value) > 5e-4:
        difference += f" (best: {result['b']:.3f} on the {result['n']} shared tracks)"
    out = [f"{result['a']:.3f}", difference, f"[{boot.ci_low:+.3f}, {boot.ci_high:+.3f}]", str(boot.resamples),
           f"{perm.p_value:.3g}"]
    if mcnemar:
        out.append(f"{mcn.p_value:.3g}" if mcn is not None else "n/a (multi-label)")
    return out


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
