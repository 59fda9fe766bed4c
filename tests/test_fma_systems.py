"""The FMA-feature systems: conformance, where their features come from, and what the MLP does in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import mirbench_baselines.fma.classical as classical
import mirbench_baselines.fma.mlp as mlp
from mirbench_baselines.fma import FMAMLP, FMAClassifier, track_features
from mirbench_baselines.fma.features import resolve_source
from mirbench import registry
from mirbench.kit import training
from mirbench.datasets.base import Dataset, DatasetError, Track
from mirbench.datasets.fma import FMADataset
from mirbench.datasets.fma.metadata import read_features
from mirbench.features import FeatureStore
from mirbench.metrics import accuracy, roc_auc
from mirbench.system import TrackSet
from mirbench.testing import check_system, synthetic_dataset
from tests.fixtures import fma_tree as ft

NAMES = {"fma.mlp": None, "fma.logreg": "logreg", "fma.linear-svm": "linear-svm", "fma.svm": "svm", "fma.knn": "knn", "fma.rf": "rf"}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_conformance_on_computed_features(name, tmp_path):
    passed = check_system(registry.systems.get(name), {"features": "computed"}, workdir=tmp_path)
    assert sum("deterministic" in p for p in passed) == 2


@pytest.mark.parametrize("name", sorted(n for n in NAMES if NAMES[n]))
def test_each_registered_classifier_has_its_default(name):
    factory = registry.systems.get(name)
    assert issubclass(factory, FMAClassifier)
    assert factory().classifier == NAMES[name]
    assert set(factory().get_params()) == set(FMAClassifier().get_params())


@pytest.mark.parametrize(
    "factory, params, word",
    [
        (FMAMLP, {"activation": "tanh"}, "activation"),
        (FMAMLP, {"optimizer": "rmsprop"}, "optimizer"),
        (FMAMLP, {"dropout": 1.0}, "dropout"),
        (FMAMLP, {"width": 0}, "width"),
        (FMAMLP, {"features": "csvs"}, "features"),
        (FMAClassifier, {"classifier": "lda"}, "classifier"),
        (FMAClassifier, {"gamma": -1.0}, "gamma"),
        (FMAClassifier, {"n_neighbors": 0}, "n_neighbors"),
    ],
)
def test_check_params_names_the_parameter(factory, params, word):
    with pytest.raises(ValueError, match=rf"^{word} must"):
        factory(**params).check_params()


# ----------------------------------------------------------------------------- features.csv


@pytest.fixture
def tiny(tmp_path) -> ft.TinyTree:
    return ft.build_tiny_tree(tmp_path, audio=())  # metadata only: tracks, genres and features csv


def csv_values(tree: ft.TinyTree) -> dict[str, np.ndarray]:
    """What write_features_csv wrote, regenerated from its seed: track id -> 518 values."""
    values = np.random.default_rng(0).standard_normal((len(tree.rows), 518)).round(6)
    return {f"{r.track_id:06d}": v for r, v in zip(tree.rows, values)}


def test_precomputed_features_are_the_csv_rows_of_the_tracks(tiny):
    ds = FMADataset(tiny.fma)
    ids = [ds.tracks[k].id for k in (5, 0, 17)]  # any order
    expected = csv_values(tiny)
    got = ds.precomputed_features(ids)
    assert got.shape == (3, 518) and got.dtype == np.float64
    np.testing.assert_allclose(got, np.stack([expected[i] for i in ids]), rtol=0, atol=1e-9)
    from mirbench.frontends.fma import COLUMNS

    assert list(read_features(ds.features_path).columns) == COLUMNS


def test_auto_reads_the_csv_of_fma_and_computes_elsewhere(tiny, tmp_path):
    ds = FMADataset(tiny.fma)
    tracks = TrackSet(ds, ds.tracks[:4], FeatureStore(None))
    assert resolve_source(tracks, "auto") == "csv"
    X = track_features(tracks, "auto", 22050)
    np.testing.assert_allclose(X, np.stack([csv_values(tiny)[i] for i in tracks.ids]), atol=1e-9)
    synth = synthetic_dataset(tmp_path / "synth", per_class=1)
    assert resolve_source(TrackSet(synth, synth.tracks, FeatureStore(None)), "auto") == "computed"
    with pytest.raises(ValueError, match="no precomputed features"):
        track_features(TrackSet(synth, synth.tracks, FeatureStore(None)), "csv", 22050)


def test_csv_and_computed_features_come_in_the_same_shape_and_column_order(tmp_path):
    tree = ft.build_tiny_tree(tmp_path)  # with the small subset's audio
    ds = FMADataset(tree.fma, subset="small")
    odd = {f"{i:06d}" for i in (ft.MISSING_ID, ft.EMPTY_ID, ft.HEADER_ONLY_ID)}
    tracks = TrackSet(ds, [t for t in ds.tracks if t.id not in odd][:3], FeatureStore(None))
    from_csv, computed = track_features(tracks, "csv", 22050), track_features(tracks, "computed", 22050)
    assert from_csv.shape == computed.shape == (3, 518) and np.isfinite(computed).all()
    from mirbench.frontends.fma import COLUMNS

    assert list(read_features(ds.features_path).columns) == COLUMNS  # the computed columns' names and order


def test_a_track_missing_from_the_csv_is_an_error_naming_the_file(tiny):
    ds = FMADataset(tiny.fma)
    kept = [r.track_id for r in tiny.rows if f"{r.track_id:06d}" != ds.tracks[2].id]
    ft.write_features_csv(ds.features_path, kept)
    with pytest.raises(DatasetError, match=rf"{ds.features_path}.*no row for 1 track.*{ds.tracks[2].id}"):
        ds.precomputed_features([t.id for t in ds.tracks[:4]])


def test_a_missing_features_csv_says_what_to_do(tiny):
    ds = FMADataset(tiny.fma)
    ds.features_path.unlink()
    tracks = TrackSet(ds, ds.tracks[:2], FeatureStore(None))
    assert resolve_source(tracks, "auto") == "computed"
    with pytest.raises(DatasetError, match=r"features\.csv does not exist.*fma_metadata\.zip"):
        track_features(tracks, "csv", 22050)


def test_non_finite_features_name_the_track(tiny):
    ds = FMADataset(tiny.fma)
    table = pd.read_csv(ds.features_path, header=[0, 1, 2], index_col=0)
    table.iloc[[r.track_id for r in tiny.rows].index(int(ds.tracks[1].id)), 7] = np.nan
    table.to_csv(ds.features_path)
    with pytest.raises(DatasetError, match=rf"not finite.*track {ds.tracks[1].id}"):
        track_features(TrackSet(ds, ds.tracks[:3], FeatureStore(None)), "csv", 22050)


# ----------------------------------------------------------------------------- the MLP on toy features


def toy(monkeypatch, n_per_class: int = 40, task: str = "single-label", seed: int = 0):
    """Three classes, each lifting its own 20 of 518 noisy features by 3 sd; returns (train, valid, test, features by id)."""
    rng = np.random.default_rng(seed)
    classes = ("a", "b", "c")
    tracks, feats = [], {}
    for c, name in enumerate(classes):
        for k in range(n_per_class):
            labels = (name,) if task == "single-label" or k % 2 else (name, classes[(c + 1) % 3])
            tid = f"{name}{k:03d}"
            x = rng.standard_normal(518) * 2.0 + 5.0  # off-centre, so standardisation matters
            for lab in labels:
                x[20 * classes.index(lab) : 20 * classes.index(lab) + 20] += 6.0
            tracks.append(Track(tid, Path(f"/nonexistent/{tid}.wav"), labels))
            feats[tid] = x
    ds = Dataset(tracks, classes, task, 22050, name="toy")
    parts = [[t for i, t in enumerate(tracks) if i % 5 in keep] for keep in ((0, 1, 2), (3,), (4,))]
    fake = lambda ts, source, sample_rate: np.stack([feats[i] for i in ts.ids])  # noqa: E731
    monkeypatch.setattr(mlp, "track_features", fake)
    monkeypatch.setattr(classical, "track_features", fake)
    return (*(TrackSet(ds, p, FeatureStore(None)) for p in parts), feats)


@pytest.mark.parametrize("task", ["single-label", "multi-label"])
def test_mlp_learns_a_separable_toy_problem(monkeypatch, task):
    train, valid, test, _ = toy(monkeypatch, task=task)
    system = FMAMLP(width=64, max_epochs=20, batch_size=16).fit(train, valid)
    scores = system.predict(test)
    assert scores.shape == (len(test), 3) and scores.dtype == np.float64
    if task == "single-label":
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)
        assert accuracy(test.targets, scores) > 0.9
    else:
        assert roc_auc(test.targets, scores, average="macro") > 0.9
    info = system.training_info()
    assert 1 <= info["epochs"] <= 20 and 0 <= info["best_epoch"] <= info["epochs"]
    assert info["stopped"] in ("patience", "max_epochs") and info["train_s"] > 0 and info["csv_features"] == 0
    assert system.n_parameters() == sum(p.numel() for p in system.model_.parameters())


def test_the_mlp_trains_as_the_coursework_by_default_and_as_before_when_asked(monkeypatch):
    """Issue #19: "Each neural network will be trained in 100 epochs", and the one rate it names is 0.2; the
    earlier defaults (0.001, early stopping on the validation loss, best weights) stay one setting away."""
    system = FMAMLP()
    assert (system.learning_rate, system.max_epochs, system.early_stopping) == (0.2, 100, False)
    train, valid, _, _ = toy(monkeypatch)
    info = FMAMLP(width=8, batch_size=16).fit(train, valid).training_info()  # the default epochs and stopping
    assert info["epochs"] == 100 and info["stopped"] == "max_epochs" and info["kept_epoch"] == 100  # the last epoch's
    assert info["best_epoch"] < 90  # patience 10 would have stopped it: the default does not stop early
    old = FMAMLP(width=8, max_epochs=200, batch_size=16, learning_rate=0.001, early_stopping=True, patience=2)
    info = old.fit(train, valid).training_info()
    assert info["stopped"] == "patience" and info["kept_epoch"] == info["best_epoch"] < info["epochs"] < 200
    with pytest.raises(ValueError, match="early_stopping must be true or false"):
        FMAMLP(early_stopping="yes").check_params()


@pytest.mark.parametrize("classifier", classical.CLASSIFIERS)
def test_classifiers_learn_the_toy_problem(monkeypatch, classifier):
    train, _, test, _ = toy(monkeypatch)
    scores = FMAClassifier(classifier=classifier, n_estimators=50).fit(train).predict(test)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)  # probabilities, or a softmax of decisions
    assert accuracy(test.targets, scores) > 0.9


def test_standardisation_uses_training_statistics_only(monkeypatch):
    train, valid, test, feats = toy(monkeypatch)
    system = FMAMLP(width=8, max_epochs=1).fit(train, valid)
    X = np.stack([feats[i] for i in train.ids])
    np.testing.assert_allclose(system.model_.mean.numpy(), X.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(system.model_.scale.numpy(), X.std(axis=0), rtol=1e-5)
    everything = np.stack([feats[i] for i in train.ids + valid.ids + test.ids])
    assert not np.allclose(system.model_.mean.numpy(), everything.mean(axis=0), rtol=1e-3)
    assert {"mean", "scale"} <= set(system.model_.state_dict())  # stored with the model


def test_minibatches_are_reshuffled_every_epoch_from_the_seed(monkeypatch):
    train, valid, _, _ = toy(monkeypatch)

    def orders(random_state: int) -> list[list[int]]:
        seen = []

        def recording(model, opt, loss_fn, X, y, batch_size, generator=None, **kwargs):
            copy = torch.Generator().set_state(generator.get_state())  # the permutation sgd_epoch is about to draw
            seen.append(torch.randperm(len(X), generator=copy).tolist())
            return training.sgd_epoch(model, opt, loss_fn, X, y, batch_size, generator, **kwargs)

        monkeypatch.setattr(mlp, "sgd_epoch", recording)
        FMAMLP(width=8, max_epochs=3, patience=5, batch_size=16, random_state=random_state).fit(train, valid)
        return seen

    first = orders(0)
    assert len(first) == 3 and first[0] != first[1] != first[2]
    assert orders(0) == first
    assert orders(1) != first


def test_a_training_batch_of_one_row_is_fine_with_batch_norm(monkeypatch):
    train, valid, test, _ = toy(monkeypatch, n_per_class=3)  # 6 training rows
    system = FMAMLP(width=8, max_epochs=2, batch_size=5).fit(train, valid)  # batches of 5 and 1
    assert np.isfinite(system.predict(test)).all()
