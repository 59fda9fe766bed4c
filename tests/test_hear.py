"""Issue #20: the `hear` system evaluates any HEAR 2021 module: cached chunk embeddings, pooled, then a probe."""

from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from mirbench.errors import InputError
from mirbench.features import FeatureStore
from mirbench.metrics import accuracy, roc_auc
from mirbench.system import TrackSet
from mirbench.testing import synthetic_dataset, system_checks
from mirbench_baselines.hear import HEARSystem
from mirbench_baselines.hear.embeddings import HEAREmbeddings, pool_chunks

REPO = Path(__file__).resolve().parent.parent
TINY = "tests.fixtures.tiny_hear"
MLP_GRID = {"hidden_dim": 32, "lr": [1e-2, 1e-3], "max_epochs": 40, "patience": 10}  # the kit's MLP, small enough for seconds


@pytest.fixture(autouse=True)
def one_thread():
    """Small torch work on one thread: on a busy machine, more threads only wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny():
    """The tiny HEAR module as currently imported (a test may drop it from sys.modules)."""
    return importlib.import_module(TINY)


def calls() -> dict:
    return dict(tiny().CALLS)


def splits(tmp_path, task="single-label", per_class=8, cache="cache", **kwargs):
    ds = synthetic_dataset(tmp_path / f"data-{task}", task=task, per_class=per_class, **kwargs)
    store = FeatureStore(tmp_path / cache)
    parts = [[t for i, t in enumerate(ds.tracks) if i % 4 in part] for part in ((0, 1), (2,), (3,))]
    return tuple(TrackSet(ds, p, store) for p in parts)


def hear(**params) -> HEARSystem:
    return HEARSystem(**{"module": TINY, "chunk_seconds": 1.0, **params})


# -- the HEAR API and its errors ----------------------------------------------------------------------------------
def test_the_tiny_module_meets_the_hear_api():
    module = tiny()
    model = module.load_model()
    audio = 0.1 * torch.randn(3, 8000, generator=torch.Generator().manual_seed(1))
    emb, times = module.get_timestamp_embeddings(audio, model)
    assert emb.shape == (3, 51, model.timestamp_embedding_size) and times.shape == (3, 51)
    assert torch.allclose(times[0, :3], torch.tensor([0.0, 10.0, 20.0]))
    scene = module.get_scene_embeddings(audio, model)
    assert scene.shape == (3, model.scene_embedding_size) and model.scene_embedding_size != model.timestamp_embedding_size
    assert torch.equal(scene, module.get_scene_embeddings(audio, module.load_model()))  # deterministic
    assert torch.allclose(scene[:, : model.timestamp_embedding_size], emb.mean(dim=1))


def fake_module(monkeypatch, name: str, **attrs) -> None:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_bad_params_are_one_clear_line(tmp_path, monkeypatch):
    train, valid, _ = splits(tmp_path, per_class=2)
    cases = [
        (hear(probe="knn"), ValueError, r"probe must be one of logreg, mlp, svm, got 'knn'"),
        (hear(probe="logreg", probe_grid={"max_iters": 5}), ValueError, r"has no parameter 'max_iters' — did you mean 'max_iter'\?"),
        (hear(probe="mlp", probe_grid={"lr": [0.0]}), ValueError, r"probe_grid.lr must be a positive number"),
        (hear(pool="median"), ValueError, r"pool must be one of mean, max"),
        (hear(chunk_seconds=0), ValueError, r"chunk_seconds must be a positive number"),
        (hear(module="no_such_hear_module.sub"), InputError,
         r"HEAR module 'no_such_hear_module.sub' cannot be imported .*pip install no_such_hear_module"),
        (hear(module="half_hear"), InputError, r"'half_hear' does not implement the HEAR API: it has no get_timestamp_embeddings\(\)"),
        (hear(module="attr_less_hear"), InputError, r"'attr_less_hear': its model's sample_rate is None, not a positive"),
        (hear(weights=str(tmp_path / "missing.pt")), InputError, r"weights file .*missing.pt not found"),
    ]
    fake_module(monkeypatch, "half_hear", load_model=lambda path="": None, get_scene_embeddings=lambda a, m: None)
    fake_module(monkeypatch, "attr_less_hear", load_model=lambda path="": object(),
                get_scene_embeddings=lambda a, m: None, get_timestamp_embeddings=lambda a, m: None)
    for system, error, message in cases:
        with pytest.raises(error, match=message) as caught:
            system.fit(train, valid)
        assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="probe must be one of"):
        hear(probe="knn").check_params()  # a suite is refused before it runs


def test_the_module_is_imported_only_when_the_system_fits(tmp_path, monkeypatch):
    train, valid, _ = splits(tmp_path, per_class=2)
    monkeypatch.delitem(sys.modules, TINY, raising=False)
    system = hear()
    system.check_params()
    system.get_params()
    assert TINY not in sys.modules
    system.fit(train, valid)
    assert TINY in sys.modules


# -- chunks, pooling, batching, sample rate ------------------------------------------------------------------------
def frontend(chunk_seconds: float, batch_size: int = 16) -> HEAREmbeddings:
    return HEAREmbeddings(TINY, "1.0", "", "", 16000, 24, chunk_seconds, batch_size)


def test_tracks_are_cut_into_chunks_and_short_tracks_are_one_chunk():
    fe = frontend(2.0)
    assert fe.chunks(16000) == [(0, 16000)]  # shorter than a chunk: one chunk, its own length
    assert fe.chunks(64000) == [(0, 32000), (32000, 64000)]
    assert fe.chunks(64000 + 8000) == [(0, 32000), (32000, 64000)]  # a 0.5 s tail is dropped (MARBLE: under 1 s)
    assert fe.chunks(64000 + 16000) == [(0, 32000), (32000, 64000), (64000, 80000)]  # a 1 s tail is kept
    assert [fe.n_frames(n) for n in (1, 16000, 72000, 80000)] == [1, 1, 2, 3]


def test_batched_chunk_embeddings_are_the_modules_own_per_chunk():
    gen = torch.Generator().manual_seed(0)
    lengths = [80000, 16000, 40000]  # 3 chunks (last 1 s), 1 short chunk, 1 chunk + a dropped 0.5 s tail
    audio = torch.zeros(3, max(lengths))
    for row, n in enumerate(lengths):
        audio[row, :n] = 0.1 * torch.randn(n, generator=gen)
    fe = frontend(2.0, batch_size=2)
    out = fe(audio, torch.tensor(lengths))
    for row, n in enumerate(lengths):
        want = fe.reference(audio[row, :n].numpy())
        assert want.shape == (fe.n_frames(n), 24)
        assert np.allclose(out[row, : fe.n_frames(n)].numpy(), want, atol=1e-4)


def test_chunks_are_pooled_by_mean_or_max(tmp_path):
    train, valid, test = splits(tmp_path, per_class=2, seconds=2.5)
    mean = hear(chunk_seconds=0.5).fit(train, valid)
    chunks = train.features(mean.frontend_)
    assert [c.shape for c in chunks] == [(5, 24)] * len(chunks)  # 2.5 s in 0.5 s chunks
    assert np.allclose(mean.vectors(train), np.stack([c.mean(axis=0) for c in chunks]))
    peak = hear(chunk_seconds=0.5, pool="max").fit(train, valid)
    assert np.allclose(peak.vectors(train), np.stack([c.max(axis=0) for c in chunks]))
    assert np.array_equal(pool_chunks(np.array([[1.0, 5.0], [3.0, 1.0]]), "max"), [3.0, 5.0])


def test_audio_reaches_the_model_at_its_sample_rate_on_the_runs_device(tmp_path):
    train, valid, _ = splits(tmp_path, per_class=2, seconds=2.0)  # written at 22050 Hz
    tiny().SHAPES.clear()
    system = hear(chunk_seconds=30.0).fit(train, valid)
    assert system.frontend_.sample_rate == 16000
    assert {n for _, n in tiny().SHAPES} == {32000}  # 2 s at the model's 16 kHz, one chunk per track
    assert sum(b for b, _ in tiny().SHAPES) == len(train) + len(valid)  # every track once, in batches
    assert len(tiny().SHAPES) < len(train) + len(valid)


# -- the cache -------------------------------------------------------------------------------------------------------
def test_a_second_probe_computes_no_embedding(tmp_path):
    train, valid, test = splits(tmp_path)
    first = hear(probe="logreg").fit(train, valid)
    first.predict(test)
    before, misses = calls(), train.store.misses
    assert first.training_info()["embeddings_computed"] > 0 and first.training_info()["model_loaded"]
    for params in ({"probe": "svm"}, {"probe": "mlp", "probe_grid": MLP_GRID}, {"probe": "logreg", "pool": "max"}):
        again = hear(**params).fit(train, valid)
        again.predict(test)
        info = again.training_info()
        assert info["embeddings_cached"] and info["embeddings_computed"] == 0 and not info["model_loaded"], params
    fresh = FeatureStore(train.store.cache_dir)  # another run on the same cache
    hear(probe="svm").fit(*(TrackSet(part.dataset, part.tracks, fresh) for part in (train, valid)))
    assert calls() == before and train.store.misses == misses and fresh.misses == 0 and fresh.hits > 0


def test_the_cache_key_holds_the_modules_name_version_and_weights(tmp_path, monkeypatch):
    train, valid, _ = splits(tmp_path, per_class=2)
    plain = hear().fit(train, valid).frontend_
    params = plain.params()
    assert (params["module"], params["module_version"], params["weights_sha256"]) == (TINY, "1.0", "")
    assert "weights" not in params and "batch_size" not in params  # where the file is, how many at once: not identity
    assert hear(batch_size=3).fit(train, valid).frontend_.key() == plain.key()
    weights = tmp_path / "tiny.pt"
    state = tiny().load_model().state_dict()
    state["projection"] = state["projection"] * 2
    torch.save(state, weights)
    weighted = hear(weights=str(weights)).fit(train, valid)
    assert len(weighted.frontend_.weights_sha256) == 64 and weighted.frontend_.key() != plain.key()
    assert weighted.training_info()["embeddings_computed"] == len(train) + len(valid)
    assert not np.allclose(weighted.vectors(train), hear().fit(train, valid).vectors(train))
    monkeypatch.setattr(tiny(), "__version__", "2.0")
    upgraded = hear().fit(train, valid)
    assert upgraded.frontend_.module_version == "2.0" and upgraded.frontend_.key() != plain.key()
    assert upgraded.training_info()["embeddings_computed"] > 0


# -- probes ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["single-label", "multi-label"])
@pytest.mark.parametrize("probe, grid", [("logreg", None), ("svm", None), ("mlp", MLP_GRID)])
def test_every_probe_learns_single_and_multi_label_tasks(tmp_path, task, probe, grid):
    train, valid, test = splits(tmp_path, task=task)
    system = hear(probe=probe, probe_grid=grid).fit(train, valid)
    scores = system.predict(test)
    assert scores.shape == (len(test), 3) and np.all(np.isfinite(scores))
    if task == "single-label":
        assert accuracy(test.targets, scores) > 0.9
        assert np.allclose(scores.sum(axis=1), 1.0)
    else:
        assert roc_auc(test.targets, scores, average="macro") > 0.9
    info = system.training_info()
    assert info["probe"] == probe and info["validation_score"] == max(info["grid_scores"])
    assert info["grid_point"] == system.probe_.point
    assert info["validation_metric"] == ("accuracy" if task == "single-label" else
                                         "average precision (macro over the tags present)")
    assert (system.n_parameters() is not None) == (probe == "mlp")


def test_the_grid_is_chosen_on_validation_and_ties_keep_the_first_point(tmp_path):
    train, valid, _ = splits(tmp_path)
    system = hear(probe="logreg", probe_grid={"C": [1e-6, 1.0, 10.0]}).fit(train, valid)
    info = system.training_info()
    best = max(info["grid_scores"])
    assert info["grid_point"]["C"] == [1e-6, 1.0, 10.0][info["grid_scores"].index(best)]
    alone = hear(probe="logreg", probe_grid={"C": [10.0, 1.0]}).fit(train, None).training_info()
    assert alone["grid_point"]["C"] == 10.0 and alone["validation_score"] is None and alone["grid_scores"] == [None]


CHECKS = dict(system_checks(HEARSystem, {"module": TINY, "chunk_seconds": 1.0}))


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_conformance(check, tmp_path):
    assert CHECKS[check](tmp_path)


# -- the real HEAR baseline on the embedded corpus ---------------------------------------------------------------
@pytest.fixture
def naive(monkeypatch):
    """hearbaseline.naive with its load_model counted (and librosa >= 0.10's keyword-only `sr` given by keyword:
    hearbaseline 2021.1.1 passes it by position)."""
    pytest.importorskip("hearbaseline", reason="the HEAR baseline is not installed: pip install --no-deps hearbaseline")
    import librosa

    module = importlib.import_module("hearbaseline.naive")
    mel = librosa.filters.mel
    monkeypatch.setattr(librosa.filters, "mel", lambda *args, **kw: mel(**dict(zip(("sr",), args)), **kw))
    loads = []
    load_model = module.load_model
    monkeypatch.setattr(module, "load_model", lambda *a, **kw: loads.append(1) or load_model(*a, **kw))
    return loads


def run_quickstart(tmp_path: Path, probe: str, grid: str = "") -> list[dict]:
    """The quickstart protocol on a tiny corpus, `hear` with hearbaseline.naive and `probe`; the trials' records."""
    from mirbench.cli import main

    suite = tmp_path / f"hear-naive-{probe}.toml"
    suite.write_text(
        f'extends = "{REPO / "suites" / "quickstart.toml"}"\nversion = "1"\n'
        "[dataset]\nclips_per_class = 6\nclip_seconds = 6.0\nprogress = false\n"
        "[quick]\ntracks_per_class = 6\nfolds = 2\n"
        f'[[systems]]\nname = "hear"\nlabel = "HEAR naive"\n'
        f'params = {{ module = "hearbaseline.naive", weights = "", probe = "{probe}"{grid} }}\n'
    )
    out = tmp_path / probe
    args = ["run", str(suite), "--quick", "--results", str(out / "res"), "--reports", str(out / "rep"),
            "--no-progress", "--device", "cpu"]
    assert main(args) == 0
    records = [json.loads(p.read_text()) for p in sorted((out / "res").rglob("*.json"))]
    records = [r for r in records if isinstance(r, dict) and "training" in r]
    assert len(records) == 2 and all(r["status"] == "ok" for r in records), records
    return records


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter 100: seconds, not minutes
def test_hearbaseline_naive_on_the_quickstart_protocol_then_another_probe_from_the_cache(tmp_path, naive, capsys):
    first = run_quickstart(tmp_path, "logreg", ", probe_grid = { C = [1.0, 0.01], max_iter = 100 }")  # seconds
    for record in first:
        info = record["training"]
        assert info["probe"] == "logreg" and info["embedding_size"] == 4096 and len(info["grid_scores"]) == 2
        assert info["module_version"] == "hearbaseline==2021.1.1" and 0.0 <= info["validation_score"] <= 1.0
        assert 0.0 <= record["metrics"]["accuracy"] <= 1.0
    loads = len(naive)
    second = run_quickstart(tmp_path, "svm")
    assert len(naive) == loads  # no model was loaded: every embedding came from the cache
    for record in second:
        assert record["training"]["probe"] == "svm" and record["training"]["embeddings_cached"]
        assert record["timings"]["feature_cache_misses"] == 0 and record["timings"]["feature_cache_hits"] > 0


def test_an_upgraded_module_or_new_weights_rerun_the_stored_trials(tmp_path, capsys, monkeypatch):
    """The module's version and its weights' hash are part of each trial's identity, not only of the embedding
    cache: a run after an upgrade reruns the stored trials instead of reporting them as current."""
    from mirbench.cli import main
    from tests.helpers import synthetic_suite

    weights = tmp_path / "weights.pt"
    state = tiny().TinyModel().state_dict()
    torch.save(state, weights)
    systems = (f'[[systems]]\nname = "hear"\nlabel = "Tiny"\n'
               f'params = {{ module = "{TINY}", weights = "{weights}", chunk_seconds = 1.0, probe_grid = {{ C = [1.0] }} }}\n')
    suite = tmp_path / "hear.toml"
    suite.write_text(synthetic_suite(systems))
    args = ["run", str(suite), "--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"),
            "--no-progress", "--device", "cpu"]

    def run() -> str:
        assert main(args) == 0
        captured = capsys.readouterr()
        return captured.out + captured.err

    run()
    assert "2 already done" in run()
    monkeypatch.setattr(tiny(), "__version__", "2.0")
    assert "2 trials rerun: the code or weights the system loads changed" in run()
    torch.save({k: v * 2 for k, v in state.items()}, weights)  # retrained weights, same file name
    assert "2 trials rerun: the code or weights the system loads changed" in run()
