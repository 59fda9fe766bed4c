"""Issue #17, items 2 and 3: the feature cache, the model cache and absurd audio never give a silently wrong number.

A cached feature array is checked against what its frontend says it must be (dims, frames for the track's length,
dtype, finite) and recomputed when it is not; a cached model that does not fit its network is retrained; a float
file with absurd samples is unusable (named, counted, skipped), and non-finite features make a track unusable too.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mirbench.kit import model_cache
from mirbench.audio import load_audio
from mirbench.audio import AudioError
from mirbench.datasets.base import Dataset, Track
from mirbench.features import FeatureStore
from mirbench.frontends import MFCC, LogMel, Waveform

SR = 16000


def write_tone(path: Path, seconds: float, freq: float, sr: int = SR, subtype: str = "PCM_16", peak: float | None = None) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    y = (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if peak is not None:
        y[100] = peak
    sf.write(path, y, sr, subtype=subtype)
    return path


@pytest.fixture
def dataset(tmp_path) -> Dataset:
    audio = tmp_path / "audio"
    audio.mkdir()
    specs = [("a", 0.50, 220.0), ("b", 0.31, 440.0), ("c", 0.77, 660.0)]
    tracks = [Track(tid, write_tone(audio / f"{tid}.wav", sec, f), ("x" if i % 2 else "y",)) for i, (tid, sec, f) in enumerate(specs)]
    return Dataset(tracks, classes=["x", "y"], task="single-label", sample_rate=SR, name="tiny")


def direct(frontend, track: Track) -> np.ndarray:
    y = load_audio(track.path, frontend.sample_rate)
    return frontend(torch.from_numpy(y)[None])[0].numpy()


# ============================================================================= 2. the feature cache

#: How a well-formed .npy entry can still be wrong: each one must be noticed, recomputed and replaced.
BAD_ENTRIES = {
    "a frame too few": lambda a: a[:-1],
    "a frame too many": lambda a: np.concatenate([a, a[:1]]),
    "a band too few": lambda a: a[:, :-1],
    "transposed": lambda a: np.ascontiguousarray(a.T),
    "one NaN": lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, np.nan, a).astype(np.float32),
    "one infinity": lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, np.inf, a).astype(np.float32),
    "float64": lambda a: a.astype(np.float64),
    "three dimensions": lambda a: a[None],
    "another track's features": lambda a: np.zeros((a.shape[0] * 2, a.shape[1]), np.float32),
}


@pytest.mark.parametrize("mmap", [False, True], ids=["loaded", "mmap"])
@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_a_cached_entry_that_does_not_fit_the_frontend_is_recomputed(case, mmap, tmp_path, dataset, caplog):
    fe = MFCC(sample_rate=SR, n_fft=512, hop_length=256)
    track = dataset.tracks[0]
    FeatureStore(tmp_path / "cache").get(dataset, [track], fe)
    entry = FeatureStore(tmp_path / "cache").entry_path(dataset, track, fe)
    good = np.load(entry)
    np.save(entry, BAD_ENTRIES[case](good))

    store = FeatureStore(tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="mirbench"):
        (got,) = store.get(dataset, [track], fe, mmap=mmap)
    assert (store.hits, store.misses) == (0, 1), "the bad entry was used as it was"
    np.testing.assert_allclose(got, direct(fe, track), rtol=1e-5, atol=1e-4)
    assert any(str(entry) in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING), caplog.text
    np.testing.assert_array_equal(np.load(entry), good)  # replaced on disk
    again = FeatureStore(tmp_path / "cache")
    again.get(dataset, [track], fe, mmap=mmap)
    assert (again.hits, again.misses) == (1, 0)


def sidecars(cache: Path) -> list[Path]:
    return sorted((cache / "features").rglob("*.json"))


def test_an_entry_without_its_sidecar_is_recomputed(tmp_path, dataset):
    """The frame count an entry must have comes from the track's length, recorded beside it; without it, recompute."""
    fe = LogMel(sample_rate=SR)
    FeatureStore(tmp_path / "cache").get(dataset, dataset.tracks, fe)
    assert len(sidecars(tmp_path / "cache")) == len(dataset)
    sidecars(tmp_path / "cache")[0].unlink()
    store = FeatureStore(tmp_path / "cache")
    store.get(dataset, dataset.tracks, fe)
    assert (store.hits, store.misses) == (2, 1)
    assert len(sidecars(tmp_path / "cache")) == len(dataset)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda meta: {**meta, "n_samples": meta["n_samples"] * 2},  # stale: it describes other audio
        lambda meta: {**meta, "shape": [1, 1]},  # stale: it describes another array
        lambda meta: {**meta, "n_samples": "many"},
        lambda meta: [1, 2, 3],
        None,  # not JSON at all
    ],
    ids=["other length", "other shape", "wrong type", "not an object", "garbage"],
)
def test_a_stale_or_broken_sidecar_means_recompute(tamper, tmp_path, dataset, caplog):
    fe = Waveform(sample_rate=SR)
    track = dataset.tracks[1]
    (first,) = FeatureStore(tmp_path / "cache").get(dataset, [track], fe)
    (side,) = sidecars(tmp_path / "cache")
    side.write_text("{not json" if tamper is None else json.dumps(tamper(json.loads(side.read_text()))))
    store = FeatureStore(tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger="mirbench"):
        (got,) = store.get(dataset, [track], fe)
    assert store.misses == 1
    np.testing.assert_array_equal(got, first)
    assert str(side.with_suffix(".npy")) in caplog.text
    assert json.loads(side.read_text())["n_samples"] == len(first)  # rewritten


def test_entries_are_validated_once_per_process(tmp_path, dataset, monkeypatch):
    """The finiteness scan reads every value: it runs once per (path, size, mtime), not on every read of an entry."""
    import mirbench.features

    scans = []
    real = mirbench.features._all_finite
    monkeypatch.setattr(mirbench.features, "_all_finite", lambda arr: scans.append(arr.shape) or real(arr))
    fe = LogMel(sample_rate=SR)
    FeatureStore(tmp_path / "cache").get(dataset, dataset.tracks, fe)  # computed: scanned before writing
    computed = len(scans)
    for mmap in (True, False, True):
        FeatureStore(tmp_path / "cache").get(dataset, dataset.tracks, fe, mmap=mmap)
    assert len(scans) - computed == len(dataset)  # each entry read back is scanned once in all
    entry = FeatureStore(tmp_path / "cache").entry_path(dataset, dataset.tracks[0], fe)
    np.save(entry, np.load(entry))  # rewritten: a new mtime, so scanned again
    FeatureStore(tmp_path / "cache").get(dataset, dataset.tracks, fe)
    assert len(scans) - computed == len(dataset) + 1


class SpikyWaveform(Waveform):
    """The waveform, except that a row longer than `limit` samples comes out NaN: a frontend that overflowed."""

    name = "spiky-waveform"

    def __init__(self, sample_rate: int = SR, limit: int = 10000):
        super().__init__(sample_rate)
        self.limit = int(limit)

    def forward(self, audio, lengths):
        out = audio.unsqueeze(-1).clone()
        ends = [audio.shape[1]] * audio.shape[0] if lengths is None else lengths.tolist()
        for row, n in enumerate(ends):
            if n > self.limit:
                out[row, 0, 0] = float("nan")
        return out


@pytest.mark.parametrize("cached", [True, False], ids=["cache", "no cache"])
def test_non_finite_features_name_the_track_and_are_never_cached(cached, tmp_path, dataset):
    fe = SpikyWaveform(limit=int(0.6 * SR))  # only track c (0.77 s) overflows
    store = FeatureStore(tmp_path / "cache" if cached else None, batch_size=8)
    with pytest.raises(AudioError) as info:
        store.get(dataset, dataset.tracks, fe)
    exc = info.value
    assert exc.track_id == "c" and exc.kind == "non-finite"
    assert "track 'c'" in str(exc) and str(dataset["c"].path) in str(exc) and "NaN or infinite" in str(exc)
    if cached:  # the good tracks of the batch are kept, the bad one is not written
        names = sorted(p.stem for p in (tmp_path / "cache" / "features").rglob("*.npy"))
        assert names == sorted(store.audio_key(dataset, dataset[t], SR) for t in "ab")
        again = FeatureStore(tmp_path / "cache")
        again.get(dataset, dataset.tracks[:2], fe)
        assert (again.hits, again.misses) == (2, 0)


# ============================================================================= 3. absurd audio


def test_absurd_float_audio_is_refused_at_decode_time(tmp_path):
    path = write_tone(tmp_path / "loud.wav", 0.3, 440.0, subtype="FLOAT", peak=1e30)
    with pytest.raises(AudioError) as info:
        load_audio(path, SR)
    assert info.value.kind == "out-of-range"
    msg = str(info.value)
    assert msg.startswith(str(path)) and "1e+30" in msg and "[-1, 1]" in msg


def test_mis_scaled_but_sane_float_audio_still_loads(tmp_path):
    path = write_tone(tmp_path / "hot.wav", 0.3, 440.0, subtype="FLOAT", peak=32767.0)  # int16 values stored as float
    y = load_audio(path, SR)
    assert y[100] == 32767.0


def test_validation_flags_float_audio_far_outside_unit_range(tmp_path):
    from mirbench.datasets.inspect import health

    audio = tmp_path / "audio"
    audio.mkdir()
    tracks = [
        Track("fine", write_tone(audio / "fine.wav", 0.3, 440.0, subtype="FLOAT", peak=1.5), ("x",)),
        Track("hot", write_tone(audio / "hot.wav", 0.3, 440.0, subtype="FLOAT", peak=3.0), ("x",)),
        Track("absurd", write_tone(audio / "absurd.wav", 0.3, 440.0, subtype="FLOAT", peak=1e30), ("y",)),
        Track("pcm", write_tone(audio / "pcm.wav", 0.3, 440.0), ("y",)),
    ]
    ds = Dataset(tracks, ["x", "y"], "single-label", SR, name="loud")
    report = ds.validate()
    assert report.kinds == {"hot": "out-of-range", "absurd": "out-of-range"}
    assert set(report.problems) == {"absurd"} and set(report.warnings) == {"hot"}
    problem, warning = report.problems["absurd"], report.warnings["hot"]
    assert problem.startswith(str(ds["absurd"].path)) and "1e+30" in problem and "re-export" in problem
    assert "\n" not in problem
    assert warning.startswith(str(ds["hot"].path)) and "3" in warning and "[-1, 1]" in warning
    text = health(ds, report)
    assert "unusable (skipped by runs): out-of-range: 1\n  absurd: " in text
    assert "warnings (still used): out-of-range: 1\n  hot: " in text


# ============================================================================= both, in a run

GTZAN_SUITE = """
version = "1"
metrics = ["accuracy"]
[dataset]
name = "gtzan"
tracks_per_genre = 3
[protocol]
name = "stratified-kfold"
folds = 3
proportions = "k-fold"
groups = false
[[systems]]
name = "mfcc"
label = "MFCC"
"""
BAD = "blues.00001"


@pytest.mark.parametrize("validated", [True, False], ids=["found by validation", "found by its features"])
def test_a_run_skips_the_track_with_absurd_audio_and_goes_on(validated, tmp_path, monkeypatch):
    """A float WAV with a sample of 1e30 (MFCCs of it are NaN): validation finds it; and were it to slip past
    validation and decoding (as it did), its non-finite features make it a recorded skip, not failed trials."""
    import mirbench.audio
    from mirbench.cli import main
    from mirbench.results import ResultStore
    from tests.fixtures.gtzan_tree import write_gtzan_tree

    root = write_gtzan_tree(tmp_path / "data" / "gtzan", per_genre=3, seconds=0.5, corrupt=())
    path = root / "genres" / "blues" / f"{BAD}.wav"
    y, sr = sf.read(path, dtype="float32")
    y[100] = 1e30
    sf.write(path, y, sr, subtype="FLOAT")
    if not validated:  # the old checks: only NaN and infinity
        monkeypatch.setattr(mirbench.audio, "ABSURD_PEAK", float("inf"), raising=False)
    suite = tmp_path / "gtzan.toml"
    suite.write_text(GTZAN_SUITE)
    args = ["run", str(suite), "--data-root", str(tmp_path / "data"), "--results", str(tmp_path / "res"),
            "--reports", str(tmp_path / "rep"), "--no-progress", "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(args) == 0
    records = list(ResultStore(tmp_path / "res").records())
    assert len(records) == 3 and all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    for r in records:
        reasons = {s["id"]: s["reason"] for s in r["skipped"]}
        assert set(reasons) == {BAD}
        assert str(path) in reasons[BAD]
        assert ("1e+30, absurdly far outside [-1, 1]" in reasons[BAD]) if validated else ("NaN or infinite" in reasons[BAD])
    predicted = sorted(i for r in records for i in r["predictions"]["track_ids"])
    assert len(predicted) == 29 and BAD not in predicted


# ============================================================================= 2. the model cache


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def misfits() -> dict:
    good = tiny_model().state_dict()
    return {
        "a missing key": {k: v for k, v in good.items() if k != "2.bias"},
        "an unexpected key": {**good, "3.weight": torch.zeros(2)},
        "a wrong shape": {**good, "0.weight": torch.zeros(4, 5)},
        "a NaN weight": {**good, "2.weight": torch.full((2, 4), float("nan"))},
        "an infinite bias": {**good, "0.bias": torch.full((4,), float("inf"))},
        "a value not a tensor": {**good, "0.bias": [0.0, 0.0, 0.0, 0.0]},
    }


def test_state_fits_names_what_does_not_fit():
    fits = model_cache.state_fits(tiny_model())
    assert fits(tiny_model().state_dict()) is None
    reasons = {case: fits(state) for case, state in misfits().items()}
    assert all(reasons.values()), reasons
    assert "2.bias" in reasons["a missing key"] and "3.weight" in reasons["an unexpected key"]
    assert "0.weight" in reasons["a wrong shape"] and "(4, 5)" in reasons["a wrong shape"]
    assert "2.weight" in reasons["a NaN weight"] and "0.bias" in reasons["an infinite bias"]
    assert fits([1, 2]) is not None  # not a state dict at all


@pytest.mark.parametrize("case", sorted(misfits()))
def test_a_cached_model_that_does_not_fit_is_retrained(case, tmp_path, caplog):
    key = {"model": "tiny", "seed": 0}
    bad = misfits()[case]
    model_cache.load_or_train(tmp_path, key, lambda: (bad, {"epochs": 1}))  # an entry that loads but does not fit
    calls = []

    def train():
        calls.append(1)
        return tiny_model().state_dict(), {"epochs": 2}

    fits = model_cache.state_fits(tiny_model())
    with caplog.at_level(logging.WARNING, logger="mirbench"):
        state, info, cached = model_cache.load_or_train(tmp_path, key, train, fits=fits)
    assert not cached and calls == [1] and info == {"epochs": 2}
    assert str(model_cache.entry_dir(tmp_path, key)) in caplog.text
    tiny_model().load_state_dict(state)
    state, info, cached = model_cache.load_or_train(tmp_path, key, train, fits=fits)  # replaced: now it is reused
    assert cached and calls == [1] and info == {"epochs": 2} and fits(state) is None


def test_a_cached_entry_that_is_not_a_state_dict_is_retrained(tmp_path):
    key = {"k": 1}
    model_cache.load_or_train(tmp_path, key, lambda: ({"w": torch.zeros(1)}, {}))
    torch.save([torch.zeros(1)], model_cache.entry_dir(tmp_path, key) / model_cache.MODEL_FILE)
    state, _, cached = model_cache.load_or_train(tmp_path, key, lambda: ({"w": torch.ones(1)}, {}))
    assert not cached and torch.equal(state["w"], torch.ones(1))


def test_sigtia_retrains_a_cached_network_that_does_not_fit(tmp_path):
    from mirbench_baselines.sigtia2014 import Sigtia2014MLP
    from mirbench.system import TrackSet
    from mirbench.testing import synthetic_dataset

    data = synthetic_dataset(tmp_path / "data", per_class=4)
    store = FeatureStore(tmp_path / "cache")
    train = TrackSet(data, data.tracks[::2], store)
    params = {"units": 8, "frames_per_track": 10, "max_epochs": 1, "n_estimators": 5, "regime": "relu-sgd", "aggregate": False}
    first = Sigtia2014MLP(**params).fit(train)
    entry = model_cache.entry_dir(store.cache_dir, first.model_key(train, None))
    state = torch.load(entry / model_cache.MODEL_FILE, weights_only=True)
    name = next(iter(state))
    state[name] = torch.zeros(*state[name].shape[:-1], state[name].shape[-1] + 1)  # a layer of another width
    torch.save(state, entry / model_cache.MODEL_FILE)
    second = Sigtia2014MLP(**params).fit(train)
    assert second.training_info()["cached"] == 0
    for (k, a), (_, b) in zip(first.model_.state_dict().items(), second.model_.state_dict().items()):
        assert torch.equal(a, b), k
