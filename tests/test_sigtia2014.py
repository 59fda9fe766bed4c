"""sigtia2014.mlp: the contract, the shared network cache, features, standardisation, windows, regimes, transfer, suites."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mirbench_baselines.sigtia2014 import Sigtia2014MLP
from mirbench_baselines.sigtia2014 import features as feats
from mirbench import leaderboard
from mirbench.kit import aggregate
from mirbench.features import FeatureStore
from mirbench.metrics import accuracy, roc_auc
from mirbench.system import TrackSet
from mirbench.testing import check_system, synthetic_dataset

REPO = Path(__file__).resolve().parent.parent
SMALL = {
    "units": 8, "frames_per_track": 20, "max_epochs": 2, "hf_steps": 2, "cg_iters": 5, "n_estimators": 10, "batch_size": 20,
}


def splits(dataset, store):
    """Half train, a quarter valid, a quarter test, every class in each."""
    parts = [[], [], []]
    for i, t in enumerate(dataset.tracks):
        parts[(0, 0, 1, 2)[i % 4]].append(t)
    return [TrackSet(dataset, p, store) for p in parts]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("sigtia")
    dataset = synthetic_dataset(root / "single", per_class=8)
    store = FeatureStore(root / "cache")
    return dataset, store, splits(dataset, store)


def test_conformance(tmp_path):
    passed = check_system(Sigtia2014MLP, {**SMALL, "regime": "relu-sgd", "aggregate": False}, workdir=tmp_path)
    assert any("single-label: deterministic" in p for p in passed)
    assert any("multi-label: deterministic" in p for p in passed)


def test_variants_share_one_trained_network(data):
    _, _, (train, valid, test) = data
    params = {**SMALL, "regime": "relu-sgd-dropout", "aggregate": False, "random_state": 3}
    first = Sigtia2014MLP(layer="1", **params).fit(train, valid)
    second = Sigtia2014MLP(layer="all", n_estimators=5, **{k: v for k, v in params.items() if k != "n_estimators"})
    second.fit(train, valid)
    assert first.training_info()["cached"] == 0 and second.training_info()["cached"] == 1
    assert second.training_info()["mlp_train_s"] == first.training_info()["mlp_train_s"]
    # issue #19: the leaderboard charges the sibling the shared network's training time, marked as shared
    one, two = first.training_info(), second.training_info()
    assert one["network_shared"] is False and two["network_shared"] is True
    assert two["network_train_s"] == one["network_train_s"] >= one["mlp_train_s"] > 0
    records = [{"fold": {"index": 0}, "seed": 0, "timings": {"fit_s": 1.0}, "training": info} for info in (one, two)]
    shared = leaderboard.shared_networks(records)
    assert leaderboard.train_seconds(records[1], shared) == (pytest.approx(1.0 + one["network_train_s"]), True)
    assert leaderboard.train_seconds(records[0], shared) == (1.0, True)  # its fit_s already held the training
    for (k, a), (_, b) in zip(first.model_.state_dict().items(), second.model_.state_dict().items()):
        assert torch.equal(a, b), k
    frames = feats.read_frames(test, first.frontend())
    a, _ = feats.track_vectors(first.model_, frames, "1", "cpu")
    b, _ = feats.track_vectors(second.model_, frames, "all", "cpu")
    np.testing.assert_array_equal(a, b[:, :8])
    # anything that changes training is another network
    for change in ({"max_epochs": 3}, {"random_state": 4}, {"frames_per_track": 21}):
        other = Sigtia2014MLP(layer="1", **{**params, **change}).fit(train, valid)
        assert other.training_info()["cached"] == 0, change


def test_same_names_other_audio_is_another_network(tmp_path):
    store = FeatureStore(tmp_path / "cache")
    infos = []
    for seed in (0, 1):  # two builds whose track ids, labels and file names are the same
        train, valid, _ = splits(synthetic_dataset(tmp_path / f"build{seed}", per_class=4, seed=seed), store)
        system = Sigtia2014MLP(**SMALL, regime="relu-sgd", aggregate=False).fit(train, valid)
        infos.append(system.training_info()["cached"])
    assert infos == [0, 0]


def test_feature_widths(data):
    _, _, (train, valid, test) = data
    system = Sigtia2014MLP(**SMALL, regime="relu-sgd", aggregate=False).fit(train, valid)
    frames = feats.read_frames(test, system.frontend())
    for layer, width in (("1", 8), ("2", 8), ("3", 8), ("all", 24), (2, 8)):
        X, counts = feats.track_vectors(system.model_, frames, layer, "cpu")
        assert X.shape == (sum(len(f) for f in frames), width) and counts == [len(f) for f in frames]
        W, wcounts = feats.track_vectors(system.model_, frames, layer, "cpu", window=(20, 10))
        assert W.shape == (sum(wcounts), 2 * width)
    assert system.n_parameters() == 513 * 8 + 8 + 2 * (8 * 8 + 8) + 8 * 3 + 3
    with pytest.raises(ValueError, match="layer must be one of"):
        feats.layer_name("4")


def test_standardisation_uses_training_statistics_only(data):
    _, _, (train, valid, _) = data
    system = Sigtia2014MLP(**{**SMALL, "frames_per_track": None}, regime="relu-sgd", aggregate=False).fit(train, valid)
    frontend = system.frontend()
    X = np.concatenate(train.features(frontend)).astype(np.float64)
    np.testing.assert_allclose(system.model_.mean.numpy(), X.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(system.model_.scale.numpy(), X.std(axis=0), rtol=1e-4)
    both = np.concatenate([X, np.concatenate(valid.features(frontend))])
    assert not np.allclose(system.model_.mean.numpy(), both.mean(axis=0), rtol=1e-3)


def test_windows_are_5_s_every_2_5_s():
    from mirbench.frontends import STFTMagnitude

    frontend = STFTMagnitude()
    assert feats.window_frames(frontend, 5.0, 2.5, 1) == (215, 108)  # 22050 / 512 = 43.07 frames per second
    assert feats.window_frames(frontend, 5.0, 2.5, 8) == (27, 13)
    n = frontend.n_frames(30 * 22050)  # a 30 s clip: 1292 frames
    assert n == 1292 and feats.n_windows(n, 215, 108) == 10
    rng = np.random.default_rng(0)
    for frames, size, hop in ((1292, 215, 108), (100, 20, 7), (15, 20, 10)):
        h = rng.gamma(2.0, 1.0, (frames, 6)).astype(np.float32)
        got = feats.pooled_windows(torch.from_numpy(h), size, hop).numpy()
        want = aggregate.windows(h, size, hop, ("mean", "var"))
        assert got.shape == want.shape == (feats.n_windows(frames, size, hop), 12)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("regime", ["relu-sgd", "relu-sgd-dropout", "sigmoid-hf"])
def test_each_regime_trains_and_beats_chance(data, regime):
    _, _, (train, valid, test) = data
    system = Sigtia2014MLP(
        units=16, regime=regime, layer="all", aggregate=False, frames_per_track=40, max_epochs=15,
        batch_size=20, hf_steps=12, cg_iters=20, n_estimators=20,
    ).fit(train, valid)
    info = system.network_info_
    assert info["best_valid"] < info["initial_valid"]  # training lowered the validation loss
    assert accuracy(test.targets, system.predict(test)) >= 0.8  # chance: 1/3
    steps = "hf_steps" if regime == "sigmoid-hf" else "epochs"
    assert system.training_info()[steps] >= 1
    if regime == "sigmoid-hf":
        assert system.training_info()["cg_iterations"] >= system.training_info()["hf_steps"]


def test_multilabel_tags_are_scored_per_tag(tmp_path):
    dataset = synthetic_dataset(tmp_path / "multi", task="multi-label", per_class=8)
    train, valid, test = splits(dataset, FeatureStore(tmp_path / "cache"))
    system = Sigtia2014MLP(
        units=16, regime="sigmoid-hf", aggregate=True, window_seconds=0.5, hop_seconds=0.25,
        frames_per_track=40, hf_steps=12, cg_iters=20, n_estimators=30,
    ).fit(train, valid)
    scores = system.predict(test)
    assert scores.shape == (len(test), 3) and ((scores >= 0) & (scores <= 1)).all()
    assert roc_auc(test.targets, scores, average="macro") > 0.8


def test_bad_parameters_are_clear_errors(data):
    _, _, (train, valid, _) = data
    for params, message in (
        ({"regime": "relu-hf"}, "regime must be one of"),
        ({"layer": "top"}, "layer must be one of"),
        ({"units": 0}, "units must be a positive integer"),
        ({"frames_per_track": 0}, "frames_per_track must be"),
        ({"pretrain": {"dataset": {"name": "synthetic"}}}, "pretrain.protocol must be a table"),
        ({"pretrain": {"dataset": {"name": "synthetic"}, "protocol": {"name": "x"}, "folds": 1}}, "unknown key"),
    ):
        with pytest.raises(ValueError, match=message):
            Sigtia2014MLP(**params).fit(train, valid)


def test_transfer_trains_on_the_pretraining_dataset(tmp_path):
    # the pre-training data is the registered "synthetic" dataset (built under $MIRBENCH_CACHE), the target another build
    pretrain = {
        "dataset": {"name": "synthetic", "per_class": 8, "seed": 0},
        "protocol": {"name": "stratified-kfold", "folds": 2},
        "fold": 1,
    }
    target = synthetic_dataset(tmp_path / "target", per_class=8, seconds=1.0, seed=1)
    store = FeatureStore(tmp_path / "cache")
    train, valid, test = splits(target, store)
    params = {**SMALL, "units": 16, "max_epochs": 10, "learning_rate": 0.1, "regime": "relu-sgd", "aggregate": False}
    params["pretrain"] = pretrain
    first = Sigtia2014MLP(layer="all", **params).fit(train, valid)
    from mirbench_baselines.sigtia2014.transfer import pretraining_split

    source_train, source_valid = pretraining_split(pretrain, train)
    assert source_train.dataset.name == "synthetic" and len(source_train) == 12  # half of 3 x 8 tracks
    bf16 = pretraining_split(pretrain, TrackSet(train.dataset, train.tracks, train.store, train.device, None, "bf16"))
    assert {part.precision for part in bf16 if part is not None} == {"bf16"}  # the run's precision reaches pre-training
    assert first.network_info_["frames"] == len(source_train) * 20  # the network saw the pre-training tracks only
    cached_key = first.model_key(source_train, source_valid)
    assert cached_key["train"] == source_train.split_key() != train.split_key()
    assert accuracy(test.targets, first.predict(test)) >= 0.8
    second = Sigtia2014MLP(layer="2", **params).fit(train, valid)
    assert second.training_info()["cached"] == 1
    wrong = {**pretrain, "protocol": {"name": "gtzan-random-4fold"}}
    with pytest.raises(ValueError, match="defined for the 'gtzan' dataset"):
        Sigtia2014MLP(**{**params, "pretrain": wrong}).fit(train, valid)


@pytest.mark.parametrize(
    "name, variants", [("gtzan", 48), ("ismir2004", 26), ("corpus", 48), ("corpus-transfer", 26)]
)
def test_suites_validate(name, variants):
    from mirbench.suite import load_suite

    suite = load_suite(REPO / "suites" / f"sigtia2014-{name}.toml")
    assert len(suite.variants) == variants
    published = suite.report["published"]
    mlp_cells = [p for p in published if p.get("system", "MLP") == "MLP"]
    assert len(mlp_cells) == (48 if variants == 48 else 24)
    assert all(0.6 < p["value"] < 0.85 for p in published)


@pytest.mark.parametrize("name, trees", [("ismir2004", 100), ("corpus-transfer", 30)])
def test_table_2_baselines_have_the_learned_features_forest(name, trees):
    """Issue #19: the paper has one Random Forest classifier for the MFCC/PMSC rows and the learned features, so
    a suite gives all its rows the same number of trees, in full and in --quick (the baselines' own default is
    500)."""
    from mirbench.registry import systems
    from mirbench.run.plan import apply_overrides
    from mirbench.suite import load_suite

    suite = load_suite(REPO / "suites" / f"sigtia2014-{name}.toml")
    for quick in (False, True):
        variants = [apply_overrides(v, suite.quick.get("params", {})) if quick else v for v in suite.variants]
        sizes = {v.system: {systems.get(v.system)(**v.params).get_params()["n_estimators"]} for v in variants}
        assert set(sizes) == {"sigtia2014.mlp", "mfcc", "pmsc"}
        assert sizes["mfcc"] == sizes["pmsc"] == sizes["sigtia2014.mlp"] == ({20} if quick else {trees}), quick


def run_quick(suite: Path, tmp_path: Path, capsys) -> list[str]:
    """`mirbench run SUITE --quick` into tmp_path; the lines of its Markdown report."""
    from mirbench.cli import main

    res, rep = str(tmp_path / "res"), str(tmp_path / "rep")
    code = main(["run", str(suite), "--quick", "--results", res, "--reports", rep, "--no-progress", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert ", 0 failed" in out
    return (tmp_path / "rep" / f"{suite.stem}-quick.md").read_text().splitlines()


def table_rows(lines: list[str], first_header: str) -> list[dict]:
    """The rows of the report's main table as dicts keyed by column header, written as values only
    ("relu-sgd / False (published)", whether the report titles a column that way or "regime=relu-sgd / ...")."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header}"))
    split = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]  # noqa: E731
    header = [" / ".join(part.split("=", 1)[-1] for part in h.split(" / ")).strip() for h in split(lines[start])]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, split(line))))
    return rows


REPRODUCED = re.compile(r"\d+\.\d ± \d+\.\d")  # mean ± std over the 2 quick folds, in %


def test_embedded_suite_runs_end_to_end(tmp_path, capsys):
    regimes = '["relu-sgd", "relu-sgd-dropout", "sigmoid-hf"]'
    suite = tmp_path / "sigtia-tiny.toml"
    suite.write_text(
        f'extends = "{REPO / "suites" / "sigtia2014-corpus.toml"}"\nversion = "1"\n'
        "[dataset]\nclips_per_class = 6\nclip_seconds = 6.0\nprogress = false\n"
        '[[systems]]\nname = "sigtia2014.mlp"\nlabel = "MLP"\n'
        f'grid = {{ units = [50], regime = {regimes}, layer = ["1", "all"], aggregate = [false, true] }}\n'
        "[quick]\ntracks_per_class = 6\nfolds = 2\n"
    )
    lines = run_quick(suite, tmp_path, capsys)
    rows = {(r["units"], r["layer"]): r for r in table_rows(lines, "units")}
    assert sorted(rows) == [("50", "1"), ("50", "all")]
    one = rows[("50", "1")]
    assert one["relu-sgd / False (published)"] == "75.0 ± 1.3"  # Table 1's value beside ...
    assert REPRODUCED.fullmatch(one["relu-sgd / False"])  # ... the reproduced one
    assert one["sigmoid-hf / True (published)"] == "78.5 ± 2.1"
    assert all(REPRODUCED.fullmatch(v) for k, v in one.items() if k not in ("units", "layer") and "published" not in k)
    report = "\n".join(lines)
    assert "mlp_train_s" in report and "hf_steps" in report and "cached" in report


def test_embedded_transfer_suite_runs_end_to_end(tmp_path, capsys):
    tiny = '{ name = "corpus", task = "style", clips_per_class = 6, clip_seconds = 6.0, progress = false }'
    protocol = '{ name = "stratified-kfold", folds = 4, proportions = "k-fold", seed = 0 }'
    mfcc = '{ window_seconds = 5.0, hop_seconds = 2.5, classifier = "rf", vote = "majority" }'
    suite = tmp_path / "transfer-tiny.toml"
    suite.write_text(
        f'extends = "{REPO / "suites" / "sigtia2014-corpus-transfer.toml"}"\nversion = "1"\n'
        "[dataset]\nclips_per_class = 4\nclip_seconds = 6.0\nprogress = false\n"
        '[[systems]]\nname = "sigtia2014.mlp"\nlabel = "MLP"\nparams = { aggregate = true }\n'
        'grid = { units = [50], regime = ["relu-sgd", "relu-sgd-dropout", "sigmoid-hf"], layer = ["all"] }\n'
        f'[[systems]]\nname = "mfcc"\nlabel = "MFCC"\nparams = {mfcc}\n'
        "[quick]\ntracks_per_class = 4\nfolds = 2\n"
        f"params = {{ pretrain = {{ dataset = {tiny}, protocol = {protocol}, fold = 0 }}, frames_per_track = 20, "
        "max_epochs = 3, hf_steps = 2, cg_iters = 10, rf_frames_per_track = 8, frame_step = 8, n_estimators = 20 }\n"
    )
    rows = {r["System"]: r for r in table_rows(run_quick(suite, tmp_path, capsys), "System")}
    mlp = rows["MLP"]
    assert (mlp["units"], mlp["layer"]) == ("50", "all")
    published = {"relu-sgd": "72.4", "relu-sgd-dropout": "69.7", "sigmoid-hf": "71.2"}  # Table 2, 50 units, all
    for regime, value in published.items():
        assert mlp[f"{regime} (published)"] == value
        assert REPRODUCED.fullmatch(mlp[regime])
    assert rows["MFCC"]["no regime (published)"] == "67.2" and REPRODUCED.fullmatch(rows["MFCC"]["no regime"])
    assert rows["MFCC"]["relu-sgd (published)"] == ""  # the baseline's published value only in its own column
