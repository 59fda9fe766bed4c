"""The minibatch feeds: the same batches in the same order (drawn ahead in a thread, or cut from clips held on the
device), the draws those of one window at a time, errors raised in the loop, no thread left behind."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from mirbench.kit.prefetch import Prefetcher, ResidentFeed, training_feed
from mirbench.kit.windows import Windows


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mirbench-prefetch"]


def within(seconds: float, condition) -> bool:
    """Whether `condition()` holds within `seconds` (polled; a loaded machine may run a thread late)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def no_prefetch_thread_within(seconds: float = 10.0) -> bool:
    return within(seconds, lambda: not prefetch_threads())


def clips(raw: bool) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, 5) if not raw else n).astype(np.float32) for n in (30, 47, 12, 64)]


@pytest.mark.parametrize("kind", ["random", "segments", "raw"])
def test_batches_and_their_order_are_those_drawn_without_prefetching(kind):
    def source():
        return Windows(clips(kind == "raw"), 8, stride=2, length=4, raw=kind == "raw", segments=kind == "segments")

    plain_source, rng = source(), np.random.default_rng(7)
    expected = [plain_source.sample(rng, 6) for _ in range(25)]  # across epochs of segments too

    fed_source, rng = source(), np.random.default_rng(7)
    shape = (6, *fed_source.window_shape())
    with Prefetcher(lambda out: fed_source.sample(rng, 6, out=out), shape, "cpu") as feed:
        got = [next(feed) for _ in range(25)]
    for (x, c), (gx, gc) in zip(expected, got):
        np.testing.assert_array_equal(gx.numpy(), x)
        np.testing.assert_array_equal(gc.numpy(), c)


def reference_sample(source: Windows, rng: np.random.Generator, n: int, queue: list) -> tuple[np.ndarray, np.ndarray]:
    """`Windows.sample` as it was written before the draws were vectorised: one random draw per window."""
    if source.segments:
        picked = []
        for _ in range(n):
            if not queue:
                every = source.positions()
                queue.extend([every[k] for k in rng.permutation(len(every))][::-1])
            picked.append(queue.pop())
        return np.stack([source.window(i, s) for i, s in picked]), np.array([i for i, _ in picked])
    clips = rng.integers(len(source.clips), size=n)
    return np.stack([source.window(i, rng.integers(source.starts(i))) for i in clips]), clips


@pytest.mark.parametrize("kind", ["random", "segments", "raw"])
def test_the_vectorised_draws_are_those_of_one_window_at_a_time(kind):
    source = Windows(clips(kind == "raw"), 8, stride=2, length=4, raw=kind == "raw", segments=kind == "segments")
    reference = Windows(source.clips, 8, stride=2, length=4, raw=kind == "raw", segments=kind == "segments")
    rng, reference_rng, queue = np.random.default_rng(3), np.random.default_rng(3), []
    for n in (1, 6, 17, 40, 3):  # across epochs of segments, mid-batch too
        x, c = source.sample(rng, n)
        rx, rc = reference_sample(reference, reference_rng, n, queue)
        assert x.tobytes() == rx.tobytes() and np.array_equal(c, rc)
    assert rng.bit_generator.state == reference_rng.bit_generator.state


@pytest.mark.parametrize("kind", ["random", "segments", "raw"])
@pytest.mark.parametrize("chunk", [1, 3])
def test_a_resident_feed_cuts_the_batches_of_chunk_times_the_batch_size(kind, chunk):
    def source():
        return Windows(clips(kind == "raw"), 8, stride=2, length=4, raw=kind == "raw", segments=kind == "segments")

    plain, rng, expected = source(), np.random.default_rng(5), []
    for _ in range(4):
        x, c = plain.sample(rng, 6 * chunk)
        expected += list(zip(np.split(x, chunk), np.split(c, chunk)))
    with ResidentFeed(source(), np.random.default_rng(5), 6, "cpu", chunk) as feed:
        for x, c in expected:
            gx, gc = next(feed)
            assert gx.numpy().tobytes() == x.tobytes() and np.array_equal(gc.numpy(), c)


def test_on_the_cpu_the_feed_draws_in_the_loop():
    feed = training_feed(Windows(clips(False), 8), np.random.default_rng(0), 4, "cpu")
    assert isinstance(feed, Prefetcher) and feed._thread is None


def test_an_error_in_the_thread_is_raised_in_the_loop_at_its_batch():
    def draw(out):
        draw.calls += 1
        if draw.calls == 3:
            raise KeyError("bad clip")
        out[:] = draw.calls
        return out, np.array([draw.calls])

    draw.calls = 0
    feed = Prefetcher(draw, (2, 3), "cpu")
    assert next(feed)[1].item() == 1 and next(feed)[1].item() == 2
    with pytest.raises(KeyError, match="bad clip"):
        next(feed)
    assert no_prefetch_thread_within()


def test_the_thread_stops_when_the_loop_ends_or_breaks():
    before = len(prefetch_threads())
    for _ in range(3):
        with Prefetcher(lambda out: (out, np.zeros(1)), (4, 2), "cpu") as feed:
            for k, _ in enumerate(feed):
                if k == 5:
                    break
    assert before == 0 and no_prefetch_thread_within()

    def breaks_out():
        with Prefetcher(lambda out: (out, np.zeros(1)), (4, 2), "cpu") as feed:
            next(feed)
            raise ValueError("the loop failed")

    with pytest.raises(ValueError):
        breaks_out()
    assert no_prefetch_thread_within()


def test_it_draws_at_most_two_batches_ahead():
    feed = Prefetcher(lambda out: (out, np.zeros(1)), (1, 1), "cpu")
    try:
        for consumed in range(4):
            within(30, lambda: feed.drawn >= consumed + 2)  # two ahead, however late the thread starts
            time.sleep(0.3)  # then ample time to run further ahead if it could
            assert feed.drawn == consumed + 2
            next(feed)
    finally:
        feed.close()
    assert no_prefetch_thread_within()


def test_unthreaded_draws_in_the_loop():
    calls = []
    feed = Prefetcher(lambda out: (calls.append(1) or out, np.zeros(1)), (1, 1), "cpu", threaded=False)
    time.sleep(0.1)
    assert calls == [] and not prefetch_threads()
    next(feed)
    assert calls == [1]


def test_a_windowed_fit_threaded_or_resident_predicts_the_same_and_leaves_no_thread_behind(tmp_path, monkeypatch):
    from mirbench_baselines.choi2017 import Choi2017CNN

    from mirbench.features import FeatureStore
    from mirbench.kit import prefetch
    from mirbench.system import TrackSet
    from mirbench.testing import synthetic_dataset

    dataset = synthetic_dataset(tmp_path / "audio", per_class=2)
    tracks = TrackSet(dataset, list(dataset.tracks), FeatureStore(tmp_path / "cache"))

    def fit():
        return Choi2017CNN(arch="crnn", budget=20_000, window_frames=20, batch_size=2, max_epochs=2).fit(tracks)

    in_loop = fit().predict(tracks)
    started = []
    monkeypatch.setattr(prefetch, "CPU_THREADED", True)
    monkeypatch.setattr(prefetch.Prefetcher, "_run", lambda self, run=prefetch.Prefetcher._run: started.append(1) or run(self))
    threaded = fit().predict(tracks)
    assert started and no_prefetch_thread_within()
    np.testing.assert_array_equal(threaded, in_loop)

    monkeypatch.setattr(prefetch, "fits_on_device", lambda source, device: True)  # as on a GPU the clips fit
    monkeypatch.setattr(prefetch, "CHUNK_WINDOWS", 1)  # one batch a draw: the CPU's stream
    np.testing.assert_array_equal(fit().predict(tracks), in_loop)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: pinned buffers and the side-stream copy")
def test_on_cuda_batches_arrive_on_the_device_equal_to_the_host_ones():
    source, rng = Windows(clips(False), 8), np.random.default_rng(1)
    expected = [source.sample(np.random.default_rng(1), 3)[0]]
    with Prefetcher(lambda out: source.sample(rng, 3, out=out), (3, 8, 5), "cuda") as feed:
        x, c = next(feed)
    assert x.is_cuda and c.is_cuda
    np.testing.assert_array_equal(x.cpu().numpy(), expected[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: clips uploaded, windows cut on the device")
def test_on_cuda_a_resident_feed_cuts_the_host_windows():
    source, rng = Windows(clips(False), 8), np.random.default_rng(2)
    x, c = source.sample(np.random.default_rng(2), 6)
    with ResidentFeed(Windows(clips(False), 8), rng, 3, "cuda", chunk=2) as feed:
        (x0, c0), (x1, c1) = next(feed), next(feed)
    assert x0.is_cuda and c0.is_cuda
    np.testing.assert_array_equal(torch.cat([x0, x1]).cpu().numpy(), x)
    np.testing.assert_array_equal(torch.cat([c0, c1]).cpu().numpy(), c)
