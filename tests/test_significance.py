"""The report's significance section: each variant against the best, paired on folds, seeds and tracks."""

from __future__ import annotations

import numpy as np

from mirbench.report.significance import section
from tests.helpers import grid_under


def record(label: str, fold: int, seed: int, right: np.ndarray) -> dict:
    """A single-label trial whose predictions are right exactly where `right` says."""
    truth = np.arange(len(right)) % 2
    guess = np.where(right, truth, 1 - truth)
    scores = np.eye(2)[guess] * 0.8 + 0.1
    return {
        "status": "ok", "seed": seed,
        "variant": {"system": label.lower(), "label": label, "params": {}, "id": label.lower()},
        "fold": {"index": fold, "split_hash": f"fold{fold}"},
        "metrics": {"accuracy": float(right.mean())},
        "predictions": {"track_ids": [f"t{fold}-{i}" for i in range(len(right))], "scores": scores.tolist(), "truth": truth.tolist()},
    }  # fmt: skip


def test_a_system_always_wrong_is_marked_and_an_identical_one_is_not():
    n = 30
    records = []
    for fold in range(2):
        records += [record("Good", fold, 0, np.ones(n, bool)), record("Twin", fold, 0, np.ones(n, bool)),
                    record("Bad", fold, 0, np.zeros(n, bool))]  # fmt: skip
    text = section({}, records, ("accuracy",))
    rows = {r[0]: r for r in grid_under(text, "### accuracy")[1:]}
    assert rows["Good"][2] == "best" or rows["Twin"][2] == "best"
    other = "Twin" if rows["Good"][2] == "best" else "Good"
    assert rows[other][2] == "+0.000" and rows[other][5] == "1"  # identical: p = 1, unmarked
    assert rows["Bad"][2].endswith("†") and float(rows["Bad"][6]) < 1e-6


def test_seed_variance_is_reported_apart_from_fold_variance():
    rng = np.random.default_rng(0)
    records = [record(label, fold, seed, rng.random(20) < p) for label, p in (("A", 0.9), ("B", 0.5))
               for fold in range(3) for seed in range(2)]  # fmt: skip
    text = section({}, records, ("accuracy",))
    rows = grid_under(text, "### Fold and seed variance")
    assert rows[0] == ["variant", "metric", "mean", "std over folds", "std over seeds", "folds", "seeds"]
    assert {r[0] for r in rows[1:]} == {"A", "B"} and all(r[5:] == ["3", "2"] for r in rows[1:])


def test_nothing_to_compare_gives_no_section():
    assert section({}, [record("Only", 0, 0, np.ones(10, bool))], ("accuracy",)) == ""
