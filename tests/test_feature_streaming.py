"""FeatureStore streams: a batch of decoded audio at a time, memory maps out, nothing pinned.

Structural checks only (what is alive, what is returned, how batches are cut);
the peak memory itself is measured by the asv benchmarks in
benchmarks/bench_memory.py.
"""

from __future__ import annotations

import errno
import weakref
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mirbench.datasets.base import Dataset, Track
from mirbench.features import FeatureStore
from mirbench.frontends import LogMel, Waveform

SR = 8000


def tone_dataset(folder: Path, seconds: list[float]) -> Dataset:
    folder.mkdir(parents=True, exist_ok=True)
    tracks = []
    for i, sec in enumerate(seconds):
        t = np.arange(int(SR * sec)) / SR
        path = folder / f"t{i:03d}.wav"
        sf.write(path, (0.3 * np.sin(2 * np.pi * (200 + 10 * i) * t)).astype(np.float32), SR, subtype="PCM_16")
        tracks.append(Track(f"t{i:03d}", path, ("x",)))
    return Dataset(tracks, ["x"], "single-label", SR, name="tones")


class LiveAudio:
    """Wraps a dataset's load_audio (on the instance, so cache keys stay those of the class) and
    records, at every load, how many arrays it returned are still alive, the new one included."""

    def __init__(self, dataset: Dataset):
        self.refs: list[weakref.ref] = []
        self.alive_at_load: list[int] = []
        load = dataset.load_audio

        def counting(track, sample_rate):
            audio = load(track, sample_rate)
            self.refs.append(weakref.ref(audio))
            self.alive_at_load.append(self.alive())
            return audio

        dataset.load_audio = counting

    def alive(self) -> int:
        return sum(ref() is not None for ref in self.refs)


class Recording(Waveform):
    """The waveform frontend, recording the shape of every padded batch it is given."""

    def __init__(self, sample_rate: int = SR):
        super().__init__(sample_rate)

    def forward(self, audio, lengths):
        self.__dict__.setdefault("shapes", []).append(tuple(audio.shape))
        return super().forward(audio, lengths)


@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize("cached", [False, True])
def test_at_most_one_batch_of_decoded_audio_is_alive(tmp_path, mmap, cached):
    dataset = tone_dataset(tmp_path / "audio", [0.2 + 0.01 * i for i in range(23)])
    live = LiveAudio(dataset)
    alive_in_frontend = []

    class Watched(Waveform):  # features as big as the audio
        def forward(self, audio, lengths):
            alive_in_frontend.append(live.alive())
            return super().forward(audio, lengths)

    store = FeatureStore(tmp_path / "cache" if cached else None, batch_size=4)
    feats = store.get(dataset, dataset.tracks, Watched(sample_rate=SR), mmap=mmap)
    assert len(live.refs) == 23 and store.misses == 23
    assert max(live.alive_at_load) == 4  # batches of 4 are formed ...
    assert live.alive_at_load[4::4] == [1] * 5  # ... and each is gone when the next one starts decoding
    assert alive_in_frontend == [0] * 6  # a batch's audio is held once, padded, while the frontend runs
    assert live.alive() == 0  # what is returned pins no decoded audio
    assert len(feats) == 23


def test_returned_features_own_their_memory_or_map_the_cache(tmp_path):
    dataset = tone_dataset(tmp_path / "audio", [0.3, 0.1, 0.25, 0.05, 0.2])
    fe = LogMel(sample_rate=SR, n_fft=256, hop_length=64)
    in_memory = FeatureStore(None, batch_size=3).get(dataset, dataset.tracks, fe)
    for arr in in_memory:  # not views of the padded batch's output, which would keep all of it alive
        assert arr.base is None and arr.flags.owndata and arr.flags.c_contiguous
    store = FeatureStore(tmp_path / "cache", batch_size=3)
    for call in ("computed", "cached"):
        mapped = store.get(dataset, dataset.tracks, fe, mmap=True)
        for track, arr, expected in zip(dataset.tracks, mapped, in_memory):
            assert isinstance(arr, np.memmap) and not arr.flags.writeable, call
            assert Path(arr.filename) == store.entry_path(dataset, track, fe), call
            np.testing.assert_array_equal(arr, expected)
    assert (store.misses, store.hits) == (5, 5)


def test_duplicates_share_one_map_but_never_one_in_memory_array(tmp_path):
    dataset = tone_dataset(tmp_path / "audio", [0.1, 0.2])
    t = dataset.tracks[1]
    store = FeatureStore(tmp_path / "cache")
    a, b = store.get(dataset, [t, t], Waveform(sample_rate=SR), mmap=True)
    assert isinstance(a, np.memmap) and isinstance(b, np.memmap) and a is b  # read-only: sharing is safe
    c, d = FeatureStore(None).get(dataset, [t, t], Waveform(sample_rate=SR))
    assert c is not d and not np.shares_memory(c, d)


def test_a_long_track_does_not_pad_a_batch_of_short_ones(tmp_path):
    seconds = [0.1] * 5 + [2.0] + [0.1] * 6  # 800-sample tracks and one of 16,000
    dataset = tone_dataset(tmp_path / "audio", seconds)
    budget = 4 * 800 * 2  # eight short tracks, or the long one alone
    fe = Recording()
    store = FeatureStore(None, batch_size=8, max_batch_samples=budget)
    feats = store.get(dataset, dataset.tracks, fe)
    assert fe.shapes == [(5, 800), (1, 16_000), (6, 800)]  # in order; each batch within the budget or alone
    for arr, track in zip(feats, dataset.tracks):
        np.testing.assert_array_equal(arr[:, 0], dataset.load_audio(track, SR))
    lone = Recording()
    FeatureStore(None, batch_size=8, max_batch_samples=1).get(dataset, dataset.tracks[:3], lone)
    assert lone.shapes == [(1, 800)] * 3


def test_batches_cut_by_the_budget_give_the_values_of_one_track_at_a_time(tmp_path):
    dataset = tone_dataset(tmp_path / "audio", [0.3, 0.1, 1.2, 0.2, 0.15, 0.9, 0.05])
    fe = LogMel(sample_rate=SR, n_fft=256, hop_length=64)
    alone = FeatureStore(None, batch_size=1).get(dataset, dataset.tracks, fe)
    for budget in (1, 4000, 12_000, 1 << 24):
        got = FeatureStore(None, batch_size=4, max_batch_samples=budget).get(dataset, dataset.tracks, fe)
        for a, b in zip(alone, got):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def test_max_batch_samples_must_be_positive():
    with pytest.raises(ValueError, match="max_batch_samples"):
        FeatureStore(None, max_batch_samples=0)


def test_memory_maps_raise_the_soft_limit_of_open_files(tmp_path):
    """Each map keeps a file open: a request for more maps than the soft limit allows raises the limit."""
    resource = pytest.importorskip("resource")
    from mirbench.features import _open_files

    in_use = _open_files()
    if in_use is None:
        pytest.skip("this platform does not list a process's open files")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = 120
    low = in_use + 20  # room for the test's own files, not for n maps
    if hard != resource.RLIM_INFINITY and hard < low + n + 100:
        pytest.skip(f"the hard limit of open files ({hard}) is too low for this test")
    dataset = tone_dataset(tmp_path / "audio", [0.01] * n)
    store = FeatureStore(tmp_path / "cache", batch_size=32)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        first = store.get(dataset, dataset.tracks, Waveform(sample_rate=SR), mmap=True)
        second = store.get(dataset, dataset.tracks, Waveform(sample_rate=SR), mmap=True)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > low + n
        assert all(isinstance(a, np.memmap) for a in first + second)
        assert (store.misses, store.hits) == (n, n)  # no map failed and was taken for a missing entry
        del first, second
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_running_out_of_open_files_is_an_error_not_a_cache_miss(tmp_path, monkeypatch):
    dataset = tone_dataset(tmp_path / "audio", [0.1, 0.2])
    fe = Waveform(sample_rate=SR)
    FeatureStore(tmp_path / "cache").get(dataset, dataset.tracks, fe)

    def exhausted(*args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(np, "load", exhausted)
    store = FeatureStore(tmp_path / "cache")
    with pytest.raises(OSError, match="limit of open files") as info:
        store.get(dataset, dataset.tracks, fe, mmap=True)
    assert info.value.errno == errno.EMFILE and "ulimit -n" in str(info.value)
    assert store.misses == 0  # nothing was recomputed behind the user's back


def test_the_gpu_path_streams_too(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    dataset = tone_dataset(tmp_path / "audio", [0.2] * 9)
    live = LiveAudio(dataset)
    feats = FeatureStore(tmp_path / "cache", device="cuda", batch_size=3).get(
        dataset, dataset.tracks, LogMel(sample_rate=SR, n_fft=256, hop_length=64), mmap=True
    )
    assert max(live.alive_at_load) == 3 and live.alive() == 0
    assert all(isinstance(a, np.memmap) for a in feats)
