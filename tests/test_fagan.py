"""Fagan's GTZAN zoo: 3 s segments that never leak across splits, every architecture on 3 s input, the study's
frames, 1D AlexNet/VGG16 and front dropout, GAP class maps, the registered systems, and the suites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mirbench_baselines.fagan import (
    FaganAlexNet, FaganCNN1D, FaganCNN2D, FaganLSTM, FaganRCNN, FaganSampleCNN, FaganVGG16,
)  # fmt: skip
from mirbench_baselines.fagan.blocks import GAPHead
from mirbench.kit.nn import FlexibleMaxPool
from mirbench.datasets import open_dataset
from mirbench.features import FeatureStore
from mirbench.registry import protocols, systems
from mirbench.suite import SuiteError, load_suite
from mirbench.system import TrackSet
from mirbench.testing import check_system, synthetic_dataset
from mirbench.kit.windows import Windows
from tests.fixtures.gtzan_tree import write_gtzan_tree
from tests.helpers import grid_under, run_quick

REPO = Path(__file__).resolve().parent.parent
FAMILIES = ["cnn1d", "cnn2d", "alexnet", "vgg16", "samplecnn", "lstm", "rcnn"]
SMALL = {"width": 4, "hidden": 16, "rnn_hidden": 8}  # every structure of the paper's networks, few channels
SR = 22050


def zoo() -> list[tuple[str, str, dict]]:
    """(label, system, params) of every architecture in the GTZAN suite."""
    suite = load_suite(REPO / "suites" / "fagan-gtzan.toml")
    return [(v.label, v.system, v.params) for v in suite.variants]


def small(name: str, **params):
    factory = systems.get(name)
    accepted = factory().get_params()
    return factory(**{k: v for k, v in SMALL.items() if k in accepted}, **params)


# ----------------------------------------------------------------------------- segments


def test_a_30_s_clip_is_ten_3_s_segments_and_a_short_one_still_ten():
    frames = 129  # 3 s at hop 512
    clips = [np.zeros((1292, 2)), np.zeros((1288, 2)), np.zeros((60, 2))]  # 30 s, 29.9 s, under a segment
    w = Windows(clips, frames, segments=True)
    assert list(w.tile_counts()) == [10, 10, 1]
    assert w.starts_of(1)[-1] == 1288 - frames  # the last segment ends with the clip instead of being dropped
    assert w.epoch_size() == 21
    raw = Windows([np.zeros(30 * SR - 100)], 3 * SR, raw=True, segments=True)
    assert list(raw.tile_counts()) == [10] and raw.window(0, raw.starts_of(0)[-1]).shape == (3 * SR,)


def test_an_epoch_draws_every_segment_once_in_a_seeded_order():
    clips = [np.arange(40, dtype=float)[:, None] + 100 * i for i in range(3)]  # 3 clips of 4 segments of 10
    w = Windows(clips, 10, segments=True)
    rng = np.random.default_rng(0)
    batch, owners = w.sample(rng, 12)
    firsts = sorted(float(b[0, 0]) for b in batch)
    assert firsts == sorted(100 * i + 10 * k for i in range(3) for k in range(4))  # each segment exactly once
    assert all(float(b[0, 0]) // 100 == clip for b, clip in zip(batch, owners))
    again, _ = Windows(clips, 10, segments=True).sample(np.random.default_rng(0), 12)
    np.testing.assert_array_equal(batch, again)


@pytest.fixture(scope="module")
def gtzan_fold(tmp_path_factory):
    """One fold of gtzan-random-4fold on a tiny GTZAN tree of 30 s clips (2 per genre present)."""
    root = tmp_path_factory.mktemp("fagan-gtzan")
    write_gtzan_tree(root / "gtzan", per_genre=2, seconds=30.0, corrupt=())
    dataset = open_dataset({"name": "gtzan"}, str(root))
    present = {t.id for t in dataset.tracks if Path(t.path).exists()}
    fold = protocols.get("gtzan-random-4fold")(seed=0).folds(dataset)[0]
    store = FeatureStore(root / "cache")
    return {
        name: TrackSet(dataset, dataset.subset([i for i in ids if i in present]), store, "cpu")
        for name, ids in (("train", fold.train), ("valid", fold.valid), ("test", fold.test))
    }


def test_segments_never_take_a_track_across_splits(gtzan_fold, monkeypatch):
    parts = gtzan_fold
    assert all(len(p) for p in parts.values())
    seen: dict[int, list[str]] = {}  # id(Windows) -> the track of each segment drawn or tiled from it
    owners: dict[int, list[str]] = {}
    alive: list[Windows] = []  # a freed Windows' id could be reused by the next one, merging two splits' keys
    original_init, original_sample, original_tiles = Windows.__init__, Windows.sample, Windows.tiles

    def init(self, clips, *args, **kwargs):
        original_init(self, clips, *args, **kwargs)
        owners[id(self)] = current[0]
        alive.append(self)

    def sample(self, rng, n, out=None):
        batch, clips = original_sample(self, rng, n, out)
        seen.setdefault(id(self), []).extend(owners[id(self)][c] for c in clips)
        return batch, clips

    def tiles(self, chunk):
        for batch, clips in original_tiles(self, chunk):
            seen.setdefault(id(self), []).extend(owners[id(self)][c] for c in clips)
            yield batch, clips

    current = [None]
    system = small("fagan.cnn1d", n_mels=32, max_epochs=1)
    original_windows = system.windows

    def windows(tracks):
        current[0] = tracks.ids
        return original_windows(tracks)

    monkeypatch.setattr(Windows, "__init__", init)
    monkeypatch.setattr(Windows, "sample", sample)
    monkeypatch.setattr(Windows, "tiles", tiles)
    monkeypatch.setattr(system, "windows", windows)
    system.fit(parts["train"], parts["valid"])
    system.predict(parts["test"])
    used = {name: set() for name in parts}
    for key, tracks in seen.items():
        part = next(n for n, p in parts.items() if set(tracks) <= set(p.ids))  # every window set is one split's
        used[part] |= set(tracks)
        assert all(tracks.count(t) % 10 == 0 for t in set(tracks)) or part == "train"  # ten segments per 30 s track
    assert used["train"] == set(parts["train"].ids)  # every training track's segments, and only those, train
    assert used["test"] == set(parts["test"].ids)
    assert not used["train"] & (set(parts["test"].ids) | set(parts["valid"].ids))


# ----------------------------------------------------------------------------- architectures


@pytest.mark.parametrize("label,name,params", zoo(), ids=[v[0] for v in zoo()])
def test_every_architecture_maps_3_s_segments_to_class_logits(label, name, params):
    system = small(name, **params)
    system.check_params()
    frames = system.segment_frames()
    assert frames == (3 * SR if system.raw else 258 if name in ("fagan.cnn1d", "fagan.lstm") else 129)  # hop 256 / 512
    x = torch.randn(2, frames) if system.raw else torch.randn(2, frames, 128)
    model = system.build_network(10, Windows([x[0].numpy()], frames, raw=system.raw, segments=True))
    logits = model(x)
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())  # every layer is on the path to the output


def test_cnn1d_and_lstm_read_512_sample_frames_at_half_a_frame_hop_from_a_cache_of_their_own():
    """The study: "for LSTM and CNN 1D I used size of 512", 1024 for the other mel networks, a 50 % hop."""
    for system in (FaganCNN1D(), FaganLSTM()):
        assert (system.n_fft, system.hop, system.segment_frames()) == (512, 256, 258)
        assert system.frontend().params()["n_fft"] == 512 and system.frontend().params()["hop_length"] == 256
    for system in (FaganCNN2D(), FaganRCNN(), FaganAlexNet(), FaganVGG16()):
        assert (system.n_fft, system.hop, system.segment_frames()) == (1024, 512, 129)
    earlier = FaganCNN1D(n_fft=1024)  # the frame a parameter: version 1's frames, hop following at half
    assert (earlier.hop, earlier.segment_frames()) == (512, 129)
    assert FaganCNN1D().frontend().key() != earlier.frontend().key() == FaganCNN2D().frontend().key()
    assert FaganLSTM().frontend().key() == FaganCNN1D().frontend().key()
    assert FaganCNN1D(n_fft=512, hop_length=128).segment_frames() == 517


def layers(module: nn.Module) -> list[nn.Module]:
    """A network part's leaf modules, in order."""
    return [m for m in module.modules() if not list(m.children())]


def convs(model) -> list[nn.Module]:
    return [m for m in layers(model) if isinstance(m, (nn.Conv1d, nn.Conv2d))]


@pytest.mark.parametrize("name", ["fagan.alexnet", "fagan.vgg16"])
def test_alexnet_and_vgg16_convolve_along_time_by_default_and_build_the_2d_networks_on_request(name):
    frames = 129
    one = small(name, n_mels=64).build_network(10, Windows([np.zeros((frames, 64))], frames, segments=True))
    two = small(name, n_mels=64, conv="2d").build_network(10, Windows([np.zeros((frames, 64))], frames, segments=True))
    assert all(isinstance(c, nn.Conv1d) for c in convs(one.trunk)) and one.layout == "mel-1d"
    assert all(isinstance(c, nn.Conv2d) for c in convs(two.trunk)) and two.layout == "mel-2d"
    assert convs(one.trunk)[0].in_channels == 64 and convs(two.trunk)[0].in_channels == 1  # mel bands as channels
    kernels = [c.kernel_size[0] for c in convs(one.trunk)]
    assert kernels == [c.kernel_size[0] for c in convs(two.trunk)]  # the same layer pattern in 1D and 2D
    assert [c.out_channels for c in convs(one.trunk)] == [c.out_channels for c in convs(two.trunk)]
    assert [c.kernel_size for c in convs(two.trunk)] == [(k, k) for k in kernels]
    pools = [m for m in layers(one.trunk) if isinstance(m, FlexibleMaxPool)]
    if name == "fagan.alexnet":
        assert kernels == [11, 5, 3, 3, 3] and convs(one.trunk)[0].stride == (4,)
        assert [(p.kernel, p.stride) for p in pools] == [((3,), (2,))] * 3
    else:
        assert kernels == [3] * 13 and [p.kernel for p in pools] == [(2,)] * 5
        assert [c.out_channels for c in convs(one.trunk)] == [4] * 2 + [8] * 2 + [16] * 3 + [32] * 6
    torch.manual_seed(0)
    assert one(torch.randn(2, frames, 64)).shape == (2, 10)


CONV_TRUNKS = [
    ("fagan.cnn1d", {}), ("fagan.cnn1d", {"downsample": "stride"}), ("fagan.cnn2d", {}), ("fagan.alexnet", {}),
    ("fagan.vgg16", {}), ("fagan.alexnet", {"conv": "2d"}), ("fagan.samplecnn", {}), ("fagan.rcnn", {}),
    ("fagan.rcnn", {"conv": "2d", "downsample": "stride"}), ("fagan.rcnn", {"input": "raw"}),
]  # fmt: skip


@pytest.mark.parametrize("name,params", CONV_TRUNKS)
def test_one_dropout_of_0_1_follows_the_first_downsampling_of_every_conv_trunk_and_none_at_0(name, params):
    """The study: 0.1 "at front of the CNN networks" was best, "after maxpooling"; at every layer far worse."""
    def trunk(**extra):
        system = small(name, **params, **extra)
        frames = system.segment_frames()
        shape = (frames,) if system.raw else (frames, 128)
        return system.build_network(10, Windows([np.zeros(shape)], frames, raw=system.raw, segments=True)).trunk

    leaves = layers(trunk())
    drops = [i for i, m in enumerate(leaves) if isinstance(m, nn.Dropout)]
    assert len(drops) == 1 and leaves[drops[0]].p == 0.1
    before = leaves[: drops[0]]
    if params.get("downsample") == "stride":  # the ACN block: conv -> BN -> ReLU -> strided conv -> BN -> ReLU
        strided = [m for m in before if isinstance(m, (nn.Conv1d, nn.Conv2d)) and max(m.stride) > 1]
        assert len(strided) == 1 and before[-3] is strided[0] and len(convs(nn.Sequential(*before))) == 2
    else:
        pools = [i for i, m in enumerate(leaves) if isinstance(m, FlexibleMaxPool)]
        assert drops[0] == pools[0] + 1  # right after the first max-pool
    assert not any(isinstance(m, nn.Dropout) for m in layers(trunk(conv_dropout=0.0)))


def test_the_lstm_has_no_convolution_and_so_no_conv_dropout():
    assert "conv_dropout" not in FaganLSTM().get_params()
    assert all("conv_dropout" in cls().get_params() for cls in (FaganCNN1D, FaganAlexNet, FaganSampleCNN, FaganRCNN))


@pytest.mark.parametrize("name,params", [
    ("fagan.cnn1d", {}), ("fagan.cnn2d", {"downsample": "stride"}), ("fagan.samplecnn", {}),
    ("fagan.rcnn", {}), ("fagan.rcnn", {"conv": "2d"}),
])  # fmt: skip
def test_gap_logits_are_the_class_maps_averaged(name, params):
    system = small(name, head="gap", **params)
    frames = system.segment_frames()
    x = torch.randn(3, frames) if system.raw else torch.randn(3, frames, 128)
    model = system.build_network(6, Windows([x[0].numpy()], frames, raw=system.raw, segments=True)).eval()
    maps = model.class_maps(x)
    assert maps.shape[:2] == (3, 6) and maps[0, 0].numel() > 1  # one map per class, over several positions
    torch.testing.assert_close(model(x), maps.flatten(2).mean(dim=-1))


def test_a_gap_head_averages_each_class_map_over_every_position():
    head = GAPHead(2, 4, 3).eval()
    maps = torch.arange(3 * 2 * 5, dtype=torch.float32).reshape(1, 3, 2, 5)
    head.class_maps = lambda x: maps  # the averaging alone
    torch.testing.assert_close(head(torch.zeros(1, 4, 2, 5)), torch.tensor([[4.5, 14.5, 24.5]]))


def test_fc_heads_need_the_fixed_segment_and_say_no_class_maps():
    system = small("fagan.cnn1d", head="fc")
    model = system.build_network(10, Windows([np.zeros((129, 128))], 129, segments=True))
    with pytest.raises(TypeError, match="head='gap'"):
        model.class_maps(torch.zeros(1, 129, 128))


def test_weights_start_xavier_and_he_with_zero_biases():
    model = small("fagan.cnn1d", head="fc").build_network(10, Windows([np.zeros((129, 128))], 129, segments=True))
    conv, linear = model.trunk[0][0].requires_grad_(False), model.head[-1].requires_grad_(False)
    assert float(conv.weight.std()) == pytest.approx((2 / (128 * 3)) ** 0.5, rel=0.2)  # He: std sqrt(2 / fan_in)
    bound = (6 / (linear.in_features + linear.out_features)) ** 0.5  # Xavier uniform
    assert float(linear.weight.abs().max()) <= bound and float(linear.weight.abs().max()) > 0.8 * bound
    assert not any(float(m.bias.abs().max()) for m in (conv, linear))


# ----------------------------------------------------------------------------- systems


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_is_registered_and_meets_the_contract(family):
    check_system(systems.get(f"fagan.{family}"), tasks=("single-label",))


def test_a_family_takes_only_the_parameters_it_reads():
    assert "cell" in FaganLSTM().get_params() and "cell" not in FaganCNN1D().get_params()
    assert "n_mels" not in FaganSampleCNN().get_params() and "strided" in FaganSampleCNN().get_params()
    with pytest.raises(TypeError, match="unexpected parameters \\['cell'\\]"):
        FaganCNN1D(cell="gru")


@pytest.mark.parametrize("params,message", [
    ({"head": "max"}, "head must be one of"),
    ({"cell": "rnn"}, "cell must be one of"),
    ({"input": "raw", "conv": "2d"}, "input='raw' takes the 1D SampleCNN trunk"),
    ({"aggregate": "median"}, "aggregate must be one of mean, vote"),
    ({"rnn_layers": 0}, "rnn_layers"),
    ({"dropout": 1.0}, "dropout must be in"),
    ({"conv_dropout": -0.1}, "conv_dropout must be in"),
    ({"hop_length": 0}, "hop_length must be a positive integer"),
])  # fmt: skip
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        FaganRCNN(**params).check_params()


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    root = tmp_path_factory.mktemp("fagan-tones")
    dataset = synthetic_dataset(root / "audio", per_class=6, seconds=6.0)  # two 3 s segments per track
    store = FeatureStore(root / "cache")
    tracks = list(dataset.tracks)
    held_out = tracks[4::6] + tracks[5::6]
    train = TrackSet(dataset, [t for t in tracks if t not in held_out], store)
    return train, TrackSet(dataset, held_out, store)


def test_votes_and_means_score_tracks_and_train_valid_accuracy_is_reported(tones):
    train, valid = tones
    mean = small("fagan.cnn1d", n_mels=32, max_epochs=3, batch_size=8).fit(train, valid)
    vote = small("fagan.cnn1d", n_mels=32, max_epochs=3, batch_size=8, aggregate="vote").fit(train, valid)
    votes = vote.predict(valid)
    np.testing.assert_allclose(np.round(votes * 2) / 2, votes, atol=1e-5)  # two segments: shares of 0, 1/2 or 1
    np.testing.assert_allclose(mean.predict(valid).sum(axis=1), 1.0)
    info = mean.training_info()
    assert info["updates"] == 3 * 3  # an epoch is one pass over 12 tracks x 2 segments in batches of 8
    assert 0 <= info["train_accuracy"] <= 1 and 0 <= info["valid_accuracy"] <= 1
    assert info["valid_accuracy"] == pytest.approx(np.mean(mean.predict(valid).argmax(1) == valid.targets))


# ----------------------------------------------------------------------------- suites


def test_gtzan_suite_lists_the_studys_tables_with_their_numbers():
    suite = load_suite(REPO / "suites" / "fagan-gtzan.toml")
    labels = [v.label for v in suite.variants]
    assert len(labels) == len(set(labels)) == 22
    assert {v.system for v in suite.variants} == {f"fagan.{f}" for f in FAMILIES}
    published = {(p["system"], p["metric"]): p["value"] for p in suite.data["report"]["published"]}
    assert len(published) == 21 * 3
    assert published[("1D CNN (GAP)", "accuracy")] == 0.941
    assert published[("ACN CNN 1D (GAP)", "accuracy")] == 0.910
    assert published[("RCNN 1D (GAP)", "accuracy")] == 0.904
    assert published[("SampleCNN (GAP)", "accuracy")] == 0.766
    assert published[("2D ACN CNN", "accuracy")] == 0.850
    assert suite.protocol["name"] == "gtzan-random-4fold"


def test_fault_filtered_and_embedded_suites_run_the_same_zoo():
    base = load_suite(REPO / "suites" / "fagan-gtzan.toml")
    for name, protocol in (("fagan-gtzan-fault-filtered", "gtzan-fault-filtered"), ("fagan-corpus", "stratified-kfold")):
        suite = load_suite(REPO / "suites" / f"{name}.toml")
        assert suite.protocol["name"] == protocol
        assert [v.label for v in suite.variants] == [v.label for v in base.variants]
        assert suite.data["report"]["published"] == base.data["report"]["published"]
    corpus = load_suite(REPO / "suites" / "fagan-corpus.toml")
    assert corpus.dataset == {"name": "corpus", "task": "style"}


def test_a_parameter_a_family_does_not_read_is_a_suite_error(write_suite):
    path = write_suite(
        'name = "x"\nversion = "1"\n[dataset]\nname = "synthetic"\n[protocol]\nname = "stratified-kfold"\n'
        '[[systems]]\nname = "fagan.cnn1d"\nparams = { cell = "gru" }\n'
    )
    with pytest.raises(SuiteError, match="has no parameter 'cell'"):
        load_suite(path)


def test_gtzan_suite_runs_quick_on_the_tiny_tree(tmp_path, capsys):
    write_gtzan_tree(tmp_path / "data" / "gtzan", per_genre=4, seconds=3.5, corrupt=())
    stdout, reports = run_quick(REPO / "suites" / "fagan-gtzan.toml", tmp_path / "data", tmp_path, capsys)
    assert "22 ran ok, 0 failed" in stdout
    text = (reports / "fagan-gtzan-quick.md").read_text()
    rows = grid_under(text, "## Results")
    header = rows[0]
    assert header[:4] == ["System", "train_accuracy", "train_accuracy (published)", "valid_accuracy"]
    assert {"accuracy (published)", "parameters", "fit_s"} <= set(header)
    body = {r[0]: r for r in rows[1:]}
    assert len(body) == 22 and body["1D CNN (GAP)"][header.index("accuracy (published)")] == "0.941"
    assert [r[0] for r in rows[1:3]] == ["AlexNet", "VGG16"]  # the study's order


SHARED = REPO.parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "gtzan").is_dir(), reason="../shared/data is not available")
def test_fault_filtered_suite_runs_quick_on_the_published_lists(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MIRBENCH_SPLITS", str(SHARED))
    write_gtzan_tree(tmp_path / "data" / "gtzan", per_genre=12, seconds=3.2, corrupt=())
    stdout, reports = run_quick(REPO / "suites" / "fagan-gtzan-fault-filtered.toml", tmp_path / "data", tmp_path, capsys)
    assert "22 ran ok, 0 failed" in stdout
    text = (reports / "fagan-gtzan-fault-filtered-quick.md").read_text()
    assert "**Protocol**: gtzan-fault-filtered" in text and len(grid_under(text, "## Results")) == 23
