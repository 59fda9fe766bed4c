"""Every metric against scikit-learn over a seeded grid of shapes and edge cases, plus properties and errors."""

from __future__ import annotations

import itertools
import json
import math
import statistics
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from mirbench import metrics as m

SIZES = (2, 7, 100, 1000)
CLASSES = (2, 3, 10, 50)
SCORE_KINDS = ("continuous", "tied", "integer", "float32")


def make_scores(rng: np.random.Generator, n: int, c: int, kind: str, truth_matrix: np.ndarray) -> np.ndarray:
    """Scores mildly informative about truth, with the requested kind of values."""
    signal = 0.6 * truth_matrix
    if kind == "continuous":
        return rng.normal(size=(n, c)) + signal
    if kind == "tied":  # few distinct values: many ties within and across classes
        return np.round(rng.random((n, c)) + signal, 1)
    if kind == "integer":
        return rng.integers(0, 4, size=(n, c)) + (truth_matrix * rng.integers(0, 2, size=(n, c)))
    if kind == "float32":
        return (rng.random((n, c)) + signal).astype(np.float32)
    raise AssertionError(kind)


def single_label_case(seed: int, n: int, c: int, kind: str, absent: bool):
    """Class indices (some classes absent when asked) and scores."""
    rng = np.random.default_rng(seed)
    present = np.arange(c) if not absent else rng.choice(c, size=max(1, c // 2), replace=False)
    truth = rng.choice(present, size=n)
    return truth, make_scores(rng, n, c, kind, np.eye(c)[truth])


def multi_label_case(seed: int, n: int, c: int, kind: str, absent: bool):
    """A 0/1 matrix (some columns all 0 or all 1 when asked) and scores."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, c)) < rng.uniform(0.05, 0.5, size=c)).astype(np.int64)
    if absent:
        truth[:, 0] = 0
        truth[:, -1] = 1
    return truth, make_scores(rng, n, c, kind, truth)


GRID = [
    pytest.param(n, c, kind, absent, id=f"n{n}-C{c}-{kind}{'-absent' if absent else ''}")
    for n, c, kind, absent in itertools.product(SIZES, CLASSES, SCORE_KINDS, (False, True))
]


def oracle_per_class(y: np.ndarray, s: np.ndarray, sk_metric) -> np.ndarray:
    """scikit-learn's binary metric per column; NaN where the column of truth is constant."""
    out = np.full(y.shape[1], np.nan)
    for j in range(y.shape[1]):
        if 0 < y[:, j].sum() < len(y):
            out[j] = sk_metric(y[:, j], s[:, j])
    return out


def check_auc_against_oracle(y: np.ndarray, truth, s: np.ndarray) -> None:
    for ours, sk_metric in ((m.roc_auc, skm.roc_auc_score), (m.pr_auc, skm.average_precision_score)):
        expected = oracle_per_class(y, s, sk_metric)
        np.testing.assert_allclose(ours(truth, s, average=None), expected, rtol=1e-12, atol=1e-12)
        defined = ~np.isnan(expected)
        if defined.any():
            assert ours(truth, s, average="macro") == pytest.approx(expected[defined].mean(), abs=1e-12)
        else:
            with pytest.raises(ValueError, match="no class has both positive and negative"):
                ours(truth, s, average="macro")
        if defined.all():  # scikit-learn itself accepts the matrix only when every class is defined
            assert ours(truth, s, average="macro") == pytest.approx(sk_metric(y, s, average="macro"), abs=1e-12)
            np.testing.assert_allclose(ours(truth, s, average=None), sk_metric(y, s, average=None), atol=1e-12)
        if 0 < y.sum() < y.size:
            assert ours(truth, s, average="micro") == pytest.approx(sk_metric(y, s, average="micro"), abs=1e-12)
            assert ours(truth, s, average="micro") == pytest.approx(sk_metric(y.ravel(), s.ravel()), abs=1e-12)


@pytest.mark.parametrize(("n", "c", "kind", "absent"), GRID)
def test_single_label_against_sklearn(n, c, kind, absent):
    truth, s = single_label_case(1000 * n + 10 * c + len(kind), n, c, kind, absent)
    predicted = np.asarray(s).argmax(axis=1)
    assert m.accuracy(truth, s) == pytest.approx(skm.accuracy_score(truth, predicted), abs=1e-15)
    with warnings.catch_warnings():  # scikit-learn warns about classes predicted but absent from truth
        warnings.simplefilter("ignore")
        balanced = skm.balanced_accuracy_score(truth, predicted)
    assert m.normalised_accuracy(truth, s) == pytest.approx(balanced, abs=1e-12)
    np.testing.assert_array_equal(m.confusion(truth, s, c), skm.confusion_matrix(truth, predicted, labels=range(c)))
    check_auc_against_oracle(np.eye(c, dtype=np.int64)[truth], truth, s)


@pytest.mark.parametrize(("n", "c", "kind", "absent"), GRID)
def test_multi_label_against_sklearn(n, c, kind, absent):
    y, s = multi_label_case(1000 * n + 10 * c + len(kind), n, c, kind, absent)
    check_auc_against_oracle(y, y, s)
    for same in (y.astype(bool), y.astype(np.float32)):  # float32 is what Dataset.targets returns
        for fn in (m.roc_auc, m.pr_auc):
            np.testing.assert_array_equal(fn(same, s, None), fn(y, s, None))


@pytest.mark.parametrize("c", CLASSES)
def test_single_label_auc_matches_sklearn_multiclass_api(c):
    rng = np.random.default_rng(c)
    truth = np.concatenate([np.arange(c), rng.integers(0, c, size=200)])  # every class present
    logits = rng.normal(size=(len(truth), c)) + np.eye(c)[truth]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if c == 2:
        expected_roc = skm.roc_auc_score(truth, probs[:, 1])
    else:
        expected_roc = skm.roc_auc_score(truth, probs, multi_class="ovr", average="macro")
    assert m.roc_auc(truth, probs, "macro") == pytest.approx(expected_roc, abs=1e-12)
    if c > 2:
        assert m.pr_auc(truth, probs, "macro") == pytest.approx(
            skm.average_precision_score(truth, probs, average="macro"), abs=1e-12
        )


def test_n_equals_one():
    s = np.array([[0.1, 0.7, 0.2]])
    assert m.accuracy([1], s) == 1.0
    assert m.accuracy([0], s) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert m.normalised_accuracy([2], s) == skm.balanced_accuracy_score([2], [1]) == 0.0
    np.testing.assert_array_equal(m.confusion([2], s), skm.confusion_matrix([2], [1], labels=range(3)))
    assert np.isnan(m.roc_auc([1], s, None)).all()
    with pytest.raises(ValueError, match="macro ROC-AUC is undefined"):
        m.roc_auc([1], s, "macro")
    assert m.roc_auc([1], s, "micro") == 1.0  # pooled: one positive, two negatives
    with pytest.raises(ValueError, match="micro PR-AUC is undefined"):
        m.pr_auc(np.zeros((1, 3)), s, "micro")


def test_mtat_sized_input_is_vectorised_and_correct():
    rng = np.random.default_rng(7)
    y = (rng.random((5000, 50)) < rng.uniform(0.01, 0.2, size=50)).astype(np.int64)
    s = rng.random((5000, 50)) + 0.3 * y
    assert m.roc_auc(y, s, "macro") == pytest.approx(skm.roc_auc_score(y, s, average="macro"), abs=1e-12)
    assert m.pr_auc(y, s, "macro") == pytest.approx(skm.average_precision_score(y, s, average="macro"), abs=1e-12)


# ----------------------------------------------------------------------------- properties


@pytest.mark.parametrize("c", CLASSES)
def test_perfect_prediction_scores_one(c):
    rng = np.random.default_rng(c)
    truth = np.concatenate([np.arange(c), rng.integers(0, c, size=50)])
    s = np.eye(c)[truth] + 0.01 * rng.random((len(truth), c))
    y = (rng.random((60, c)) < 0.3).astype(int)
    y[0], y[1] = 0, 1
    for name, fn in m.METRICS.items():
        assert fn.function(truth, s) == 1.0, name
        if "multi-label" in fn.tasks:
            assert fn.function(y, y.astype(float)) == 1.0, name


@pytest.mark.parametrize("c", CLASSES)
def test_reversed_scores_give_zero_roc_auc(c):
    rng = np.random.default_rng(c)
    y = (rng.random((80, c)) < 0.4).astype(int)
    y[0], y[1] = 0, 1
    s = -(y + 0.1 * rng.random(y.shape))
    np.testing.assert_array_equal(m.roc_auc(y, s, None), np.zeros(c))
    assert m.roc_auc(y, s, "macro") == 0.0
    assert m.roc_auc(y, 1.0 - y, "micro") == 0.0


@pytest.mark.parametrize("c", CLASSES)
def test_constant_scores(c):
    """Constant scores: ROC-AUC 0.5; AP equals the prevalence (one threshold, recall 1)."""
    rng = np.random.default_rng(c)
    y = (rng.random((90, c)) < 0.3).astype(int)
    y[0], y[1] = 0, 1
    s = np.full(y.shape, 3.0)
    np.testing.assert_array_equal(m.roc_auc(y, s, None), np.full(c, 0.5))
    assert m.roc_auc(y, s, "micro") == 0.5
    np.testing.assert_allclose(m.pr_auc(y, s, None), y.mean(axis=0))
    assert m.pr_auc(y, s, "micro") == pytest.approx(y.mean())


def test_auc_invariant_under_monotone_transform_and_row_order():
    rng = np.random.default_rng(3)
    y = (rng.random((300, 10)) < 0.2).astype(int)
    s = rng.integers(0, 20, size=y.shape) + 5 * y  # exact ties that a transform must keep
    perm = rng.permutation(len(y))
    for fn in (m.roc_auc, m.pr_auc):
        for average in ("macro", "micro"):
            base = fn(y, s, average)
            assert fn(y, np.exp(s / 10.0), average) == pytest.approx(base, abs=1e-12)
            assert fn(y[perm], s[perm], average) == pytest.approx(base, abs=1e-12)


def test_argmax_ties_go_to_lowest_class():
    s = np.array([[0.5, 0.5, 0.0], [0.0, 0.3, 0.3]])
    np.testing.assert_array_equal(m.confusion([0, 1], s), [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    assert m.accuracy([0, 1], s) == 1.0


def test_undefined_classes_are_nan_and_excluded_from_macro():
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])
    s = np.array([[0.9, 0.2, 0.1], [0.1, 0.3, 0.4], [0.8, 0.1, 0.5], [0.3, 0.7, 0.2]])
    per_class = m.roc_auc(y, s, None)
    assert per_class[0] == 1.0 and np.isnan(per_class[1:]).all()
    assert m.roc_auc(y, s, "macro") == 1.0
    assert m.undefined_classes(y, s) == [1, 2]
    assert m.undefined_classes([0, 0, 2, 2], s) == [1]


# ----------------------------------------------------------------------------- validation


S = np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])

ERRORS = [
    (m.accuracy, ([0, 1], S), "shape mismatch: truth has 2 items but scores has 3 rows"),
    (m.roc_auc, (np.zeros((3, 3)), S), r"shape mismatch: truth has shape \(3, 3\)"),
    (m.accuracy, ([0, 1, 1], S[:, :, None]), "scores must be a 2-D array"),
    (m.accuracy, ([0, 1, 1], [[0.1, np.nan], [0.2, 0.3], [0.4, 0.5]]), "scores must be finite: 1 entries"),
    (m.pr_auc, (np.eye(2)[[0, 1, 1]], [[0.1, 0.2], [np.inf, 0.3], [0.4, 0.5]]), "first at row 1, column 0"),
    (m.accuracy, ([0, 2, 1], S), r"truth out of range: class indices must be in \[0, 2\).*got 2"),
    (m.roc_auc, ([0, -1, 1], S), r"truth out of range.*got -1"),
    (m.accuracy, ([0, 1.5, 1], S), "must be integer class indices, got non-integer"),
    (m.accuracy, (np.array([True, False, True]), S), "must be integer class indices, got dtype bool"),
    (m.accuracy, (np.array([], dtype=int), np.zeros((0, 2))), "empty input: scores has no rows"),
    (m.roc_auc, (np.zeros((3, 0)), np.zeros((3, 0))), "scores has no columns"),
    (m.roc_auc, ([[0, 2], [1, 0], [1, 1]], S), "multi-label truth must be 0/1, got values 2"),
    (m.pr_auc, ([[0, 0.5], [1, 0], [1, 1]], S), "multi-label truth must be 0/1, got values 0.5"),
    (m.accuracy, (np.eye(2)[[0, 1, 1]], S), "accuracy applies to single-label truth"),
    (m.normalised_accuracy, (np.eye(2)[[0, 1, 1]], S), "applies to single-label truth"),
    (m.accuracy, ([0, 1, 1], np.array([["a", "b"]] * 3)), "scores must be a real numeric array"),
    (m.roc_auc, (np.zeros((3, 2, 1)), S), r"truth must be class indices \(n,\) or a 0/1 matrix"),
]


@pytest.mark.parametrize(("fn", "args", "message"), ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_validation_errors(fn, args, message):
    with pytest.raises(ValueError, match=message):
        fn(*args)


def test_bad_average_and_n_classes():
    with pytest.raises(ValueError, match="average must be 'macro', 'micro' or None, got 'weighted'"):
        m.roc_auc([0, 1, 1], S, average="weighted")
    with pytest.raises(ValueError, match="n_classes is 3 but scores has 2 columns"):
        m.confusion([0, 1, 1], S, n_classes=3)


# ----------------------------------------------------------------------------- registry and evaluate


def test_metric_names_and_kinds():
    assert set(m.METRICS) == {
        "accuracy",
        "normalised_accuracy",
        "roc_auc_macro",
        "roc_auc_micro",
        "pr_auc_macro",
        "pr_auc_micro",
    }
    for name, (function, tasks) in m.METRICS.items():
        assert callable(function)
        if "accuracy" in name:
            assert tasks == ("single-label",)
        else:
            assert set(tasks) == {"single-label", "multi-label"}


def test_evaluate_single_label():
    truth, s = single_label_case(5, 40, 4, "tied", absent=False)
    truth[truth == 3] = 2  # class 3 absent: undefined AUCs
    out = m.evaluate(truth, s, "single-label")
    assert set(out) == set(m.METRICS) | {
        "roc_auc_per_class", "pr_auc_per_class", "auc_undefined_classes", "macro_excluded", "confusion"
    }  # fmt: skip
    for name, metric in m.METRICS.items():
        assert isinstance(out[name], float) and out[name] == metric.function(truth, s)
    assert out["roc_auc_per_class"][3] is None and out["pr_auc_per_class"][3] is None
    assert out["auc_undefined_classes"] == [3]
    assert out["macro_excluded"] == {"normalised_accuracy": [3], "roc_auc_macro": [3], "pr_auc_macro": [3]}
    assert out["confusion"] == skm.confusion_matrix(truth, s.argmax(axis=1), labels=range(4)).tolist()
    json.dumps(out, allow_nan=False)  # strict JSON


def test_evaluate_multi_label_and_selection():
    y, s = multi_label_case(9, 60, 6, "continuous", absent=True)
    out = m.evaluate(y.astype(np.float32), s, "multi-label")
    assert set(out) == {
        "roc_auc_macro",
        "roc_auc_micro",
        "pr_auc_macro",
        "pr_auc_micro",
        "roc_auc_per_class",
        "pr_auc_per_class",
        "auc_undefined_classes",
        "macro_excluded",
    }
    assert out["auc_undefined_classes"] == [0, 5]
    assert out["macro_excluded"] == {"roc_auc_macro": [0, 5], "pr_auc_macro": [0, 5]}
    assert out["roc_auc_per_class"][0] is None and out["roc_auc_per_class"][1] is not None
    json.dumps(out, allow_nan=False)
    picked = m.evaluate(y, s, "multi-label", ["pr_auc_micro"])
    assert [k for k, v in picked.items() if isinstance(v, float)] == ["pr_auc_micro"]


def test_excluded_classes_name_what_each_class_averaged_metric_left_out():
    """Issue #17 item 6: a macro average over fewer classes than the task has must be able to say so."""
    truth = np.array([0, 0, 1, 1, 1])  # class 2 has no test item
    s = np.random.default_rng(0).random((5, 3))
    assert m.excluded_classes("roc_auc_macro", truth, s) == [2]
    assert m.excluded_classes("pr_auc_macro", truth, s) == [2]
    assert m.excluded_classes("normalised_accuracy", truth, s) == [2]
    assert m.excluded_classes("accuracy", truth, s) == [] and m.excluded_classes("roc_auc_micro", truth, s) == []
    y = np.array([[1, 0, 1], [1, 1, 0], [1, 0, 0]])  # tag 0 on every item: its AUC is undefined too
    assert m.excluded_classes("roc_auc_macro", y, s[:3]) == [0]
    assert set(m.CLASS_AVERAGED) <= set(m.METRICS)
    picked = m.evaluate(truth, s, "single-label", ["accuracy", "roc_auc_macro"])
    assert picked["macro_excluded"] == {"roc_auc_macro": [2]}  # only the metrics computed


def test_evaluate_errors():
    y = np.eye(2)[[0, 1, 1]]
    with pytest.raises(ValueError, match="'accuracy' does not apply to multi-label tasks; valid metrics: roc_auc_mac"):
        m.evaluate(y, S, "multi-label", ["accuracy"])
    with pytest.raises(ValueError, match="'auc' is not a metric for single-label tasks; valid metrics: accuracy"):
        m.evaluate([0, 1, 1], S, "single-label", ["auc"])
    with pytest.raises(ValueError, match="task must be one of single-label, multi-label"):
        m.evaluate([0, 1, 1], S, "multiclass")
    with pytest.raises(ValueError, match=r"multi-label truth must be a 0/1 matrix \(n, C\)"):
        m.evaluate([0, 1, 1], S, "multi-label")
    with pytest.raises(ValueError, match=r"single-label truth must be class indices \(n,\)"):
        m.evaluate(y, S, "single-label")


# ----------------------------------------------------------------------------- summarise


def test_summarise_uses_sample_std():
    values = [0.61, 0.64, 0.58, 0.66]
    out = m.summarise(values)
    assert out["n"] == 4
    assert out["mean"] == pytest.approx(statistics.mean(values))
    assert out["std"] == pytest.approx(statistics.stdev(values))
    assert out["std"] == pytest.approx(np.std(values, ddof=1))


def test_summarise_edge_cases():
    assert m.summarise([0.7]) == {"mean": 0.7, "std": 0.0, "n": 1}
    assert m.summarise([0.5, None, float("nan"), np.float32(0.7)]) == {
        "mean": pytest.approx(0.6),
        "std": pytest.approx(math.sqrt(0.02)),
        "n": 2,
    }
    assert m.summarise([]) == {"mean": None, "std": None, "n": 0}
    assert m.summarise([None, float("nan")]) == {"mean": None, "std": None, "n": 0}
    with pytest.raises(ValueError, match="infinite"):
        m.summarise([0.5, float("inf")])
    with pytest.raises(ValueError, match="expects numbers or None, got '0.5'"):
        m.summarise(["0.5"])
