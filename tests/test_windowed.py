"""The window-trained network base: one-pass epochs, training time per window, deterministic dropout."""

from __future__ import annotations

import numpy as np
import pytest

from mirbench_baselines.choi2017 import Choi2017CNN
from mirbench.features import FeatureStore
from mirbench.system import TrackSet
from mirbench.testing import synthetic_dataset


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("windowed")
    dataset = synthetic_dataset(root / "audio", per_class=6)  # 18 tracks of 2 s
    store = FeatureStore(root / "cache")
    tracks = list(dataset.tracks)  # listed class by class: interleave, so both parts hold every class
    held_out = tracks[4::6] + tracks[5::6]
    return TrackSet(dataset, [t for t in tracks if t not in held_out], store), TrackSet(dataset, held_out, store)


def small(**kw) -> Choi2017CNN:
    return Choi2017CNN(**{"arch": "crnn", "budget": 20_000, "window_frames": 40, "batch_size": 5, "max_epochs": 3,
                          "patience": None, **kw})


def test_an_epoch_is_one_pass_over_the_training_clips_unless_told(parts):
    train, valid = parts
    info = small().fit(train, valid).training_info()
    assert info["updates"] == 3 * 3  # ceil(12 clips / 5) minibatches per epoch, 3 epochs
    info = small(updates_per_epoch=2).fit(train, valid).training_info()
    assert info["updates"] == 3 * 2


def test_training_time_per_window_leaves_validation_out(parts):
    train, valid = parts
    info = small().fit(train, valid).training_info()
    windows = info["updates"] * 5
    assert 0 < info["s_per_window"] * windows <= info["train_s"]  # train_s also holds the validation passes
    assert info["windows_per_s"] == pytest.approx(1 / info["s_per_window"])


def test_dropout_is_part_of_the_seed(parts):
    train, valid = parts
    a, b = (small(random_state=3).fit(train, valid).predict(valid) for _ in range(2))
    c = small(random_state=4).fit(train, valid).predict(valid)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_validation_set_of_one_class_selects_on_log_loss(parts):
    train, valid = parts
    one_class = valid.with_tracks([t for t in valid.tracks if t.labels == valid.tracks[0].labels])
    system = small().fit(train, one_class)
    assert system.criterion_ == "log_loss" and system.training_info()["valid_auc"] is None
    assert small().fit(train, valid).criterion_ == "roc_auc"
