"""Paired significance tests between two systems evaluated on the same tracks.

Two systems scored on the same test items are compared item by item, not by their
summary numbers: McNemar's test on per-item correctness, a paired bootstrap for a
confidence interval of the metric difference, and a paired permutation (sign-flip)
test. `compare_records` pairs the trial records of two runs of one suite, and
`variance_components` separates the spread over seeds from the spread over folds.

One convention everywhere (`mirbench compare`, the report's significance section): the difference is
metric(A) − metric(B), each computed once over all paired test tracks pooled across folds and seeds (not a
mean over folds), and the bootstrap and the permutation test use `RESAMPLES` resamples unless told otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import stats as sp

from mirbench.metrics import METRICS

MetricArg = str | Callable[..., float]

RESAMPLES = 2000  # bootstrap resamples and permutations: the one default of mirbench compare and of reports
EXACT_BELOW = 25  # McNemar: exact binomial test when b + c is below this, chi-squared otherwise
NO_PAIRS = "no trials of A and B share a fold and seed: compare runs of the same suite"


@dataclass(frozen=True)
class PairedTest:
    """Result of one paired test; `difference` is always A minus B (accuracy for McNemar).

    `resamples` counts the bootstrap resamples (or permutations) used; `b`/`c` are
    McNemar's discordant counts (A right and B wrong, A wrong and B right).
    """

    method: str
    difference: float
    p_value: float
    ci_low: float | None = None
    ci_high: float | None = None
    statistic: float | None = None
    n: int = 0
    resamples: int | None = None
    b: int | None = None
    c: int | None = None


# ----------------------------------------------------------------------------- helpers


def _metric(metric: MetricArg) -> tuple[str, Callable[..., float]]:
    """(name, function) for a metric given by its name in METRICS or as a callable (truth, scores) -> float."""
    if callable(metric):
        return getattr(metric, "__name__", "custom"), metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}")
    return metric, METRICS[metric].function


def _paired_inputs(truth, scores_a, scores_b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays of truth and both systems' scores, checked to describe the same items."""
    truth, scores_a, scores_b = np.asarray(truth), np.asarray(scores_a), np.asarray(scores_b)
    if scores_a.shape != scores_b.shape:
        raise ValueError(f"scores of A and B differ in shape: {scores_a.shape} vs {scores_b.shape}")
    if scores_a.ndim != 2 or scores_a.shape[0] == 0:
        raise ValueError(f"scores must be a non-empty (n items, n classes) matrix, got shape {scores_a.shape}")
    if truth.ndim == 0 or len(truth) != len(scores_a):
        raise ValueError(f"truth has {truth.shape} items but scores have {len(scores_a)} rows")
    return truth, scores_a, scores_b


def _difference(function: Callable[..., float], truth, scores_a, scores_b) -> float:
    """metric(A) - metric(B), or NaN when the metric is undefined on these items."""
    try:
        return float(function(truth, scores_a)) - float(function(truth, scores_b))
    except ValueError:
        return math.nan


def _observed(function: Callable[..., float], truth, scores_a, scores_b) -> float:
    """metric(A) - metric(B) on the full data; the metric must be defined there."""
    value = float(function(truth, scores_a)) - float(function(truth, scores_b))
    if not math.isfinite(value):
        raise ValueError("the metric is undefined (not finite) on the full data")
    return value


def _swapped_difference(function: Callable[..., float], truth, scores_a, scores_b, swap: np.ndarray) -> float:
    """metric(A) - metric(B) after exchanging the two systems' score rows where `swap` is True."""
    swap = swap[:, None]
    return _observed(function, truth, np.where(swap, scores_b, scores_a), np.where(swap, scores_a, scores_b))


#: Weights (resamples x items) computed at a time through a metric's `weighted` version, bounding its memory (tens
#: of MB for a micro average, which weighs every (item, class) cell).
STACKED_CELLS = 1 << 22


def _stackable(truth, scores_a, scores_b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truth as int64 indices or a bool matrix and float64 scores: what the one-pair metric computes on."""
    truth = np.asarray(truth)
    truth = truth.astype(bool) if truth.ndim == 2 else truth.astype(np.int64)
    return truth, np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)


def _counts(draws: np.ndarray, n: int) -> np.ndarray:
    """(R, n) int64: how many times each bootstrap draw (a row of item indices) takes each item."""
    r = len(draws)
    return np.bincount((draws + n * np.arange(r)[:, None]).ravel(), minlength=r * n).reshape(r, n)


def _chosen(swaps: np.ndarray) -> np.ndarray:
    """(R, 2n) 0/1 weights of A's and B's stacked rows for the A side of each permutation: A's row where not
    swapped, B's where swapped (the B side is 1 - this)."""
    return np.concatenate([~swaps, swaps], axis=1).astype(np.int64)


def _weighted_differences(weighted: Callable, truth, scores_a, scores_b, count: int, weights: Callable,
                          complement: bool = False) -> np.ndarray:
    """metric(A) - metric(B) of `count` resamples through the metric's `weighted` version, `weights(rows)` giving
    the weights of the resamples in slice `rows`, a chunk at a time; with `complement`, B's weights are 1 - A's."""
    step = max(1, STACKED_CELLS // max(scores_a.size, 1))
    out = []
    for start in range(0, count, step):
        w = weights(slice(start, start + step))
        out.append(weighted(truth, scores_a, w) - weighted(truth, scores_b, 1 - w if complement else w))
    return np.concatenate(out)


# ----------------------------------------------------------------------------- tests


def mcnemar(correct_a, correct_b) -> PairedTest:
    """McNemar's test on per-item correctness: exact binomial for few discordant items, chi-squared otherwise.

    The chi-squared form uses the continuity correction; `difference` is accuracy A - accuracy B.
    """
    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.ndim != 1 or a.shape != b_.shape:
        raise ValueError(f"correct_a and correct_b must be 1-D of the same length, got shapes {a.shape} and {b_.shape}")
    if a.size == 0:
        raise ValueError("empty input: no items to compare")
    b, c = int(np.sum(a & ~b_)), int(np.sum(~a & b_))
    common = {"difference": (b - c) / a.size, "n": int(a.size), "b": b, "c": c}
    if b + c == 0:
        return PairedTest("mcnemar-exact", p_value=1.0, statistic=0.0, **common)
    if b + c < EXACT_BELOW:
        p = sp.binomtest(b, b + c, 0.5).pvalue
        return PairedTest("mcnemar-exact", p_value=float(p), statistic=float(min(b, c)), **common)
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    return PairedTest("mcnemar-chi2", p_value=float(sp.chi2.sf(statistic, 1)), statistic=float(statistic), **common)


def paired_bootstrap(
    truth,
    scores_a,
    scores_b,
    metric: MetricArg = "accuracy",
    n_resamples: int = RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedTest:
    """Percentile CI and two-sided p-value of metric(A) - metric(B) from resampling items with replacement.

    Resamples where the metric is undefined (raises ValueError or is not finite) are skipped;
    fewer than half surviving raises ValueError, as the interval would then be biased.
    """
    if n_resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"need n_resamples >= 1 and 0 < confidence < 1, got {n_resamples} and {confidence}")
    _, function = _metric(metric)
    truth, scores_a, scores_b = _paired_inputs(truth, scores_a, scores_b)
    observed = _observed(function, truth, scores_a, scores_b)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(truth), size=(n_resamples, len(truth)))
    weighted = getattr(function, "weighted", None)
    if weighted is None:
        diffs = np.array([_difference(function, truth[i], scores_a[i], scores_b[i]) for i in draws])
    else:
        truth, scores_a, scores_b = _stackable(truth, scores_a, scores_b)
        diffs = _weighted_differences(weighted, truth, scores_a, scores_b, len(draws),
                                      lambda rows: _counts(draws[rows], len(truth)))
    diffs = diffs[np.isfinite(diffs)]
    if 2 * len(diffs) < n_resamples:
        raise ValueError(
            f"the metric is undefined on {n_resamples - len(diffs)} of {n_resamples} bootstrap resamples "
            "(more than half): too few items for a bootstrap of this metric"
        )
    alpha = 1 - confidence
    low, high = np.percentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    tail = min(np.sum(diffs <= 0), np.sum(diffs >= 0))
    p = min(1.0, 2 * (tail + 1) / (len(diffs) + 1))  # never 0: a finite bootstrap bounds p by its resolution
    return PairedTest(
        "bootstrap", observed, float(p), float(low), float(high), n=len(truth), resamples=len(diffs)
    )


def paired_permutation(
    truth,
    scores_a,
    scores_b,
    metric: MetricArg = "accuracy",
    n_permutations: int = RESAMPLES,
    seed: int = 0,
) -> PairedTest:
    """Two-sided permutation test of metric(A) - metric(B): each item's A and B scores swap with probability 1/2.

    Under the null the systems are exchangeable per item; p counts permuted differences at least
    as large in magnitude as the observed one, plus one (so p is never 0).
    """
    if n_permutations < 1:
        raise ValueError(f"need n_permutations >= 1, got {n_permutations}")
    _, function = _metric(metric)
    truth, scores_a, scores_b = _paired_inputs(truth, scores_a, scores_b)
    observed = _observed(function, truth, scores_a, scores_b)
    rng = np.random.default_rng(seed)
    swaps = rng.random((n_permutations, len(truth))) < 0.5
    weighted = getattr(function, "weighted", None)
    if weighted is None:
        diffs = np.array([_swapped_difference(function, truth, scores_a, scores_b, s) for s in swaps])
    else:  # A's and B's rows stacked; a permutation weighs each row of one side 1, of the other 0
        truth, scores_a, scores_b = _stackable(truth, scores_a, scores_b)
        stacked, both = np.concatenate([truth, truth]), np.concatenate([scores_a, scores_b])
        diffs = _weighted_differences(weighted, stacked, both, both, len(swaps), lambda rows: _chosen(swaps[rows]),
                                      complement=True)
        if not np.isfinite(diffs).all():
            raise ValueError("the metric is undefined (not finite) on the full data")
    extreme = int(np.sum(np.abs(diffs) >= abs(observed) - 1e-12))
    p = (1 + extreme) / (1 + n_permutations)
    return PairedTest("permutation", observed, p, n=len(truth), resamples=n_permutations)


# ----------------------------------------------------------------------------- trial records


def _by_trial(records: Sequence[dict], side: str) -> dict[tuple, dict]:
    """Successful records keyed by (fold split hash, seed); a key seen twice is ambiguous and raises."""
    keyed: dict[tuple, dict] = {}
    for record in records:
        if record.get("status") != "ok":
            continue
        key = (record["fold"]["split_hash"], record["seed"])
        if key in keyed:
            raise ValueError(
                f"records of {side} hold two trials with fold split_hash {key[0]} and seed {key[1]}: "
                "pass the trials of one system only"
            )
        keyed[key] = record
    return keyed


def _align(record_a: dict, record_b: dict, key: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth, scores A, scores B) of the tracks both trials predicted, in A's order."""
    pa, pb = record_a["predictions"], record_b["predictions"]
    row_b = {track: i for i, track in enumerate(pb["track_ids"])}
    rows_a = [i for i, track in enumerate(pa["track_ids"]) if track in row_b]
    if not rows_a:
        raise ValueError(f"the trials with fold split_hash {key[0]} and seed {key[1]} share no track id")
    rows_b = [row_b[pa["track_ids"][i]] for i in rows_a]
    truth = np.asarray(pa["truth"])[rows_a]
    if not np.array_equal(truth, np.asarray(pb["truth"])[rows_b]):
        raise ValueError(f"A and B disagree on the truth of shared tracks (fold split_hash {key[0]}, seed {key[1]})")
    return truth, np.asarray(pa["scores"], dtype=np.float64)[rows_a], np.asarray(pb["scores"], dtype=np.float64)[rows_b]


def compare_records(
    records_a: Sequence[dict],
    records_b: Sequence[dict],
    metric: MetricArg = "accuracy",
    n_resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict:
    """Pool the trials of two systems that share a fold and seed, aligned by track id, and test A against B.

    Returns pairs, n, metric, the values a and b of the metric over the pooled paired tracks (the estimand:
    every difference is a − b), and the bootstrap, permutation and McNemar tests; McNemar's tests accuracy,
    so it is None for any other metric and for multi-label truth.
    """
    name, function = _metric(metric)
    keyed_a, keyed_b = _by_trial(records_a, "A"), _by_trial(records_b, "B")
    keys = [key for key in keyed_a if key in keyed_b]
    if not keys:
        raise ValueError(NO_PAIRS)
    parts = [_align(keyed_a[key], keyed_b[key], key) for key in keys]
    truth, scores_a, scores_b = (np.concatenate(arrays) for arrays in zip(*parts))
    correct = None
    if truth.ndim == 1 and name == "accuracy":
        correct = mcnemar(scores_a.argmax(axis=1) == truth, scores_b.argmax(axis=1) == truth)
    return {
        "pairs": len(keys),
        "n": len(truth),
        "metric": name,
        "a": float(function(truth, scores_a)),
        "b": float(function(truth, scores_b)),
        "bootstrap": paired_bootstrap(truth, scores_a, scores_b, function, n_resamples, seed=seed),
        "permutation": paired_permutation(truth, scores_a, scores_b, function, n_resamples, seed=seed),
        "mcnemar": correct,
    }


def pooled_value(records: Sequence[dict], metric: MetricArg = "accuracy") -> float | None:
    """The metric over the test tracks of all of a system's successful trials pooled (the estimand of
    `compare_records`), or None when there are no predictions or the metric is undefined on them."""
    _, function = _metric(metric)
    parts = [r["predictions"] for r in records if r.get("status") == "ok" and (r.get("predictions") or {}).get("scores")]
    if not parts:
        return None
    try:
        truth = np.concatenate([np.asarray(p["truth"]) for p in parts])
        value = float(function(truth, np.concatenate([np.asarray(p["scores"], dtype=np.float64) for p in parts])))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# ----------------------------------------------------------------------------- variance


def variance_components(values: Mapping[tuple, float]) -> dict:
    """Spread of one metric over folds and, separately, over seeds within a fold.

    `values` maps (fold_index, seed) -> value. mean is the mean of the per-fold means;
    fold_std is the std (ddof=1) of the per-fold means, None with fewer than 2 folds;
    seed_std is the mean over folds with >= 2 seeds of the std (ddof=1) across seeds, else None.
    """
    if not values:
        raise ValueError("variance_components needs at least one (fold, seed) value")
    folds: dict = defaultdict(list)
    for (fold, _), value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"variance_components got a non-finite value for fold {fold}: {value}")
        folds[fold].append(float(value))
    fold_means = [float(np.mean(v)) for v in folds.values()]
    seed_stds = [float(np.std(v, ddof=1)) for v in folds.values() if len(v) >= 2]
    return {
        "mean": float(np.mean(fold_means)),
        "fold_std": float(np.std(fold_means, ddof=1)) if len(fold_means) >= 2 else None,
        "seed_std": float(np.mean(seed_stds)) if seed_stds else None,
        "n_folds": len(folds),
        "n_seeds": len({seed for _, seed in values}),
    }
