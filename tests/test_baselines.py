"""The hand-crafted baselines meet the system contract and learn the synthetic tasks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from mirbench_baselines.mfcc import MFCCBaseline
from mirbench_baselines.pmsc import PMSCBaseline
from mirbench.features import FeatureStore
from mirbench.metrics import accuracy, roc_auc
from mirbench.system import TrackSet
from mirbench.testing import ConformanceError, check_system, synthetic_dataset, system_checks

FAST = {
    "mfcc": (MFCCBaseline, {}),
    "mfcc-windows-rf": (MFCCBaseline, {"window_seconds": 0.5, "hop_seconds": 0.25, "classifier": "rf", "n_estimators": 20, "vote": "majority"}),
    "pmsc": (PMSCBaseline, {"n_components": 8}),
    "pmsc-logreg": (PMSCBaseline, {"n_components": 8, "classifier": "logreg"}),
}


CHECKS = {(name, check): run for name in sorted(FAST) for check, run in system_checks(*FAST[name])}


@pytest.mark.parametrize("name, check", sorted(CHECKS), ids=[f"{n}-{c}" for n, c in sorted(CHECKS)])
def test_conformance(name, check, tmp_path):
    """Each check of the contract is its own test, so a failure names the system and the check."""
    assert CHECKS[name, check](tmp_path)


def test_every_baseline_is_checked_for_determinism():
    assert {n for n, c in CHECKS if c.endswith(":deterministic")} == set(FAST)


def test_check_system_runs_the_named_checks_in_order(tmp_path):
    factory, params = FAST["mfcc"]
    passed = check_system(factory, params, workdir=tmp_path)
    assert [name for name, _ in system_checks(factory, params)] == [
        "init_stores_params", "single-label:fit_predict", "single-label:deterministic",
        "multi-label:fit_predict", "multi-label:deterministic"]
    assert passed == [
        "__init__ stores parameters only; clone() round-trips",
        "single-label: fit returns self; predict gives finite (n, C) scores",
        "single-label: deterministic under random_state",
        "multi-label: fit returns self; predict gives finite (n, C) scores",
        "multi-label: deterministic under random_state",
    ]


@pytest.mark.parametrize("task", ["single-label", "multi-label"])
@pytest.mark.parametrize("factory", [MFCCBaseline, PMSCBaseline])
def test_learns_synthetic_task(factory, task, tmp_path):
    ds = synthetic_dataset(tmp_path, task=task, per_class=8)
    store = FeatureStore(tmp_path / "cache")
    train = TrackSet(ds, [t for i, t in enumerate(ds.tracks) if i % 4 < 2], store)
    test = TrackSet(ds, [t for i, t in enumerate(ds.tracks) if i % 4 >= 2], store)
    system = factory(**({"n_components": 8} if factory is PMSCBaseline else {})).fit(train)
    scores = system.predict(test)
    if task == "single-label":
        assert accuracy(test.targets, scores) > 0.9
    else:
        assert roc_auc(test.targets, scores, average="macro") > 0.9


def test_bad_classifier_is_a_clear_error(tmp_path):
    ds = synthetic_dataset(tmp_path, per_class=2)
    ts = TrackSet(ds, ds.tracks, FeatureStore(None))
    with pytest.raises(ValueError, match="classifier must be one of"):
        MFCCBaseline(classifier="knn").fit(ts)


def test_check_system_catches_init_that_does_work():
    class Eager(MFCCBaseline):
        def __init__(self, n_mfcc=20):
            self.n_mfcc = n_mfcc
            self.model_ = object()

    with pytest.raises(ConformanceError, match="__init__"):
        check_system(Eager)


def test_clone_round_trips_params():
    system = PMSCBaseline(n_components=7, stats=("mean",))
    assert clone(system).get_params() == system.get_params()
    assert np.isclose(clone(system).C, 10.0)
