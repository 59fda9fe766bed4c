"""Evaluation metrics: pure functions of (truth, scores) that validate their inputs, then compute.

`truth` is class indices (n,) for single-label tasks or a 0/1 matrix (n, C) for
multi-label ones; `scores` is a real matrix (n, C), one column per class. Nothing
is averaged implicitly: the average ("macro", "micro") is always in the name.

Undefined classes: the ROC-AUC and PR-AUC of a class are defined only when the
test set holds both positives and negatives of it (single-label classes are
scored one-vs-rest). Per-class values (`average=None`) are NaN for the other
classes; macro averages over the defined classes only (`undefined_classes` lists
the excluded ones, and `evaluate` reports them); if no class is defined macro
raises ValueError. Micro pools every (item, class) pair, so it needs only one
positive and one negative anywhere. Normalised accuracy likewise averages the
recall of the classes present in truth only. `CLASS_AVERAGED` names these
metrics, and `evaluate` reports the classes each left out (`macro_excluded`), so
that a record and its report can say "macro over 5 of 6 classes". The implementations are numpy only;
scikit-learn is their test oracle.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np

TASKS = ("single-label", "multi-label")
AVERAGES = ("macro", "micro", None)


# ----------------------------------------------------------------------------- validation


def _check_scores(scores) -> np.ndarray:
    scores = np.asarray(scores)
    if scores.dtype.kind not in "biuf":
        raise ValueError(f"scores must be a real numeric array, got dtype {scores.dtype}")
    if scores.ndim != 2:
        raise ValueError(f"scores must be a 2-D array (n items, n classes), got shape {scores.shape}")
    if scores.shape[0] == 0:
        raise ValueError("empty input: scores has no rows")
    if scores.shape[1] == 0:
        raise ValueError("scores has no columns (classes)")
    scores = scores.astype(np.float64)
    bad = ~np.isfinite(scores)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"scores must be finite: {int(bad.sum())} entries are NaN or infinite "
            f"(first at row {row}, column {col}: {scores[row, col]})"
        )
    return scores


def _check(truth, scores) -> tuple[np.ndarray, np.ndarray]:
    """Validated (truth, scores): int64 indices (n,) or a bool matrix (n, C), and float64 scores (n, C)."""
    scores = _check_scores(scores)
    n, n_classes = scores.shape
    truth = np.asarray(truth)
    if truth.size == 0:
        raise ValueError("empty input: truth has no items")
    if truth.ndim == 1:
        if len(truth) != n:
            raise ValueError(f"shape mismatch: truth has {len(truth)} items but scores has {n} rows")
        if truth.dtype.kind not in "iuf":
            raise ValueError(f"single-label truth must be integer class indices, got dtype {truth.dtype}")
        if truth.dtype.kind == "f" and not (np.isfinite(truth).all() and (truth == np.round(truth)).all()):
            raise ValueError("single-label truth must be integer class indices, got non-integer values")
        out = (truth < 0) | (truth >= n_classes)
        if out.any():
            shown = ", ".join(str(v) for v in np.unique(truth[out])[:5].tolist())
            raise ValueError(
                f"truth out of range: class indices must be in [0, {n_classes}) "
                f"(scores has {n_classes} columns), got {shown}"
            )
        return truth.astype(np.int64), scores
    if truth.ndim == 2:
        if truth.shape != scores.shape:
            raise ValueError(f"shape mismatch: truth has shape {truth.shape} but scores has shape {scores.shape}")
        if truth.dtype.kind not in "biuf":
            raise ValueError(f"multi-label truth must be a 0/1 matrix, got dtype {truth.dtype}")
        if truth.dtype.kind != "b":
            not01 = ~((truth == 0) | (truth == 1))
            if not01.any():
                shown = ", ".join(str(v) for v in np.unique(truth[not01])[:5].tolist())
                raise ValueError(f"multi-label truth must be 0/1, got values {shown}")
        return truth.astype(bool), scores
    raise ValueError(f"truth must be class indices (n,) or a 0/1 matrix (n, C), got shape {truth.shape}")


def _check_average(average) -> None:
    if average not in AVERAGES:
        raise ValueError(f"average must be 'macro', 'micro' or None, got {average!r}")


def _single_label(truth, scores, metric: str) -> tuple[np.ndarray, np.ndarray]:
    truth, scores = _check(truth, scores)
    if truth.ndim != 1:
        raise ValueError(f"{metric} applies to single-label truth (class indices), got a matrix {truth.shape}")
    return truth, scores


def _indicator(truth: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, C) bool: multi-label truth as is, single-label indices one-vs-rest."""
    if truth.ndim == 2:
        return truth
    return truth[:, None] == np.arange(n_classes)[None, :]


# ----------------------------------------------------------------------------- column kernels


def _tie_blocks(sorted_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position of each column sorted along axis 0, the first and last position of its tie block."""
    n, k = sorted_scores.shape
    pos = np.broadcast_to(np.arange(n)[:, None], (n, k))
    starts = np.ones((n, k), dtype=bool)
    starts[1:] = sorted_scores[1:] != sorted_scores[:-1]
    ends = np.ones((n, k), dtype=bool)
    ends[:-1] = starts[1:]
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=0)
    last = np.minimum.accumulate(np.where(ends, pos, n - 1)[::-1], axis=0)[::-1]
    return first, last


def _defined(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    positives = y.sum(axis=0)
    negatives = y.shape[0] - positives
    return positives, negatives, (positives > 0) & (negatives > 0)


def _roc_auc_columns(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ROC-AUC of each column (Mann-Whitney U with mid-ranks, so tied scores count 1/2); NaN if undefined."""
    order = np.argsort(s, axis=0, kind="stable")
    first, last = _tie_blocks(np.take_along_axis(s, order, axis=0))
    ranks = np.empty_like(s)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=0)
    positives, negatives, defined = _defined(y)
    rank_sum = np.where(y, ranks, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)
    return np.where(defined, auc, np.nan)


def _average_precision_columns(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Average precision of each column as scikit-learn defines it: sum over thresholds of
    (recall gain) x precision, thresholds at the distinct scores; NaN if undefined."""
    order = np.argsort(-s, axis=0, kind="stable")
    return _average_precision_sorted(np.take_along_axis(y, order, axis=0), np.take_along_axis(-s, order, axis=0))


def _average_precision_sorted(y_sorted: np.ndarray, descending: np.ndarray) -> np.ndarray:
    """`_average_precision_columns` of columns already sorted by descending score (`descending`: -scores, sorted).
    A positive adds its threshold's precision to a sum over the column in order, so the order of the items within
    a tie block does not change the value."""
    _, last = _tie_blocks(descending)
    true_pos = np.cumsum(y_sorted, axis=0)
    precision = true_pos / np.arange(1, len(y_sorted) + 1)[:, None]
    # every positive is counted at the end of its tie block (its threshold)
    precision_at_threshold = np.take_along_axis(precision, last, axis=0)
    positives, _, defined = _defined(y_sorted)
    with np.errstate(invalid="ignore", divide="ignore"):
        # summed in order (cumsum), as numpy sums the columns of a matrix: a single column's .sum() would pair
        # its terms by position, and tied items' order would change the last bit
        ap = np.cumsum(np.where(y_sorted, precision_at_threshold, 0.0), axis=0)[-1] / positives
    return np.where(defined, ap, np.nan)


def _averaged(truth, scores, average, kernel: Callable, what: str):
    _check_average(average)
    truth, scores = _check(truth, scores)
    y = _indicator(truth, scores.shape[1])
    if average is None:
        return kernel(y, scores)
    if average == "micro":
        value = kernel(y.reshape(-1, 1), scores.reshape(-1, 1))[0]
        if np.isnan(value):
            raise ValueError(f"micro {what} is undefined: truth holds only positives or only negatives")
        return float(value)
    per_class = kernel(y, scores)
    defined = ~np.isnan(per_class)
    if not defined.any():
        raise ValueError(
            f"macro {what} is undefined: no class has both positive and negative items in truth "
            f"({len(per_class)} classes, {y.shape[0]} items)"
        )
    return float(per_class[defined].mean())


# ----------------------------------------------------------------------------- metrics


def accuracy(truth, scores) -> float:
    """Fraction of items whose top-scoring class is the true one (ties go to the lowest class index)."""
    truth, scores = _single_label(truth, scores, "accuracy")
    return float(np.mean(scores.argmax(axis=1) == truth))


def confusion(truth, scores, n_classes: int | None = None) -> np.ndarray:
    """Counts (C, C): rows are true classes, columns predicted (argmax) classes, as scikit-learn lays it out.

    `n_classes`, when given, must equal the number of score columns (a guard against mixed-up inputs).
    """
    truth, scores = _single_label(truth, scores, "confusion")
    c = scores.shape[1]
    if n_classes is not None and n_classes != c:
        raise ValueError(f"n_classes is {n_classes} but scores has {c} columns")
    predicted = scores.argmax(axis=1)
    return np.bincount(truth * c + predicted, minlength=c * c).reshape(c, c)


def normalised_accuracy(truth, scores) -> float:
    """Mean per-class recall over the classes present in truth (scikit-learn's balanced accuracy)."""
    counts = confusion(truth, scores)
    support = counts.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(counts)[present] / support[present]))


def roc_auc(truth, scores, average: str | None = "macro"):
    """Area under the ROC curve per class (one-vs-rest for single-label truth), averaged as named.

    Returns a float for "macro"/"micro", an array (C,) with NaN for undefined classes for None.
    """
    return _averaged(truth, scores, average, _roc_auc_columns, "ROC-AUC")


def pr_auc(truth, scores, average: str | None = "macro"):
    """Average precision (area under the precision-recall curve, step-wise) per class, averaged as named.

    Returns a float for "macro"/"micro", an array (C,) with NaN for undefined classes for None.
    """
    return _averaged(truth, scores, average, _average_precision_columns, "PR-AUC")


def undefined_classes(truth, scores) -> list[int]:
    """Indices of the classes whose AUCs are undefined (truth is all positive or all negative for them)."""
    truth, scores = _check(truth, scores)
    return np.flatnonzero(~_defined(_indicator(truth, scores.shape[1]))[2]).tolist()


def excluded_classes(name: str, truth, scores) -> list[int]:
    """Indices of the classes the class-averaged metric `name` leaves out of its mean for this truth: for the macro
    AUCs the classes without both positive and negative items, for normalised accuracy those without any item.
    Empty for a metric that does not average over classes (accuracy, micro averages)."""
    needs = CLASS_AVERAGED.get(name)
    if needs is None:
        return []
    if needs == "support":
        truth, scores = _single_label(truth, scores, name)
        return np.flatnonzero(np.bincount(truth, minlength=scores.shape[1]) == 0).tolist()
    return undefined_classes(truth, scores)


def roc_auc_macro(truth, scores) -> float:
    """ROC-AUC averaged over the defined classes with equal weight."""
    return roc_auc(truth, scores, average="macro")


def roc_auc_micro(truth, scores) -> float:
    """ROC-AUC of all (item, class) pairs pooled."""
    return roc_auc(truth, scores, average="micro")


def pr_auc_macro(truth, scores) -> float:
    """Average precision averaged over the defined classes with equal weight."""
    return pr_auc(truth, scores, average="macro")


def pr_auc_micro(truth, scores) -> float:
    """Average precision of all (item, class) pairs pooled."""
    return pr_auc(truth, scores, average="micro")


# ----------------------------------------------------------------------------- many resamples at once
#
# The paired bootstrap and permutation test (mirbench.stats) evaluate a metric on thousands of resamples of the
# same items. A metric's function may carry `weighted(truth, scores, weights)`: the metric of R resamples given as
# integer multiplicities (R, n) of the n items (a bootstrap draw's counts; a permutation's 0/1 choice between two
# systems' stacked rows), as (R,) values, NaN where undefined, equal bit for bit to the one-pair metric on each
# resample (p-values compare differences with 0, and committed reports must regenerate byte for byte). A plug-in
# metric may set it too; without it, resamples are computed one at a time.


def _weighted_accuracy(truth: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`accuracy` of R weightings (R, n) of the items: correct count over item count, both exact integers."""
    truth, scores = _single_label(truth, scores, "accuracy")
    correct = scores.argmax(axis=1) == truth
    return (weights @ correct.astype(np.int64)) / weights.sum(axis=1)


def _weighted_roc_auc_columns(y: np.ndarray, s: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(R, C) ROC-AUC of each column under each weighting (R, n), NaN where undefined. Each column is sorted once;
    a weighting only changes how many negatives lie below and beside each item, so twice the Mann-Whitney U is a
    sum of integer products (a positive counts the negatives below its tie block twice, those in it once), the
    exact numerator `_roc_auc_columns` computes, divided once by P x N as there."""
    out = np.empty((weights.shape[0], s.shape[1]))
    for j in range(s.shape[1]):
        order = np.argsort(s[:, j], kind="stable")
        ranked, positive = s[order, j], y[order, j]
        new_block = np.r_[True, ranked[1:] != ranked[:-1], True]
        starts = np.flatnonzero(new_block)
        first = np.repeat(starts[:-1], np.diff(starts))  # each item's block: its first and one-past-last positions
        after = np.repeat(starts[1:], np.diff(starts))
        w = weights[:, order]
        negatives_before = np.zeros((w.shape[0], w.shape[1] + 1), dtype=np.int64)
        np.cumsum(np.where(positive, 0, w), axis=1, out=negatives_before[:, 1:])
        w_positive = w[:, positive]
        twice_u = (w_positive * (negatives_before[:, first[positive]] + negatives_before[:, after[positive]])).sum(1)
        p = w_positive.sum(axis=1)
        n = negatives_before[:, -1]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, j] = np.where((p > 0) & (n > 0), (twice_u / 2.0) / (p * n), np.nan)
    return out


def _weighted_average_precision_columns(y: np.ndarray, s: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(R, C) average precision of each column under each weighting (R, n) whose rows all sum to the same m (a
    bootstrap's n draws; a permutation's n chosen rows). Each column is sorted once; a weighting's sorted column is
    that order with each item repeated by its weight, which the one-pair kernel then sees exactly (no sort)."""
    r = len(weights)
    m = int(weights[0].sum())
    out = np.empty((r, s.shape[1]))
    for j in range(s.shape[1]):
        order = np.argsort(-s[:, j], kind="stable")
        taken = np.repeat(np.tile(order, r), weights[:, order].ravel()).reshape(r, m).T  # (m, R)
        out[:, j] = _average_precision_sorted(y[taken, j], -s[taken, j])
    return out


def _weighted_pr_auc_macro(truth: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return _macro_rows(_weighted_average_precision_columns(_indicator(truth, scores.shape[1]), scores, weights))


def _weighted_pr_auc_micro(truth: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Micro PR-AUC: every (item, class) cell one column, each cell weighted as its item."""
    c = scores.shape[1]
    y = _indicator(truth, c).reshape(-1, 1)
    return _weighted_average_precision_columns(y, scores.reshape(-1, 1), np.repeat(weights, c, axis=1))[:, 0]


def _macro_rows(per_class: np.ndarray) -> np.ndarray:
    """The mean of each row's defined (not NaN) values, as the one-pair macro average takes it; NaN if none."""
    out = np.full(len(per_class), np.nan)
    for i, row in enumerate(per_class):
        defined = ~np.isnan(row)
        if defined.any():
            out[i] = float(row[defined].mean())
    return out


def _weighted_roc_auc_macro(truth: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return _macro_rows(_weighted_roc_auc_columns(_indicator(truth, scores.shape[1]), scores, weights))


def _weighted_roc_auc_micro(truth: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Micro ROC-AUC: every (item, class) cell one column, each cell weighted as its item."""
    c = scores.shape[1]
    y = _indicator(truth, c).reshape(-1, 1)
    return _weighted_roc_auc_columns(y, scores.reshape(-1, 1), np.repeat(weights, c, axis=1))[:, 0]


class Metric(NamedTuple):
    """A registered metric: the function (truth, scores) -> float and the task kinds it applies to. A plug-in
    metric is one of these, named in the `mirbench.metrics` entry-point group."""

    function: Callable[..., float]
    tasks: tuple[str, ...]


# The resampling versions (see "many resamples at once" above).
accuracy.weighted = _weighted_accuracy  # type: ignore[attr-defined]
roc_auc_macro.weighted = _weighted_roc_auc_macro  # type: ignore[attr-defined]
roc_auc_micro.weighted = _weighted_roc_auc_micro  # type: ignore[attr-defined]
pr_auc_macro.weighted = _weighted_pr_auc_macro  # type: ignore[attr-defined]
pr_auc_micro.weighted = _weighted_pr_auc_micro  # type: ignore[attr-defined]


ACCURACY = Metric(accuracy, ("single-label",))
NORMALISED_ACCURACY = Metric(normalised_accuracy, ("single-label",))
ROC_AUC_MACRO = Metric(roc_auc_macro, TASKS)
ROC_AUC_MICRO = Metric(roc_auc_micro, TASKS)
PR_AUC_MACRO = Metric(pr_auc_macro, TASKS)
PR_AUC_MICRO = Metric(pr_auc_micro, TASKS)


#: mirbench's own metrics in the order they are listed and computed; plug-ins follow, by name.
ORDER = ("accuracy", "normalised_accuracy", "roc_auc_macro", "roc_auc_micro", "pr_auc_macro", "pr_auc_micro")


class MetricTable(Mapping):
    """Every metric of the `mirbench.metrics` registry by name, resolved on use: mirbench's own and plug-ins alike."""

    def __getitem__(self, name: str) -> Metric:
        from mirbench.registry import RegistryError, metrics

        try:
            metric = metrics.get(name)
        except RegistryError:
            raise KeyError(name) from None
        if not (callable(getattr(metric, "function", None)) and isinstance(getattr(metric, "tasks", None), tuple)):
            raise TypeError(f"metric {name!r} is not a mirbench.metrics.Metric(function, tasks)")
        return metric

    def __iter__(self):
        from mirbench.registry import metrics

        names = metrics.names()
        return iter([n for n in ORDER if n in names] + [n for n in names if n not in ORDER])

    def __len__(self) -> int:
        from mirbench.registry import metrics

        return len(metrics.names())


METRICS: Mapping[str, Metric] = MetricTable()


#: The metrics that average over classes and leave out the classes where they are undefined, with what a class
#: needs to count: "auc" both positive and negative test items, "support" at least one test item.
CLASS_AVERAGED: dict[str, str] = {"roc_auc_macro": "auc", "pr_auc_macro": "auc", "normalised_accuracy": "support"}


def _jsonable(values: np.ndarray) -> list:
    return [None if math.isnan(v) else float(v) for v in values.tolist()]


def evaluate(truth, scores, task: str, metrics: Sequence[str] | None = None) -> dict:
    """Every metric that applies to `task` (or the named ones), plus per-class AUCs and the confusion matrix.

    Keys: each metric name -> float; "roc_auc_per_class" and "pr_auc_per_class" -> lists with None
    for undefined classes; "auc_undefined_classes" -> their indices; "macro_excluded" -> for each class-averaged
    metric computed (CLASS_AVERAGED), the indices of the classes it left out of its mean; "confusion" -> list of
    lists (single-label only). Every value is JSON-able.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    valid = [name for name, m in METRICS.items() if task in m.tasks]
    names = valid if metrics is None else list(metrics)
    for name in names:
        if name not in valid:
            why = "does not apply to" if name in METRICS else "is not a metric for"
            raise ValueError(f"metric {name!r} {why} {task} tasks; valid metrics: {', '.join(valid)}")
    truth, scores = _check(truth, scores)
    if (truth.ndim == 1) != (task == "single-label"):
        expected = "class indices (n,)" if task == "single-label" else "a 0/1 matrix (n, C)"
        raise ValueError(f"{task} truth must be {expected}, got shape {truth.shape}")
    result: dict = {name: METRICS[name].function(truth, scores) for name in names}
    result["roc_auc_per_class"] = _jsonable(roc_auc(truth, scores, average=None))
    result["pr_auc_per_class"] = _jsonable(pr_auc(truth, scores, average=None))
    result["auc_undefined_classes"] = undefined_classes(truth, scores)
    result["macro_excluded"] = {name: excluded_classes(name, truth, scores) for name in names if name in CLASS_AVERAGED}
    if task == "single-label":
        result["confusion"] = confusion(truth, scores).tolist()
    return result


def summarise(values: Iterable[float | None]) -> dict:
    """Mean, sample standard deviation and count of one metric over folds (or seeds).

    std uses ddof=1, as papers report the spread over splits; with one value it is 0.0.
    None and NaN (undefined values) are left out and `n` counts the values used; with
    none left, mean and std are None. Infinite or non-numeric values raise ValueError.
    """
    used = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError(f"summarise expects numbers or None, got {v!r}")
        v = float(v)
        if math.isnan(v):
            continue
        if math.isinf(v):
            raise ValueError(f"summarise got an infinite value: {v}")
        used.append(v)
    n = len(used)
    if n == 0:
        return {"mean": None, "std": None, "n": 0}
    std = float(np.std(used, ddof=1)) if n > 1 else 0.0
    return {"mean": float(np.mean(used)), "std": std, "n": n}
