"""Dieleman & Schrauwen (2014): the strided convolution, the network at every grid point, windows, the system, the suites."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mirbench_baselines.dieleman2014 import Dieleman2014CNN
from mirbench_baselines.dieleman2014.layers import Compression, FeaturePool, StridedConv1d
from mirbench_baselines.dieleman2014.model import TagCNN
from mirbench.kit.windows import Windows
from mirbench.metrics import roc_auc
from mirbench.suite import SuiteError, load_suite
from mirbench.testing import check_system
from tests.helpers import run_quick

REPO = Path(__file__).resolve().parent.parent
TABLE1 = [(1024, 1024), (1024, 512), (512, 512), (512, 256), (256, 256)]
STRIDED = [
    {"nonlinearity": "relu"},
    {"nonlinearity": "log-x2"},
    {"nonlinearity": "log-x"},
    {"pooling": "l2", "pool_size": 2},
    {"pooling": "l2", "pool_size": 4},
    {"pooling": "max", "pool_size": 2},
    {"pooling": "max", "pool_size": 4},
]
SR = 16000


# ----------------------------------------------------------------------------- layers


@pytest.mark.parametrize("length,stride", TABLE1)
def test_strided_convolution_is_conv1d(length, stride):
    torch.manual_seed(0)
    layer = StridedConv1d(32, length, stride)
    audio = torch.randn(3, 3 * SR + 123)
    expected = F.conv1d(audio[:, None], layer.weight[:, None], layer.bias, stride=stride)
    out = layer(audio)
    assert out.shape == expected.shape == (3, 32, layer.n_frames(audio.shape[1]))
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)


def test_stride_equal_to_length_frames_without_copying():
    layer = StridedConv1d(4, 256, 256)
    audio = torch.randn(2, 256 * 10 + 17)
    frames = layer.frames(audio)
    assert frames.shape == (2, 10, 256) and frames.data_ptr() == audio.data_ptr()
    torch.testing.assert_close(frames[1, 3], audio[1, 768:1024])


def test_strided_convolution_needs_a_whole_filter_of_audio():
    with pytest.raises(ValueError, match="needs at least that many samples"):
        StridedConv1d(4, 512, 256)(torch.zeros(1, 100))


def test_compressions_and_feature_pooling_compute_what_they_say():
    x = torch.tensor([[[-2.0, 0.5]], [[1.0, 0.0]]]).reshape(1, 2, 2)  # 2 filters, 2 steps
    torch.testing.assert_close(Compression("log-x2", 100.0)(x), torch.log1p(100.0 * x**2))
    torch.testing.assert_close(Compression("log-x", 100.0)(x), torch.log1p(100.0 * x.clamp(min=0)))
    l2 = FeaturePool("l2", 2)(x)
    torch.testing.assert_close(l2, torch.sqrt((x**2).sum(dim=1, keepdim=True) + 1e-8))
    torch.testing.assert_close(FeaturePool("max", 2)(x), x.amax(dim=1, keepdim=True))


# ----------------------------------------------------------------------------- the network at every grid point


def grid_points():
    for length, stride in TABLE1:
        yield {"input": "mel", "length": length, "stride": stride}
        yield {"input": "raw", "length": length, "stride": stride}
    for extra in STRIDED[1:]:
        yield {"input": "raw", "length": 1024, "stride": 1024, **extra}


@pytest.mark.parametrize("params", list(grid_points()), ids=lambda p: "-".join(str(v) for v in p.values()))
def test_shapes_at_every_grid_point(params):
    system = Dieleman2014CNN(**params)
    system.check_params()
    arch = system.architecture(n_classes=50)
    assert arch.frames == round(3.0 * SR / params["stride"])  # windows of about 3 s
    model = TagCNN(arch)
    if params["input"] == "mel":
        frontend = system.frontend()
        assert (frontend.n_mels, frontend.hop_length, frontend.win_length) == (128, params["stride"], params["length"])
        x = torch.randn(4, arch.frames, 128)
    else:
        x = torch.randn(4, arch.samples) * 0.1
        assert model.strided.n_frames(arch.samples) == arch.frames
    channels = arch.raw_filters // params.get("pool_size", 1) if params["input"] == "raw" else 128
    assert model.features(x).shape == (4, channels, arch.frames)
    assert model(x).shape == (4, 50)
    assert torch.isfinite(model(x)).all()


def test_a_window_too_short_for_the_trunk_says_how_to_fix_it():
    arch = Dieleman2014CNN(stride=1024, length=1024, window_seconds=1.0).architecture(5)
    with pytest.raises(ValueError, match="window_seconds"):
        TagCNN(arch)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"input": "mel", "pooling": "l2", "pool_size": 2}, "with input='mel'"),
        ({"input": "raw", "pooling": "l2", "pool_size": 2, "nonlinearity": "log-x"}, "leave nonlinearity"),
        ({"input": "raw", "pooling": "max"}, "pool_size is 1 exactly when"),
        ({"input": "raw", "pooling": "l2", "pool_size": 3}, "multiple of pool_size"),
        ({"input": "wave"}, "input must be one of mel, raw"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"length": 0}, "length must be a positive integer"),
    ],
)
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Dieleman2014CNN(**params).check_params()


# ----------------------------------------------------------------------------- windows


def test_windows_tile_clips_and_pad_short_ones():
    mel = Windows([np.ones((25, 3)), np.ones((4, 3))], frames=10)
    assert list(mel.tile_counts()) == [2, 1]  # 25 frames: windows at 0 and 10; the last 5 are dropped
    tiles = list(mel.tiles(chunk=2))
    assert [len(c) for _, c in tiles] == [2, 1] and list(np.concatenate([c for _, c in tiles])) == [0, 0, 1]
    assert tiles[1][0].shape == (1, 10, 3) and tiles[1][0][0, 4:].sum() == 0  # zero-padded to one window
    raw = Windows([np.arange(100, dtype=np.float32)], frames=3, stride=10, length=20, raw=True)
    assert raw.size == 40 and raw.starts(0) == 7 and list(raw.tile_counts()) == [3]
    np.testing.assert_array_equal(raw.window(0, 3), np.arange(30, 70))


def test_windows_read_memory_maps_in_place_and_band_statistics_stream(tmp_path):
    from mirbench.kit.windows import band_statistics

    clips = [np.random.default_rng(i).standard_normal((n, 4)).astype(np.float32) for i, n in enumerate((30, 50))]
    for i, clip in enumerate(clips):
        np.save(tmp_path / f"{i}.npy", clip)
    mapped = [np.load(tmp_path / f"{i}.npy", mmap_mode="r") for i in range(2)]
    source = Windows(mapped, frames=10)
    assert all(np.shares_memory(a, b) for a, b in zip(source.clips, mapped))  # nothing copied into memory
    mean, std = band_statistics(mapped)
    every = np.concatenate(clips).astype(np.float64)
    np.testing.assert_allclose(mean, every.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(std, every.std(axis=0), rtol=1e-9)


def test_sampled_windows_stay_inside_their_clips():
    clips = [np.arange(n, dtype=np.float32)[:, None] for n in (12, 30)]
    source = Windows(clips, frames=5)
    batch, which = source.sample(np.random.default_rng(0), 200)
    assert batch.shape == (200, 5, 1) and set(which) == {0, 1}
    assert all(np.all(np.diff(w[:, 0]) == 1) and w[-1, 0] < len(clips[i]) for w, i in zip(batch, which))


# ----------------------------------------------------------------------------- the system


class LabelOracle(torch.nn.Module):
    """Reads the tags a test clip carries from its first frame and answers them with certainty."""

    def __init__(self, arch):
        super().__init__()
        self.arch = arch

    def forward(self, x):
        return (x[:, 0, : self.arch.n_classes] * 2 - 1) * 50.0


def test_predicting_the_labels_exactly_scores_auc_one():
    rng = np.random.default_rng(0)
    truth = (rng.random((12, 5)) < 0.4).astype(int)
    truth[0], truth[1] = 1, 0  # every tag has a positive and a negative
    clips = [np.tile(np.pad(t, (0, 3)).astype(np.float32), (int(rng.integers(20, 40)), 1)) for t in truth]
    system = Dieleman2014CNN(window_seconds=10 * 256 / SR)
    system.model_, system.device_, system.multilabel_, system.n_classes_ = LabelOracle(system.architecture(5)), torch.device("cpu"), True, 5
    system.precision_ = "fp32"
    scores = system._clip_scores(Windows(clips, frames=10))
    np.testing.assert_allclose(scores, truth, atol=1e-12)
    assert roc_auc(truth, scores, average="macro") == 1.0


@pytest.mark.parametrize("input", ["mel", "raw"])
def test_system_meets_the_contract(input):
    assert len(check_system(Dieleman2014CNN, {"input": input})) == 5  # over its SMOKE_PARAMS


def test_a_trained_tiny_model_beats_chance_on_the_embedded_tags(tmp_path):
    from mirbench.datasets import open_dataset
    from mirbench.features import FeatureStore
    from mirbench.registry import protocols
    from mirbench.system import TrackSet

    dataset = open_dataset({"name": "corpus", "task": "tags", "clips_per_class": 8, "clip_seconds": 6.0, "progress": False})
    fold = protocols.get("stratified-kfold")(folds=4, proportions="k-fold", seed=0).folds(dataset)[0]
    store = FeatureStore(tmp_path / "cache")
    train, valid, test = (TrackSet(dataset, dataset.subset(ids), store) for ids in (fold.train, fold.valid, fold.test))
    system = Dieleman2014CNN(input="mel", length=512, stride=512, updates_per_epoch=100, max_epochs=3).fit(train, valid)
    auc = roc_auc(test.targets, system.predict(test), average="macro")
    assert auc > 0.6, auc
    info = system.training_info()
    assert info["updates"] == 300 and 0 <= info["best_update"] <= 300 and info["valid_auc"] > 0.5


def test_raw_models_report_their_filter_spectra():
    system = Dieleman2014CNN(input="raw", length=512, stride=512)
    system.model_ = TagCNN(system.architecture(3))
    spectra = system.diagnostics()["filter_spectra"]
    assert spectra["sample_rate"] == SR and np.asarray(spectra["spectra"]).shape == (32, 257)
    assert np.allclose(np.max(spectra["spectra"], axis=1), 1.0)
    mel = Dieleman2014CNN(input="mel")
    mel.model_ = TagCNN(mel.architecture(3))
    assert mel.diagnostics() == {}


# ----------------------------------------------------------------------------- suites


def test_mtat_suite_lays_out_the_three_tables():
    suite = load_suite(REPO / "suites" / "dieleman2014-mtat.toml")
    assert len(suite.variants) == 16
    tables = suite.report["tables"]
    assert [len(t["published"]) for t in tables] == [10, 3, 5]
    embedded = load_suite(REPO / "suites" / "dieleman2014-corpus.toml")
    assert embedded.dataset == {"name": "corpus", "task": "tags"}  # the MTAT parameters do not carry over
    assert [v.params for v in embedded.variants] == [
        {"updates_per_epoch": 500, "max_epochs": 8, **v.params} for v in suite.variants
    ]


def test_mtat_suite_runs_quick_on_the_tiny_tree(tmp_path, capsys):
    from tests.fixtures.mtat_tree import build_tiny_tree

    tree = build_tiny_tree(tmp_path / "data", seconds=3.0)
    out, rep = run_quick(REPO / "suites" / "dieleman2014-mtat.toml", tree.data_root, tmp_path, capsys)
    assert "16 trials: 0 already done, 16 ran ok, 0 failed" in out
    report = (rep / "dieleman2014-mtat-quick.md").read_text()
    for title in ("### Table 1: spectrograms versus raw audio", "### Table 2: nonlinearity", "### Table 3: feature pooling"):
        assert title in report
    table1 = re.findall(r"^\| (\d+) +\| (\d+) +\| ([\d.]+) +\| ([\d.]+) +\| ([\d.]+) +\| ([\d.]+) +\|$", report, re.M)
    assert [(int(a), int(b)) for a, b, *_ in table1] == TABLE1  # the paper's row order
    assert [(float(m), float(r)) for *_, m, _, r in table1][0] == (0.8690, 0.8366)  # published beside
    assert "## Per-tag ROC-AUC" in report and "## Learned filters" in report
    assert (rep / "dieleman2014-mtat-quick-filters.png").stat().st_size > 10_000
    assert (rep / "dieleman2014-mtat-quick-per-class.csv").read_text().startswith("variant,class,metric,mean,std,n")


def test_a_suite_param_no_system_takes_is_named(write_suite):
    path = write_suite(
        'version = "1"\nparams = { updates_per_epock = 5 }\n[dataset]\nname = "synthetic"\n'
        '[protocol]\nname = "stratified-kfold"\n[[systems]]\nname = "dieleman2014.cnn"\n'
    )
    with pytest.raises(SuiteError, match="'params.updates_per_epock'.*did you mean 'updates_per_epoch'"):
        load_suite(path)
