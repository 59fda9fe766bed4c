"""Frame-to-track helpers: pooling, windows, votes."""

from __future__ import annotations

import numpy as np
import pytest

from mirbench.kit.aggregate import majority_vote, mean_scores, pool, split_by_track, windows


def test_pool_concatenates_statistics():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_allclose(pool(x, ("mean", "var")), np.concatenate([x.mean(0), x.var(0)]))


def test_pool_rejects_unknown_statistic_and_empty_input():
    with pytest.raises(ValueError, match="unknown statistics"):
        pool(np.ones((2, 2)), ("median",))
    with pytest.raises(ValueError, match="empty"):
        pool(np.ones((0, 2)))


def test_windows_count_and_short_tracks():
    x = np.random.default_rng(0).standard_normal((100, 2))
    w = windows(x, size=20, hop=10, stats=("mean",))
    assert w.shape == (9, 2)
    np.testing.assert_allclose(w[1], x[10:30].mean(0))
    assert windows(x[:5], size=20, hop=10).shape == (1, 4)  # shorter than one window: one window


def test_votes_and_means():
    a = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    np.testing.assert_allclose(mean_scores([a])[0], a.mean(0))
    votes = majority_vote([a])[0]
    assert votes.argmax() == 0 and votes[0] == pytest.approx(2 / 3, abs=1e-5)


def test_split_by_track_inverts_concatenation():
    parts = split_by_track(np.arange(10), [3, 0, 7])
    assert [len(p) for p in parts] == [3, 0, 7]
