"""Choi et al. (2017): four architectures, widths solved from parameter budgets, variable-length input, the suites."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mirbench_baselines.choi2017 import Choi2017CNN
from mirbench_baselines.choi2017.architectures import ARCHITECTURES, build, describe
from mirbench_baselines.choi2017.budget import count, solve_width
from mirbench.metrics import roc_auc
from mirbench.kit.nn import FlexibleMaxPool, n_parameters
from mirbench.suite import load_suite
from mirbench.testing import check_system
from tests.helpers import run_quick

REPO = Path(__file__).resolve().parent.parent
BUDGETS = [100_000, 250_000, 500_000, 1_000_000, 3_000_000]


@pytest.mark.parametrize("bands", [96, 48])
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_meets_every_budget_within_5_percent(arch, bands):
    for budget in BUDGETS:
        width, params = solve_width(arch, budget, bands, 50)
        assert abs(params / budget - 1) <= 0.05, (arch, budget, width, params)
        assert params == count(arch, bands, 50, width)
        neighbours = [count(arch, bands, 50, w) for w in (width - 1, width + 1)]
        assert all(abs(params - budget) <= abs(n - budget) for n in neighbours)  # the nearest width


def test_counts_are_the_built_networks_parameters():
    model = build("crnn", 96, 50, 40)
    assert count("crnn", 96, 50, 40) == n_parameters(model) == sum(p.numel() for p in model.parameters())


def conv_widths(model) -> list[int]:
    return [m.out_channels for m in model.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d))]


def dropout_rates(module) -> list[float]:
    return [m.p for m in module.modules() if isinstance(m, torch.nn.Dropout)]


def test_crnn_and_k2c2_keep_the_proportions_of_the_authors_released_networks():
    # keunwoochoi/music-auto_tagging-keras: music_tagger_crnn.py (64-128-128-128, GRU 32-32, dropout 0.1 after
    # every convolution block, 0.3 on the last GRU state) and music_tagger_cnn.py (32-128-128-192-256)
    crnn = build("crnn", 96, 50, 128)
    assert conv_widths(crnn) == [64, 128, 128, 128]
    assert crnn.gru.hidden_size == 32 and crnn.gru.num_layers == 2 and crnn.gru.input_size == 128
    assert dropout_rates(crnn.convs) == [0.1] * 4 and crnn.dropout.p == 0.3
    assert conv_widths(build("k2c2", 96, 50, 256)) == [32, 128, 128, 192, 256]
    assert describe("crnn", 128) == "conv 64-128-128-128, gru 32-32"


@pytest.mark.parametrize("arch", ["k1c2", "k2c1", "k2c2"])
def test_the_cnns_have_a_stronger_dropout_than_the_crnn_between_convolutions(arch):
    model = build(arch, 96, 50, 64)
    assert dropout_rates(model) == [0.5] * (len(conv_widths(model)) - 1)  # between blocks, not after the last
    assert dropout_rates(build(arch, 96, 50, 64, conv_dropout=0.0)) == []
    assert dropout_rates(build(arch, 96, 50, 64, conv_dropout=0.2)) == [0.2] * (len(conv_widths(model)) - 1)


def test_a_budget_too_small_for_any_width_is_refused():
    with pytest.raises(ValueError, match="more than 5 % from the budget"):
        solve_width("k2c2", 300, 96, 50)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("frames", [16, 100, 1366])
def test_any_number_of_frames_gives_one_row_of_logits(arch, frames):
    model = build(arch, 96, 7, 12).eval()
    with torch.no_grad():
        out = model(torch.randn(3, frames, 96))
    assert out.shape == (3, 7) and torch.isfinite(out).all()


def test_paper_pooling_reduces_96_bands_to_one():
    x = torch.randn(1, 4, 96, 1366)
    for kernels in (((2, 4), (2, 4), (2, 4), (3, 5), (4, 4)), ((2, 2), (3, 3), (4, 4), (4, 4))):
        h = x
        for k in kernels:
            h = FlexibleMaxPool(k)(h)
        assert h.shape[2] == 1
    assert FlexibleMaxPool((4, 4))(torch.randn(1, 1, 3, 2)).shape == (1, 1, 1, 1)  # kernels cut to what is left


def test_the_system_reports_its_width_and_budget_error():
    assert len(check_system(Choi2017CNN, {"arch": "k2c2"})) == 5  # over its SMOKE_PARAMS
    with pytest.raises(ValueError, match="arch must be one of"):
        Choi2017CNN(arch="rnn").check_params()
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        Choi2017CNN(budget=0.5).check_params()
    with pytest.raises(ValueError, match="conv_dropout must be in"):
        Choi2017CNN(conv_dropout=1.0).check_params()


def test_a_tiny_crnn_learns_the_embedded_tags(tmp_path):
    from mirbench.datasets import open_dataset
    from mirbench.features import FeatureStore
    from mirbench.registry import protocols
    from mirbench.system import TrackSet

    dataset = open_dataset({"name": "corpus", "task": "tags", "clips_per_class": 8, "clip_seconds": 6.0, "progress": False})
    fold = protocols.get("stratified-kfold")(folds=4, proportions="k-fold", seed=0).folds(dataset)[0]
    store = FeatureStore(tmp_path / "cache")
    train, valid, test = (TrackSet(dataset, dataset.subset(ids), store) for ids in (fold.train, fold.valid, fold.test))
    system = Choi2017CNN(
        arch="crnn", budget=80_000, n_mels=48, window_frames=94, batch_size=10, updates_per_epoch=100, max_epochs=6,
        learning_rate=0.003,
    )  # fmt: skip
    # Selection on the training clips: on 12 validation clips the untrained network can score best (random_state 1
    # on one thread kept update 0, train AUC 0.45; CI's 0.675 was such a pick), so validating there tested the
    # selection's noise, not learning. Validated on train, the kept weights are trained ones (checked below; the
    # last ones in every run measured).
    system.fit(train, train)
    # What training guarantees, on any CPU: it fits the tags it was trained on, and ranks unseen works' tags better
    # than chance. The test AUC itself (12 clips, 23 tags) moves with the CPU's vector kernels and thread count as
    # much as with the seed, so it is only held above chance. Measured on one thread, random_state 0-2: train
    # 0.80-0.87, test 0.58-0.67.
    train_auc = roc_auc(train.targets, system.predict(train), average="macro")
    auc = roc_auc(test.targets, system.predict(test), average="macro")
    info = system.training_info()
    assert info["updates"] == 600 and info["best_update"] >= 300, info
    assert train_auc > 0.75, train_auc
    assert auc > 0.5, auc
    assert abs(info["budget_error"]) <= 0.05 and system.n_parameters() == count("crnn", 48, 23, info["width"])
    assert info["s_per_window"] > 0


def test_suites_lay_out_the_comparison():
    suite = load_suite(REPO / "suites" / "choi2017-mtat.toml")
    assert sorted({(v.params["arch"], v.params["budget"]) for v in suite.variants}) == sorted(
        (a, b) for a in ARCHITECTURES for b in BUDGETS
    )
    cleaned = load_suite(REPO / "suites" / "choi2017-mtat-cleaned.toml")
    assert cleaned.protocol == {"name": "mtat-cleaned"} and cleaned.dataset["tags"] == "published"
    embedded = load_suite(REPO / "suites" / "choi2017-corpus.toml")
    assert embedded.dataset == {"name": "corpus", "task": "tags", "clip_seconds": 10.0}
    assert all(v.params["n_mels"] == 48 and v.params["time_budget_s"] == 60.0 for v in embedded.variants)
    assert len(embedded.variants) == 20


def test_mtat_suite_runs_quick_on_the_tiny_tree(tmp_path, capsys):
    from tests.fixtures.mtat_tree import build_tiny_tree

    tree = build_tiny_tree(tmp_path / "data", seconds=3.0)
    suite = tmp_path / "choi-small.toml"  # the smallest two budgets keep the test short
    suite.write_text(
        f'extends = "{REPO / "suites" / "choi2017-mtat.toml"}"\nversion = "1"\n'
        '[[systems]]\nname = "choi2017.cnn"\nlabel = "Choi2017"\n'
        'grid = { arch = ["k1c2", "k2c1", "k2c2", "crnn"], budget = [100000, 250000] }\n'
    )
    out, rep = run_quick(suite, tree.data_root, tmp_path, capsys)
    assert "8 trials: 0 already done, 8 ran ok, 0 failed" in out
    report = (rep / "choi-small-quick.md").read_text()
    assert "### Exact number of parameters" in report and "### Training time per sample" in report
    counts = {f"{count(a, 96, 50, solve_width(a, b, 96, 50)[0]):,}" for a in ARCHITECTURES for b in (100_000, 250_000)}
    assert all(c in report for c in counts)
    assert (rep / "choi-small-quick-plot.png").stat().st_size > 10_000
