"""FeatureStore: values, on-disk cache hits and keys, invalidation, batching, errors naming the track."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mirbench.audio import load_audio
from mirbench.audio import AudioError
from mirbench.datasets.base import Dataset, Track
from mirbench.features import FeatureStore
from mirbench.frontends import MFCC, LogMel, STFTMagnitude, Waveform

SR = 16000


def write_tone(path: Path, seconds: float, freq: float, sr: int = SR, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    y = 0.4 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
    return path


@pytest.fixture
def dataset(tmp_path) -> Dataset:
    audio = tmp_path / "audio"
    audio.mkdir()
    specs = [("a", 0.50, 220.0), ("b", 0.31, 440.0), ("c", 0.77, 660.0), ("d", 0.12, 880.0), ("e", 0.43, 330.0)]
    tracks = [
        Track(tid, write_tone(audio / f"{tid}.wav", sec, f, seed=i), ("x" if i % 2 else "y",))
        for i, (tid, sec, f) in enumerate(specs)
    ]
    return Dataset(tracks, classes=["x", "y"], task="single-label", sample_rate=SR, name="tiny")


def direct(dataset: Dataset, frontend, track: Track) -> np.ndarray:
    y = load_audio(track.path, frontend.sample_rate)
    return frontend(torch.from_numpy(y)[None])[0].numpy()


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "features").rglob("*.npy"))


@pytest.mark.parametrize("frontend", [LogMel(sample_rate=SR), MFCC(sample_rate=22050), Waveform(sample_rate=SR)])
def test_values_equal_direct_computation(tmp_path, dataset, frontend):
    store = FeatureStore(tmp_path / "cache", batch_size=3)
    feats = store.get(dataset, dataset.tracks, frontend)
    assert len(feats) == len(dataset)
    for track, arr in zip(dataset.tracks, feats):
        expected = direct(dataset, frontend, track)
        assert arr.dtype == np.float32 and arr.shape == expected.shape
        assert arr.shape[0] == frontend.n_frames(len(load_audio(track.path, frontend.sample_rate)))
        np.testing.assert_allclose(arr, expected, rtol=1e-5, atol=1e-5)


def test_second_call_hits_the_cache(tmp_path, dataset):
    fe = LogMel(sample_rate=SR)
    store = FeatureStore(tmp_path / "cache")
    first = store.get(dataset, dataset.tracks, fe)
    assert (store.hits, store.misses) == (0, 5) and store.seconds > 0
    assert len(entries(tmp_path / "cache")) == 5
    spent = store.seconds
    second = store.get(dataset, dataset.tracks, fe)
    assert (store.hits, store.misses) == (5, 5) and store.seconds == spent
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # A new store (a new process) finds the same entries on disk.
    fresh = FeatureStore(tmp_path / "cache")
    fresh.get(dataset, dataset.tracks[::-1], fe)
    assert (fresh.hits, fresh.misses) == (5, 0)
    assert fresh.stats() == {"hits": 5, "misses": 0, "seconds": 0.0}


def test_cache_layout_and_no_temp_files_left(tmp_path, dataset):
    fe = STFTMagnitude(sample_rate=SR)
    FeatureStore(tmp_path / "cache").get(dataset, dataset.tracks, fe)
    folder = tmp_path / "cache" / "features" / fe.key()
    assert sorted(p.suffix for p in folder.iterdir()) == [".json"] * 5 + [".npy"] * 5  # each entry and its record


def test_different_params_make_different_entries(tmp_path, dataset):
    store = FeatureStore(tmp_path / "cache")
    a = store.get(dataset, dataset.tracks[:2], LogMel(sample_rate=SR))
    b = store.get(dataset, dataset.tracks[:2], LogMel(sample_rate=SR, n_mels=40))
    c = store.get(dataset, dataset.tracks[:2], LogMel(sample_rate=22050))
    assert (store.hits, store.misses) == (0, 6)
    assert len({p.parent.name for p in entries(tmp_path / "cache")}) == 3
    assert a[0].shape[1] == 128 and b[0].shape[1] == 40
    assert c[0].shape[0] > a[0].shape[0]  # resampled to 22050 Hz: more frames for the same hop


def test_memory_mapped_features_equal_the_loaded_ones(tmp_path, dataset):
    fe, tracks = Waveform(sample_rate=SR), dataset.tracks[:3]
    fresh = FeatureStore(tmp_path / "cache").get(dataset, tracks, fe, mmap=True)  # computed, then mapped
    again = FeatureStore(tmp_path / "cache").get(dataset, tracks, fe, mmap=True)
    loaded = FeatureStore(tmp_path / "cache").get(dataset, tracks, fe)
    for a, b, c in zip(fresh, again, loaded):
        assert isinstance(a, np.memmap) and isinstance(b, np.memmap) and not isinstance(c, np.memmap)
        assert not b.flags.writeable
        np.testing.assert_array_equal(b, c)
        np.testing.assert_array_equal(a, c)


def test_new_content_invalidates_touch_does_not(tmp_path, dataset):
    fe = LogMel(sample_rate=SR)
    store = FeatureStore(tmp_path / "cache")
    before = store.get(dataset, dataset.tracks, fe)
    target = dataset.tracks[1].path

    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touch: same bytes
    store.get(dataset, dataset.tracks, fe)
    assert (store.hits, store.misses) == (5, 5)

    write_tone(target, 0.31, 1000.0, seed=99)  # same length, new content
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    after = store.get(dataset, dataset.tracks, fe)
    assert (store.hits, store.misses) == (9, 6)
    assert not np.allclose(after[1], before[1])
    np.testing.assert_allclose(after[1], direct(dataset, fe, dataset.tracks[1]), rtol=1e-5, atol=1e-5)
    assert len(entries(tmp_path / "cache")) == 6  # the old entry stays for the old content


def test_content_hashes_are_memoised(tmp_path, dataset, monkeypatch):
    """Files are hashed once per process and (path, size, mtime); a later lookup only stats them."""
    import mirbench.content

    opened = []
    def spy(path, *args):
        opened.append(Path(path).name)
        return open(path, *args)

    monkeypatch.setattr(mirbench.content, "open", spy, raising=False)
    store = FeatureStore(tmp_path / "cache")
    store.get(dataset, dataset.tracks, Waveform(sample_rate=SR))
    store.get(dataset, dataset.tracks, LogMel(sample_rate=SR))
    FeatureStore(tmp_path / "cache").get(dataset, dataset.tracks, LogMel(sample_rate=SR))  # a later trial's store
    assert sorted(opened) == ["a.wav", "b.wav", "c.wav", "d.wav", "e.wav"]


def test_no_cache_dir_computes_every_time(tmp_path, dataset, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fe = MFCC(sample_rate=SR)
    store = FeatureStore(None)
    first = store.get(dataset, dataset.tracks, fe)
    second = store.get(dataset, dataset.tracks, fe)
    assert (store.hits, store.misses) == (0, 10)
    for a, b, t in zip(first, second, dataset.tracks):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, direct(dataset, fe, t), rtol=1e-5, atol=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio"]


@pytest.mark.parametrize("batch_size", [1, 2, 16])
def test_batch_size_does_not_change_values(tmp_path, dataset, batch_size):
    fe = MFCC(sample_rate=SR, n_fft=1024)
    ref = FeatureStore(None, batch_size=1).get(dataset, dataset.tracks, fe)
    got = FeatureStore(None, batch_size=batch_size).get(dataset, dataset.tracks, fe)
    for a, b in zip(ref, got):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def test_duplicate_tracks_are_computed_once_and_not_aliased(tmp_path, dataset, monkeypatch):
    loads = []
    original = Dataset.load_audio
    monkeypatch.setattr(Dataset, "load_audio", lambda self, t, sr: loads.append(t.id) or original(self, t, sr))
    t = dataset.tracks[0]
    a, b = FeatureStore(tmp_path / "cache").get(dataset, [t, t], Waveform(sample_rate=SR))
    assert loads == ["a"]
    np.testing.assert_array_equal(a, b)
    assert a is not b


def test_corrupt_cache_entry_is_recomputed(tmp_path, dataset):
    fe = LogMel(sample_rate=SR)
    store = FeatureStore(tmp_path / "cache")
    good = store.get(dataset, dataset.tracks[:1], fe)[0]
    entry = store.entry_path(dataset, dataset.tracks[0], fe)
    entry.write_bytes(entry.read_bytes()[:40])  # torn file
    again = store.get(dataset, dataset.tracks[:1], fe)[0]
    assert (store.hits, store.misses) == (0, 2)
    np.testing.assert_array_equal(again, good)
    np.testing.assert_array_equal(np.load(entry), good)


def test_corrupt_audio_raises_naming_the_track(tmp_path, dataset):
    bad_path = tmp_path / "audio" / "bad.wav"
    bad_path.write_bytes(np.random.default_rng(0).bytes(2048))
    bad = Track("bad-track", bad_path, ("x",))
    for cache in (tmp_path / "cache", None):
        with pytest.raises(AudioError) as info:
            FeatureStore(cache).get(dataset, [dataset.tracks[0], bad], LogMel(sample_rate=SR))
        assert "bad-track" in str(info.value) and str(bad_path) in str(info.value)


def test_missing_audio_raises_naming_the_track(tmp_path, dataset):
    gone = Track("gone-track", tmp_path / "audio" / "gone.wav", ("x",))
    for cache in (tmp_path / "cache", None):
        with pytest.raises(AudioError, match="not found") as info:
            FeatureStore(cache).get(dataset, [gone], LogMel(sample_rate=SR))
        assert "gone-track" in str(info.value)


def test_dataset_overriding_load_audio_keys_by_track(tmp_path, dataset):
    """Two excerpts of one file must not share a cache entry when the dataset crops them."""

    class Excerpts(Dataset):
        def load_audio(self, track, sample_rate):
            y = super().load_audio(track, sample_rate)
            start = int(track.meta["start"] * sample_rate)
            return y[start : start + sample_rate // 10]

    path = dataset.tracks[2].path
    tracks = [Track(f"c{i}", path, ("x",), meta={"start": s}) for i, s in enumerate([0.0, 0.5])]
    crops = Excerpts(tracks, ["x"], "single-label", SR)
    store = FeatureStore(tmp_path / "cache")
    a, b = store.get(crops, tracks, Waveform(sample_rate=SR))
    assert len(entries(tmp_path / "cache")) == 2
    assert not np.array_equal(a, b)


def test_concurrent_stores_share_entries_safely(tmp_path, dataset):
    fe = LogMel(sample_rate=SR)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: FeatureStore(tmp_path / "cache").get(dataset, dataset.tracks, fe), range(4)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    folder = tmp_path / "cache" / "features" / fe.key()
    assert len(list(folder.iterdir())) == 10  # each entry and its record, no temporary files left behind
