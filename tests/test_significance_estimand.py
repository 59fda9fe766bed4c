"""Issue 19: the significance table states one estimand (pooled test tracks) and shows its compared values in it;
`mirbench compare` and the report agree on resamples, sign, interval and p-value; McNemar is for accuracy only."""

from __future__ import annotations

import numpy as np
import pytest

from mirbench import stats
from mirbench.cli import main
from mirbench.metrics import roc_auc_macro
from mirbench.report import significance
from tests.helpers import grid_under

N = 40  # test tracks per fold


def trial(label: str, fold: int, shift: float, noise: float) -> dict:
    """A single-label trial of 3 classes whose scores drift by `shift` per fold: per-fold AUCs stay high, the
    AUC over the pooled tracks of both folds falls (the two estimands differ)."""
    rng = np.random.default_rng(fold)
    truth = np.arange(N) % 3
    scores = np.eye(3)[truth] + rng.normal(0, noise, (N, 3)) + shift * fold * np.array([1.0, 0.0, 0.0])
    return {
        "status": "ok", "seed": 0, "trial_id": f"{label}.fold{fold}.seed0",
        "variant": {"system": label.lower(), "label": label, "params": {}, "id": label.lower()},
        "fold": {"index": fold, "split_hash": f"fold{fold}"},
        "metrics": {"accuracy": float(np.mean(scores.argmax(1) == truth)), "roc_auc_macro": float(roc_auc_macro(truth, scores))},
        "predictions": {"track_ids": [f"t{fold}-{i}" for i in range(N)], "scores": scores.tolist(), "truth": truth.tolist()},
    }  # fmt: skip


RECORDS = [trial("Steady", f, 0.0, 0.6) for f in (0, 1)] + [trial("Drifting", f, 1.5, 0.4) for f in (0, 1)]


def pooled(label: str) -> float:
    mine = [r for r in RECORDS if r["variant"]["label"] == label]
    truth = np.concatenate([r["predictions"]["truth"] for r in mine])
    return roc_auc_macro(truth, np.concatenate([r["predictions"]["scores"] for r in mine]))


def auc_rows() -> dict[str, list[str]]:
    text = significance.section({}, RECORDS, ("accuracy", "roc_auc_macro"))
    return grid_under(text, "### roc_auc_macro"), text


def test_the_values_shown_are_those_the_difference_is_computed_from():
    rows, text = auc_rows()
    header, best, other = rows[0], rows[1], rows[2]
    assert "pooled" in " ".join(header) or "pooled" in text.split("### accuracy")[0]
    means = {r["variant"]["label"]: r["metrics"]["roc_auc_macro"] for r in RECORDS}
    per_fold_mean = {lab: np.mean([r["metrics"]["roc_auc_macro"] for r in RECORDS if r["variant"]["label"] == lab])
                     for lab in means}  # fmt: skip
    assert abs(per_fold_mean["Drifting"] - pooled("Drifting")) > 0.01  # the two estimands differ here
    value = header.index("roc_auc_macro (pooled)")
    shown = {best[0]: float(best[value]), other[0]: float(other[value])}
    assert shown == {lab: pytest.approx(pooled(lab), abs=5e-4) for lab in ("Steady", "Drifting")}
    assert best[0] == max(shown, key=shown.get)
    difference = float(other[header.index("difference (variant − best)")].rstrip(" †"))
    assert difference == pytest.approx(shown[other[0]] - shown[best[0]], abs=1.5e-3)


def test_the_resample_count_is_beside_every_interval_and_is_the_cli_default():  # the CLI's: in the test below
    assert significance.RESAMPLES == stats.RESAMPLES
    rows, _ = auc_rows()
    at = rows[0].index("resamples")
    assert rows[0][at - 1] == "95 % CI"
    assert rows[2][at] == str(stats.RESAMPLES)


def test_mcnemar_is_left_out_of_tables_of_other_metrics():
    rows, text = auc_rows()
    assert not any("McNemar" in h for h in rows[0])
    assert any("McNemar" in h for h in grid_under(text, "### accuracy")[0])
    assert stats.compare_records(RECORDS[:2], RECORDS[2:], metric="roc_auc_macro", n_resamples=20)["mcnemar"] is None


@pytest.fixture()
def store(tmp_path, monkeypatch):
    import mirbench.results

    (tmp_path / "suite.json").write_text("{}")

    class Store:
        def __init__(self, root):
            pass

        def records(self):
            return iter(RECORDS)

    monkeypatch.setattr(mirbench.results, "ResultStore", Store)
    return tmp_path


def test_compare_says_mcnemar_is_for_accuracy_and_agrees_with_the_report(store, capsys):
    rows, _ = auc_rows()
    header, best, other = rows[0], rows[1], rows[2]
    assert main(["compare", str(store), other[0], best[0], "--metric", "roc_auc_macro"]) == 0
    out = capsys.readouterr().out
    assert "mcnemar" not in out.replace("McNemar's test applies to accuracy only", "").lower()
    assert "McNemar's test applies to accuracy only" in out
    boot = next(line for line in out.splitlines() if line.strip().startswith("bootstrap"))
    perm = next(line for line in out.splitlines() if line.strip().startswith("permutation"))
    assert f"difference {float(other[header.index('difference (variant − best)')].rstrip(' †')):+.3f}"[:-1] in boot
    low, high = (float(x) for x in other[header.index("95 % CI")].strip("[]").split(","))
    assert f"[{low:+.3f}"[:-1] in boot and f"{high:+.3f}"[:-1] in boot
    assert f"{stats.RESAMPLES} resamples" in boot
    p_cli = float(perm.split("p = ")[1].split()[0])
    assert f"{p_cli:.3g}" == other[header.index("p (permutation)")]
    assert "difference = A − B" in out
