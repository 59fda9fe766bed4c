"""The shared training loop (early stopping, best weights, budgets, divergence) and the model cache."""

from __future__ import annotations

import json
import math

import pytest
import torch

from mirbench.kit import model_cache, training


class Scripted(torch.nn.Module):
    """A one-parameter model whose 'training' sets the parameter to a scripted value per epoch."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))


def scripted_run(values, **kwargs):
    """Train a Scripted model whose validation criterion after epoch e is values[e - 1] (epoch 0: +inf-ish)."""
    model = Scripted()
    model.w.data.fill_(100.0)  # the initial criterion: 100

    def epoch_fn(epoch):
        model.w.data.fill_(values[epoch - 1])
        return 1.0

    record = training.train(model, epoch_fn, lambda: model.w.item(), **kwargs)
    return model, record


def test_early_stopping_restores_the_best_weights():
    values = [5, 3, 4, 4, 4, 2.5, 9, 9, 9, 9, 9, 9]
    model, record = scripted_run(values, max_epochs=50, patience=4)
    assert record.best_epoch == 6 and record.best_valid == 2.5  # 3 epochs without improvement are tolerated
    assert record.epochs == 10 and record.stopped == "patience"  # the 4th after epoch 6 stops
    assert model.w.item() == 2.5
    assert [h["epoch"] for h in record.history] == list(range(1, 11))


def test_max_epochs_and_no_early_stopping():
    model, record = scripted_run([5, 4, 6, 7], max_epochs=4, patience=None)
    assert record.epochs == 4 and record.stopped == "max_epochs" and record.best_epoch == 2
    assert model.w.item() == 4
    _, keep_last = scripted_run([5, 4, 6, 7], max_epochs=4, patience=None, restore_best=False)
    assert keep_last.best_epoch == 2


def test_a_model_that_never_improves_is_returned_unchanged():
    model, record = scripted_run([200, 300], max_epochs=2, patience=5)
    assert record.best_epoch == 0 and model.w.item() == 100.0


def test_time_budget_stops_training():
    model, record = scripted_run(list(range(100, 0, -1)), max_epochs=100, patience=None, time_budget_s=0.0)
    assert record.epochs == 1 and record.stopped == "time_budget"


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_training_loss_names_the_epoch(bad):
    model = Scripted()
    losses = [1.0, 0.5, bad]
    with pytest.raises(RuntimeError, match=r"training loss is (nan|inf) at epoch 3"):
        training.train(model, lambda e: losses[e - 1], None, max_epochs=5)


def test_non_finite_validation_names_the_epoch():
    model = Scripted()
    values = iter([1.0, 0.5, math.nan])
    with pytest.raises(RuntimeError, match="validation criterion is nan at epoch 2"):
        training.train(model, lambda e: 1.0, lambda: next(values), max_epochs=5)


def test_sgd_on_a_linear_problem_converges_and_is_seeded():
    def run(seed):
        g = torch.Generator().manual_seed(0)
        X = torch.randn(256, 3, generator=g)
        y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.01 * torch.randn(256, generator=g)
        with training.seeded(seed):
            model = torch.nn.Linear(3, 1)
        loss_fn = lambda z, t: torch.nn.functional.mse_loss(z.squeeze(1), t)  # noqa: E731
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        gen = torch.Generator().manual_seed(seed)
        record = training.train(
            model,
            lambda e: training.sgd_epoch(model, opt, loss_fn, X, y, 32, gen),
            lambda: training.mean_loss(model, loss_fn, X, y, chunk=100),
            max_epochs=30,
            patience=5,
        )
        return model, record

    model, record = run(0)
    assert record.best_valid < 1e-3
    assert torch.allclose(model.weight.detach(), torch.tensor([[1.0, -2.0, 0.5]]), atol=0.02)
    again, _ = run(0)
    assert torch.equal(model.weight, again.weight)
    other, _ = run(1)
    assert not torch.equal(model.weight, other.weight)


def test_seeded_restores_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with training.seeded(7):
        torch.rand(10)
    assert torch.equal(torch.rand(3), expected)


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="patience"):
        training.train(Scripted(), lambda e: 1.0, max_epochs=2, patience=0)
    with pytest.raises(ValueError, match="empty"):
        training.mean_loss(torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, torch.zeros(0, 1), torch.zeros(0, 1))


# -- the model cache -------------------------------------------------------------------
def counting_trainer(value=1.0):
    calls = []

    def train_fn():
        calls.append(1)
        return {"w": torch.full((2,), value)}, {"seconds": 1.5, "epochs": 3}

    return train_fn, calls


def test_load_or_train_trains_once_per_key(tmp_path):
    train_fn, calls = counting_trainer()
    key = {"train": "abc", "seed": 0, "units": 50}
    state, info, cached = model_cache.load_or_train(tmp_path, key, train_fn)
    assert not cached and info == {"seconds": 1.5, "epochs": 3} and len(calls) == 1
    state2, info2, cached2 = model_cache.load_or_train(tmp_path, dict(reversed(list(key.items()))), train_fn)
    assert cached2 and len(calls) == 1 and info2 == info
    assert torch.equal(state2["w"], state["w"])
    entry = model_cache.entry_dir(tmp_path, key)
    assert json.loads((entry / "key.json").read_text()) == key
    assert sorted(p.name for p in entry.iterdir()) == ["info.json", "key.json", "model.pt"]
    _, _, cached3 = model_cache.load_or_train(tmp_path, {**key, "seed": 1}, train_fn)
    assert not cached3 and len(calls) == 2
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # temporary directories are renamed or removed


def test_no_cache_dir_always_trains(tmp_path):
    train_fn, calls = counting_trainer()
    for _ in range(2):
        _, _, cached = model_cache.load_or_train(None, {"k": 1}, train_fn)
        assert not cached
    assert len(calls) == 2


def test_a_damaged_entry_is_retrained(tmp_path):
    train_fn, calls = counting_trainer(2.0)
    key = {"k": 1}
    model_cache.load_or_train(tmp_path, key, train_fn)
    (model_cache.entry_dir(tmp_path, key) / "model.pt").write_bytes(b"not a torch file")
    state, _, cached = model_cache.load_or_train(tmp_path, key, train_fn)
    assert not cached and len(calls) == 2 and torch.equal(state["w"], torch.full((2,), 2.0))
    assert model_cache.load_or_train(tmp_path, key, train_fn)[2]


def test_a_failed_training_stores_nothing(tmp_path):
    def boom():
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        model_cache.load_or_train(tmp_path, {"k": 2}, boom)
    assert not model_cache.entry_dir(tmp_path, {"k": 2}).exists()


def test_key_hash_is_stable_and_order_free():
    assert model_cache.key_hash({"a": 1, "b": [1, 2]}) == model_cache.key_hash({"b": [1, 2], "a": 1})
    assert model_cache.key_hash({"a": 1}) != model_cache.key_hash({"a": 2})
