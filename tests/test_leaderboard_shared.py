"""Issue 19: a variant that reused a cached network is charged that network's training time, marked shared."""

from __future__ import annotations

import time

import pytest
import torch

from mirbench import leaderboard, record as record_schema
from mirbench.kit import model_cache
from tests.test_leaderboard import entry, record


def with_network(rec: dict, fit_s: float, train_s: float | None, shared: bool, legacy: bool = False) -> dict:
    rec = dict(rec, timings={"fit_s": fit_s})
    if train_s is not None:
        rec["training"] = ({"mlp_train_s": train_s, "cached": int(shared)} if legacy
                           else {"network_train_s": train_s, "network_shared": shared})
    return rec


def board(records: list[dict]) -> tuple[dict[str, dict], str]:
    rows = [r for r in leaderboard.rows([entry("local:sigtia", records)]) if r["metric"] == "accuracy"]
    return {r["system"]: r for r in rows}, leaderboard.markdown(rows)


@pytest.mark.parametrize("legacy", [False, True])  # legacy: what sigtia2014 records held before network_* keys
def test_a_reused_network_is_charged_to_every_variant_and_marked_shared(legacy):
    records = []
    for fold in (0, 1):
        records += [
            with_network(record("MLP", fold, 0.7, params={"layer": 1}), 43.0, 40.0 + fold, False, legacy),  # trained it
            with_network(record("MLP", fold, 0.6, params={"layer": 2}), 3.0, 40.0 + fold, True, legacy),  # reused it
            with_network(record("PMSC", fold, 0.5), 5.0, None, False),
        ]
    rows, md = board(records)
    assert rows["MLP (layer=2)"]["train_s"] == pytest.approx(43.5)  # 3 s of its own + 40.5 s of the network
    assert rows["MLP (layer=1)"]["train_s"] == pytest.approx(43.0)  # its fit already held the training
    assert rows["MLP (layer=1)"]["train_shared"] and rows["MLP (layer=2)"]["train_shared"]
    assert not rows["PMSC"]["train_shared"] and rows["PMSC"]["train_s"] == pytest.approx(5.0)
    line = next(line for line in md.splitlines() if "MLP (layer=2)" in line)
    assert "43.5 (shared)" in line
    assert "(shared)" not in next(line for line in md.splitlines() if "| PMSC" in line)
    assert "(shared)" in md.split("## ")[0]  # the line under the title says what it means


def test_the_model_cache_stores_the_training_time_and_hands_it_to_a_reuser(tmp_path):
    def train():
        time.sleep(0.05)
        return {"w": torch.zeros(1)}, {"epochs": 1}

    key = {"k": 1}
    _, info, cached = model_cache.load_or_train(tmp_path, key, train)
    assert not cached and info == {"epochs": 1}  # the trainer's info, unchanged
    trained = model_cache.network_timing(tmp_path, key, cached)
    assert trained["network_train_s"] >= 0.05 and trained["network_shared"] is False
    _, again, cached = model_cache.load_or_train(tmp_path, key, train)
    assert cached and again == {"epochs": 1}
    assert model_cache.network_timing(tmp_path, key, cached) == {**trained, "network_shared": True}
    assert model_cache.network_timing(None, key, False) == {"network_shared": False}
    (model_cache.entry_dir(tmp_path, key) / "info.json").write_text('{"epochs": 1}')  # stored before the time was
    assert model_cache.network_timing(tmp_path, key, True) == {"network_shared": True}


def test_the_record_schema_declares_the_network_keys():
    training = record_schema.SCHEMA["properties"]["training"]["properties"]
    assert "number" in training["network_train_s"]["type"] and training["network_shared"]["type"] == "boolean"
    assert record_schema.SCHEMA["properties"]["training"].get("additionalProperties", True) is not False
