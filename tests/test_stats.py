"""Paired significance tests: edge cases with known answers, scipy/statsmodels oracles, record pairing, variance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from mirbench import stats
from mirbench.metrics import accuracy, roc_auc_macro

N = 500  # resamples / permutations: enough for the assertions, fast


def single_label(n: int = 40, c: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random class indices and mildly informative scores."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, c, size=n)
    return truth, rng.normal(size=(n, c)) + 0.8 * np.eye(c)[truth]


def perfect_and_wrong(n: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truth with a system that is always right and one that is always wrong."""
    truth = np.arange(n) % 2
    right = np.eye(2)[truth]
    return truth, right, 1 - right


# ----------------------------------------------------------------------------- known answers


def test_identical_systems_are_not_different():
    truth, scores = single_label()
    correct = scores.argmax(axis=1) == truth
    assert stats.mcnemar(correct, correct).p_value == 1.0
    boot = stats.paired_bootstrap(truth, scores, scores, n_resamples=N)
    assert boot.p_value == 1.0 and (boot.ci_low, boot.ci_high) == (0.0, 0.0) and boot.difference == 0.0
    assert stats.paired_permutation(truth, scores, scores, n_permutations=N).p_value == 1.0


def test_always_right_against_always_wrong():
    truth, right, wrong = perfect_and_wrong()
    test = stats.mcnemar(right.argmax(axis=1) == truth, wrong.argmax(axis=1) == truth)
    assert test.p_value < 1e-6 and (test.b, test.c, test.difference) == (40, 0, 1.0)
    assert stats.paired_permutation(truth, right, wrong, n_permutations=N).p_value < 0.01
    boot = stats.paired_bootstrap(truth, right, wrong, n_resamples=N)
    assert boot.difference == 1.0 and boot.ci_low > 0 and boot.p_value == pytest.approx(2 / (N + 1))  # its resolution


def test_difference_is_a_minus_b():
    truth, right, wrong = perfect_and_wrong()
    assert stats.paired_bootstrap(truth, wrong, right, n_resamples=N).difference == -1.0
    assert stats.mcnemar([False, True], [True, True]).difference == -0.5


# ----------------------------------------------------------------------------- McNemar


def correctness(b: int, c: int, both: int = 5, neither: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Correctness vectors with b items only A gets right and c only B gets right."""
    a = [True] * b + [False] * c + [True] * both + [False] * neither
    b_ = [False] * b + [True] * c + [True] * both + [False] * neither
    return np.array(a), np.array(b_)


def test_mcnemar_exact_matches_binomtest():
    test = stats.mcnemar(*correctness(7, 2))
    assert test.method == "mcnemar-exact" and (test.b, test.c, test.n) == (7, 2, 17)
    assert test.p_value == pytest.approx(sp.binomtest(7, 9, 0.5).pvalue, abs=1e-12)


def test_mcnemar_chi2_matches_formula():
    test = stats.mcnemar(*correctness(30, 10))
    statistic = (abs(30 - 10) - 1) ** 2 / 40
    assert test.method == "mcnemar-chi2"
    assert test.statistic == pytest.approx(statistic)
    assert test.p_value == pytest.approx(sp.chi2.sf(statistic, 1), rel=1e-12)


@pytest.mark.parametrize("b, c", [(7, 2), (3, 0), (30, 10), (12, 40)])
def test_mcnemar_matches_statsmodels(b, c):
    contingency = pytest.importorskip("statsmodels.stats.contingency_tables")
    test = stats.mcnemar(*correctness(b, c))
    oracle = contingency.mcnemar([[5, b], [c, 3]], exact=b + c < 25, correction=True)
    assert test.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
    assert test.statistic == pytest.approx(oracle.statistic, rel=1e-9)


@pytest.mark.parametrize(
    "a, b, message", [([True], [True, False], "same length"), ([], [], "empty"), ([[True]], [[True]], "1-D")]
)
def test_mcnemar_rejects_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        stats.mcnemar(a, b)


# ----------------------------------------------------------------------------- bootstrap and permutation


def multi_label(n: int = 80, c: int = 4, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """0/1 truth with a good and a weaker system's scores."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, c)) < 0.3).astype(int)
    return truth, rng.normal(size=(n, c)) + 1.5 * truth, rng.normal(size=(n, c)) + 0.5 * truth


def test_bootstrap_roc_auc_multi_label():
    truth, a, b = multi_label()
    boot = stats.paired_bootstrap(truth, a, b, metric="roc_auc_macro", n_resamples=N)
    assert boot.difference == pytest.approx(roc_auc_macro(truth, a) - roc_auc_macro(truth, b))
    assert boot.ci_low <= boot.difference <= boot.ci_high
    assert boot.p_value < 0.05 and boot.n == 80 and boot.resamples == N


def test_bootstrap_is_seeded():
    truth, a, b = multi_label()
    first = stats.paired_bootstrap(truth, a, b, metric="pr_auc_macro", n_resamples=N, seed=3)
    assert first == stats.paired_bootstrap(truth, a, b, metric="pr_auc_macro", n_resamples=N, seed=3)


def test_bootstrap_skips_undefined_resamples():
    truth, a, b = multi_label(n=40, c=1)
    truth[:] = 0
    truth[0] = 1  # one positive: resamples without it have no defined class
    boot = stats.paired_bootstrap(truth, a, b, metric="roc_auc_macro", n_resamples=N)
    assert N / 2 <= boot.resamples < N


def test_bootstrap_refuses_when_most_resamples_are_undefined():
    truth, scores = single_label(n=40)

    def first_item_twice(t, s):  # defined on the full data, and on about a quarter of the resamples
        full = np.array_equal(s, scores)
        return accuracy(t, s) if full or np.sum(s[:, 0] == scores[0, 0]) >= 2 else math.nan

    with pytest.raises(ValueError, match="more than half"):
        stats.paired_bootstrap(truth, scores, scores, metric=first_item_twice, n_resamples=N)


def test_permutation_detects_a_real_difference():
    truth, a, b = multi_label()
    test = stats.paired_permutation(truth, a, b, metric="roc_auc_macro", n_permutations=N)
    assert test.difference > 0 and test.p_value < 0.05 and test.resamples == N
    assert test.p_value >= 1 / (N + 1)


def test_unknown_metric_and_mismatched_scores_raise():
    truth, scores = single_label()
    with pytest.raises(ValueError, match="unknown metric"):
        stats.paired_bootstrap(truth, scores, scores, metric="f1")
    with pytest.raises(ValueError, match="differ in shape"):
        stats.paired_permutation(truth, scores, scores[:-1])
    with pytest.raises(ValueError, match="truth has"):
        stats.paired_bootstrap(truth[:-1], scores, scores)


# ----------------------------------------------------------------------------- trial records


def record(split_hash: str, seed: int, ids: list[str], truth, scores, status: str = "ok") -> dict:
    """A trial record with just the fields compare_records reads."""
    return {
        "status": status,
        "fold": {"split_hash": split_hash},
        "seed": seed,
        "predictions": {"track_ids": ids, "scores": np.asarray(scores).tolist(), "truth": np.asarray(truth).tolist()},
    }


def shuffled(rec: dict, seed: int) -> dict:
    """The same trial with its tracks in another order."""
    order = np.random.default_rng(seed).permutation(len(rec["predictions"]["track_ids"]))
    p = rec["predictions"]
    return {**rec, "predictions": {k: [p[k][i] for i in order] for k in ("track_ids", "scores", "truth")}}


def test_compare_records_pairs_by_fold_and_seed_and_aligns_tracks():
    truth, scores = single_label(n=30)
    ids = [f"t{i}" for i in range(30)]
    _, other = single_label(n=30, seed=9)
    records_a = [record(h, seed, ids, truth, scores) for h, seed in (("h1", 0), ("h1", 1), ("h2", 0))]
    records_b = [
        shuffled(record("h1", 0, ids, truth, scores), 1),
        shuffled(record("h2", 0, ids[:20], truth[:20], scores[:20]), 2),
        record("h3", 0, ids, truth, other),
        record("h1", 1, ids, truth, other, status="failed"),
    ]
    result = stats.compare_records(records_a, records_b, n_resamples=N)
    assert (result["pairs"], result["n"], result["metric"]) == (2, 50, "accuracy")
    pooled = np.concatenate([scores, scores[:20]])
    assert result["a"] == result["b"] == pytest.approx(accuracy(np.concatenate([truth, truth[:20]]), pooled))
    mc = result["mcnemar"]
    assert (mc.b, mc.c, mc.p_value) == (0, 0, 1.0)  # aligned by id, the same predictions agree item by item
    assert result["bootstrap"].p_value == result["permutation"].p_value == 1.0


def test_compare_records_multi_label_has_no_mcnemar():
    truth, a, b = multi_label(n=40)
    ids = [str(i) for i in range(40)]
    records_a, records_b = [record("h", 0, ids, truth, a)], [shuffled(record("h", 0, ids, truth, b), 0)]
    result = stats.compare_records(records_a, records_b, metric="roc_auc_macro", n_resamples=N)
    assert result["mcnemar"] is None and result["n"] == 40
    assert result["a"] - result["b"] == pytest.approx(result["bootstrap"].difference)
    assert result["a"] == pytest.approx(roc_auc_macro(truth, a))


def test_compare_records_errors():
    truth, scores = single_label(n=10)
    ids = [str(i) for i in range(10)]
    a = [record("h1", 0, ids, truth, scores)]
    with pytest.raises(ValueError, match="no trials of A and B share a fold and seed"):
        stats.compare_records(a, [record("h1", 1, ids, truth, scores), record("h2", 0, ids, truth, scores)])
    with pytest.raises(ValueError, match="share no track id"):
        stats.compare_records(a, [record("h1", 0, [f"x{i}" for i in ids], truth, scores)])
    with pytest.raises(ValueError, match="disagree on the truth"):
        stats.compare_records(a, [record("h1", 0, ids, (truth + 1) % 3, scores)])
    with pytest.raises(ValueError, match="two trials"):
        stats.compare_records(a + a, a)


# ----------------------------------------------------------------------------- variance components


def test_variance_components_three_folds_two_seeds():
    values = {(0, 0): 0.8, (0, 1): 0.9, (1, 0): 0.7, (1, 1): 0.7, (2, 0): 0.6, (2, 1): 0.8}
    out = stats.variance_components(values)
    # fold means 0.85, 0.7, 0.7; seed stds within folds sqrt(0.005), 0, sqrt(0.02)
    assert out["mean"] == pytest.approx(0.75)
    assert out["fold_std"] == pytest.approx(math.sqrt(0.015 / 2))
    assert out["seed_std"] == pytest.approx((math.sqrt(0.005) + 0 + math.sqrt(0.02)) / 3)
    assert (out["n_folds"], out["n_seeds"]) == (3, 2)


def test_variance_components_one_seed_and_one_fold():
    one_seed = stats.variance_components({(0, 0): 0.5, (1, 0): 0.7})
    assert one_seed["seed_std"] is None and one_seed["fold_std"] == pytest.approx(math.sqrt(0.02))
    one_fold = stats.variance_components({(0, 0): 0.5, (0, 1): 0.7})
    assert one_fold["fold_std"] is None and one_fold["seed_std"] == pytest.approx(math.sqrt(0.02))
    with pytest.raises(ValueError):
        stats.variance_components({})


# ----------------------------------------------------------------------------- the metrics' `weighted` versions

WEIGHTED = ["accuracy", "roc_auc_macro", "roc_auc_micro", "pr_auc_macro", "pr_auc_micro"]


def _one_at_a_time(function):
    """The same metric without its `weighted` attribute: the tests then evaluate one resample per call."""
    return lambda truth, scores: function(truth, scores)


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("levels", [None, 3])  # continuous scores, and scores with many ties
@pytest.mark.parametrize("name", WEIGHTED)
def test_weighted_resamples_equal_one_at_a_time_bit_for_bit(name, levels, multi_label):
    from mirbench.metrics import METRICS

    function = METRICS[name].function
    if multi_label and name == "accuracy":
        pytest.skip("accuracy is single-label")
    rng = np.random.default_rng(7)
    n, c = 60, 5
    truth = rng.random((n, c)) < 0.3 if multi_label else rng.integers(0, c, n)
    a, b = rng.random((n, c)), rng.random((n, c))
    if levels:
        a, b = np.round(a * levels) / levels, np.round(b * levels) / levels
    for test in (stats.paired_bootstrap, stats.paired_permutation):
        fast = test(truth, a, b, function, 200, seed=3)
        assert fast == test(truth, a, b, _one_at_a_time(function), 200, seed=3)  # p-values and intervals, exactly


@pytest.mark.parametrize("name", WEIGHTED)
def test_weighted_value_of_each_bootstrap_draw_is_the_metric_of_that_draw(name):
    from mirbench.metrics import METRICS

    function = METRICS[name].function
    rng = np.random.default_rng(11)
    n, c = 80, 4
    truth, scores = rng.integers(0, c, n), np.round(rng.random((n, c)) * 4) / 4
    draws = rng.integers(0, n, (50, n))
    values = function.weighted(truth, scores, stats._counts(draws, n))
    assert np.array_equal(values, [function(truth[d], scores[d]) for d in draws])
