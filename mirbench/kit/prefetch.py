"""Minibatches made ahead of use, so that a GPU never waits for the host to sample, assemble and copy them.

`Prefetcher(draw, shape, device)` calls `draw(out)` in one background thread,
in order, at most `depth` (2: double buffering) batches ahead of the consumer.
`draw` writes a minibatch's inputs into `out` (a float32 host buffer of
`shape`) and returns `(inputs, *extras)` as numpy arrays. On CUDA, `out` is
page-locked memory and every array goes to the device with
`non_blocking=True` on a side stream; the consumer's stream waits for that copy
only (an event), so sampling, assembly and the transfer of batch k+1 overlap the
forward and backward passes of batch k. On the CPU, training draws in the loop
(`threaded=False`, `prefetch_threaded`): a thread was measured no faster there.

The batches and their order are exactly those of calling `draw` in the loop:
one thread draws, in a fixed order, and `draw` owns its random generator. An
exception in the thread is raised again in the consumer at the batch it would
have produced. `close()` (or leaving the `with` block) stops and joins the
thread; batches drawn ahead and not consumed are dropped.

Where the training clips fit on the GPU (`RESIDENT_SHARE` of its free
memory), `training_feed` uploads them once instead (`ResidentFeed`): the host
then draws only where the windows are (`WindowIndex`: clip and offset, 16
bytes a window, `chunk` batches in one vectorised draw and one copy) and the
GPU cuts the windows from its own memory. Copying every window across PCIe
cannot keep up with the small networks: a 96 x 1366 log-mel window is 525 KB,
and Choi's k1c2 at 40 % of an H100 would take about 250,000 of them a second.
Drawing `chunk` batches at once makes the random stream that of batches of
`chunk x batch`, so on the GPU the batches differ from the CPU's (which draw
one batch at a time, as before); with and without the thread they are the same.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch

from mirbench.kit.windows import Windows

DEPTH = 2  # batches drawn ahead of the one in use: double buffering
RESIDENT_SHARE = 0.5  # upload the training clips when they take at most this share of the GPU's free memory
CHUNK_WINDOWS = 8192  # windows whose positions are drawn at once for a resident feed (host cost amortised)
_POLL_S = 0.05  # how often a blocked thread checks whether it should stop

Draw = Callable[[np.ndarray], Sequence[np.ndarray]]


# On the CPU a thread gained nothing measurable: 40 Adam updates on 2 threads, threaded against in the loop,
# 0.279 against 0.275 s (Dieleman raw), 0.267 against 0.274 s (mel), 80.1 against 82.2 s (Fagan CNN 2D): sampling
# is 1-5 % of an update there, and the thread competes with torch's for the same cores. So the CPU draws in the loop.
CPU_THREADED = False


def prefetch_threaded(device: torch.device | str) -> bool:
    """Whether training on `device` draws its batches in a background thread: on CUDA always, on the CPU not
    (`CPU_THREADED`)."""
    return torch.device(device).type == "cuda" or CPU_THREADED


class _Failed:
    """An exception raised by `draw`, carried to the consumer."""

    def __init__(self, exc: BaseException):
        self.exc = exc


class Prefetcher:
    """An iterator of minibatches (tuples of tensors on `device`) drawn by `draw` in a background thread."""

    def __init__(
        self, draw: Draw, shape: Sequence[int], device: torch.device | str, depth: int = DEPTH,
        threaded: bool = True,
    ):  # fmt: skip
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.draw, self.shape, self.device, self.depth = draw, tuple(int(s) for s in shape), torch.device(device), depth
        self.cuda = self.device.type == "cuda"
        self.drawn = 0  # batches `draw` has returned (for tests of the lookahead)
        self._stream = torch.cuda.Stream(self.device) if self.cuda else None
        self._ready: queue.Queue = queue.Queue()
        self._slots = threading.Semaphore(depth)  # one per batch drawn and not yet handed out
        self._stop = threading.Event()
        self._thread = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="mirbench-prefetch", daemon=True)
            self._thread.start()

    # -- the producer ----------------------------------------------------------------------
    def _buffer(self) -> torch.Tensor:
        """A fresh host buffer for one batch's inputs: page-locked on CUDA, so the copy is a DMA."""
        return torch.empty(self.shape, dtype=torch.float32, pin_memory=self.cuda)

    def _make(self):
        """One batch: drawn on the host, then (CUDA) sent to the device on the side stream, with its copy's event."""
        host = self._buffer()
        out = host.numpy()
        inputs, *extras = self.draw(out)
        self.drawn += 1
        if inputs is not out:  # `draw` made its own array: use it as it is
            host = torch.from_numpy(np.ascontiguousarray(inputs))
        tensors = [host, *(torch.from_numpy(np.ascontiguousarray(e)) for e in extras)]
        if not self.cuda:
            return tensors, None
        with torch.cuda.device(self.device), torch.cuda.stream(self._stream):
            moved = [t if t.is_pinned() else t.pin_memory() for t in tensors]
            moved = [t.to(self.device, non_blocking=True) for t in moved]
            return moved, self._stream.record_event()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._slots.acquire(timeout=_POLL_S):
                    if self._stop.is_set():
                        return
                    self._ready.put(self._make())
        except BaseException as exc:  # noqa: BLE001 - carried to the consumer, raised there
            self._ready.put(_Failed(exc))

    # -- the consumer ----------------------------------------------------------------------
    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self) -> tuple[torch.Tensor, ...]:
        if self._thread is None:
            item = self._make()
        else:
            item = self._get()
            self._slots.release()
        if isinstance(item, _Failed):
            self.close()
            raise item.exc
        tensors, copied = item
        if copied is not None:  # wait for this batch's copy only, and tell the allocator the tensors are used here
            current = torch.cuda.current_stream(self.device)
            current.wait_event(copied)
            for t in tensors:
                t.record_stream(current)
        return tuple(tensors)

    def _get(self):
        while True:
            try:
                return self._ready.get(timeout=_POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and self._ready.empty():
                    raise RuntimeError("the prefetch thread has stopped (closed, or it died without an error)")

    def close(self) -> None:
        """Stop the thread and wait for it (idempotent); batches drawn ahead are dropped."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self._stop.set()


class WindowIndex:
    """The host side of a resident feed: where the next `chunk` minibatches of `source` are, drawn in one call."""

    def __init__(self, source: Windows, rng: np.random.Generator, batch: int, chunk: int):
        self.source, self.rng, self.batch, self.chunk = source, rng, int(batch), int(chunk)
        lengths = np.array([len(c) for c in source.clips], dtype=np.int64)
        self.base = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)  # each clip's first row
        self.step = source.stride if source.raw else 1  # rows from one window start to the next

    def next_chunk(self) -> np.ndarray:
        """(2, chunk, batch) int64: each window's first row in the clips laid end to end, and its clip."""
        clips, starts = self.source.draw(self.rng, self.chunk * self.batch)
        return np.stack([self.base[clips] + starts * self.step, clips]).reshape(2, self.chunk, self.batch)


class ResidentFeed:
    """Minibatches (windows, clips) cut on `device` from the training clips uploaded once; the host draws only
    their positions (`WindowIndex`), `chunk` batches at a time, sent with one copy."""

    def __init__(self, source: Windows, rng: np.random.Generator, batch: int, device: torch.device | str, chunk: int):
        self.index, self.device = WindowIndex(source, rng, batch, chunk), torch.device(device)
        rows = sum(len(c) for c in source.clips)
        self.flat = torch.empty((rows, *source.window_shape()[1:]), dtype=torch.float32, device=self.device)
        for clip, first in zip(source.clips, self.index.base):
            self.flat[first : first + len(clip)].copy_(torch.from_numpy(np.array(clip, dtype=np.float32)))
        self.span = torch.arange(source.size, device=self.device)
        self._pending: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __iter__(self) -> ResidentFeed:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._pending:
            host = torch.from_numpy(self.index.next_chunk())
            if self.device.type == "cuda":
                host = host.pin_memory()
            offsets, clips = host.to(self.device, non_blocking=True)
            self._pending = list(zip(offsets.unbind(0), clips.unbind(0)))[::-1]  # popped from the end
        offsets, clips = self._pending.pop()
        return self.flat[offsets[:, None] + self.span], clips

    def close(self) -> None:
        """Free the uploaded clips."""
        self.flat, self._pending = None, []

    def __enter__(self) -> ResidentFeed:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def fits_on_device(source: Windows, device: torch.device | str) -> bool:
    """Whether `source`'s clips take at most `RESIDENT_SHARE` of `device`'s free memory (CUDA only)."""
    device = torch.device(device)
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return sum(c.nbytes for c in source.clips) <= RESIDENT_SHARE * free


def training_feed(source: Windows, rng: np.random.Generator, batch: int, device: torch.device | str):
    """The training minibatches of `source` on `device`: cut on the GPU from clips uploaded once where they fit,
    else drawn on the host (in a background thread and copied ahead on CUDA, in the loop on the CPU)."""
    if fits_on_device(source, device):
        return ResidentFeed(source, rng, batch, device, chunk=max(1, CHUNK_WINDOWS // int(batch)))
    draw = lambda out: source.sample(rng, batch, out=out)  # the one stream of batches, drawn in order
    return Prefetcher(draw, (batch, *source.window_shape()), device, threaded=prefetch_threaded(device))
