"""The feature store: frontend features of tracks, computed in batches on a device and cached on disk.

An entry lives at `cache_dir/features/<frontend.key()>/<audio key>.npy`, or
under `features/<package>/` for a frontend whose class another top-level
package than mirbench defines (a plug-in's). The audio key hashes the file's
bytes with the frontend's sample rate and the loader's version, so an entry is
reused exactly when the same audio goes through the same frontend with the same
parameters, wherever the file lives; a plug-in's frontend that took a built-in's
name never reads the built-in's entries.
Entries are written to a temporary file and renamed into place, so processes
that compute the same entry at once never leave a torn file.

An entry is trusted only as far as it is checked: beside `<audio key>.npy`,
`<audio key>.json` records the track's length in samples at the frontend's rate
and the array's shape, and an entry is used only when it is float32, its shape
is the one recorded and the one the frontend gives for that length
(`n_frames(n_samples)`, `n_dims`), and every value is finite. Anything else (a
missing or stale record, another shape, NaN) is logged naming the entry, removed
and recomputed. An entry that passes is not scanned again by the same process
while its files keep their size and mtime. Features that come out NaN or
infinite are never cached: they make the track unusable (an AudioError of kind
"non-finite" naming it), like audio that cannot be decoded.

Extraction streams: tracks are decoded one at a time into batches of at most
`batch_size` tracks and `max_batch_samples` zero-padded samples, and a batch's
audio is released before the next one is decoded. Memory held while features
of N tracks are computed is therefore one batch's audio and features, plus
the returned features when they are returned in memory; with `mmap=True` they
are memory maps of the cache entries, and N does not count.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from mirbench import audio as audio_io
from mirbench.audio import AudioError
from mirbench.datasets.base import Dataset, Track
from mirbench.frontends.base import Frontend

#: Default bound on a batch's zero-padded audio: 2**24 samples (64 MB of float32) holds 16 tracks of 30 s at
#: 22050 Hz, while one long track no longer pads a whole batch of short ones to its length.
MAX_BATCH_SAMPLES = 1 << 24
# Open files a process keeps for itself beyond the memory maps of one request (see `_allow_open_files`).
_SPARE_FILES = 64
# Entries found valid, as (path, size, mtime_ns of the .npy, size, mtime_ns of its sidecar): an entry read again
# by the process (every trial reads the same features) is not scanned again while its files are unchanged.
_VALID_ENTRIES: set[tuple[str, int, int, int, int]] = set()
# Values checked for finiteness at a time (4 MB of float32): a memory-mapped entry is scanned without loading it whole.
_SCAN_CHUNK = 1 << 20

log = logging.getLogger("mirbench.features")


class FeatureStore:
    """Features of tracks through a frontend, one (frames, dims) float32 array per track.

    Misses are computed in batches of at most `batch_size` tracks whose audio,
    zero-padded to the batch's longest track, holds at most `max_batch_samples`
    samples (a longer track is computed alone).

    Counters for the runner: `hits` and `misses` count tracks, `seconds` is the
    wall time spent on misses (loading audio, computing, writing the cache).
    """

    def __init__(
        self,
        cache_dir: Path | str | None,
        device: str | torch.device = "cpu",
        batch_size: int = 16,
        max_batch_samples: int = MAX_BATCH_SAMPLES,
    ):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if int(max_batch_samples) < 1:
            raise ValueError(f"max_batch_samples must be at least 1, got {max_batch_samples}")
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.max_batch_samples = int(max_batch_samples)
        self.seconds = 0.0
        self.hits = 0
        self.misses = 0

    # -- keys -------------------------------------------------------------------
    def content_hash(self, path: Path) -> str:
        """sha256 of the file's bytes (mirbench.content: memoised in the process and in the cache)."""
        from mirbench.content import content_hash

        return content_hash(path)

    def audio_key(self, dataset: Dataset, track: Track, sample_rate: int) -> str:
        """Hash of what `dataset.load_audio(track, sample_rate)` returns, without loading it.

        A dataset that overrides `load_audio` (cropping excerpts, say) may return
        different audio for tracks sharing a file, so its class, parameters and
        the track id join the key.
        """
        parts: list[object] = [self.content_hash(track.path), int(sample_rate), audio_io.LOADER_VERSION]
        if type(dataset).load_audio is not Dataset.load_audio:
            cls = type(dataset)
            parts += [f"{cls.__module__}.{cls.__qualname__}", dataset.params, track.id]
        blob = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def entry_path(self, dataset: Dataset, track: Track, frontend: Frontend) -> Path | None:
        """Where `track`'s features through `frontend` are cached (None without a cache)."""
        if self.cache_dir is None:
            return None
        key = self.audio_key(dataset, track, frontend.sample_rate)
        package = type(frontend).__module__.partition(".")[0]
        folder = frontend.key() if package == "mirbench" else f"{package}/{frontend.key()}"
        return self.cache_dir / "features" / folder / f"{key}.npy"

    # -- public -----------------------------------------------------------------
    def get(self, dataset: Dataset, tracks: Sequence[Track], frontend: Frontend, mmap: bool = False) -> list[np.ndarray]:
        """Features of `tracks` in order; cached entries are read, the others computed in batches.

        `mmap=True` returns cached entries as read-only memory maps: a large
        dataset's features (MagnaTagATune's raw audio is ~35 GB) are paged in
        as they are read and shared by processes through the page cache, and
        computing them holds one batch at a time. (Without a cache directory
        there is nothing to map, and features are returned in memory.) Each map
        keeps a file open, so the soft limit of open files is raised towards the
        hard one when the request needs it; past the hard limit an OSError says so.

        Raises AudioError carrying the track's id when its audio cannot be
        decoded or its features come out NaN or infinite (kind "non-finite");
        the features computed before it are cached.
        """
        if mmap and self.cache_dir is not None:
            _allow_open_files(len(tracks))
        out: list[np.ndarray | None] = [None] * len(tracks)
        pending: dict[Path | int, list[int]] = {}  # entry (or index without a cache) -> positions
        for i, track in enumerate(tracks):
            try:
                entry = self.entry_path(dataset, track, frontend)
            except AudioError as exc:
                raise AudioError.of_track(track.id, exc) from None
            cached = _read_entry(entry, frontend, mmap) if entry is not None else None
            if cached is not None:
                out[i] = cached
                self.hits += 1
            else:
                pending.setdefault(entry if entry is not None else i, []).append(i)
        jobs = [(entry, positions, tracks[positions[0]]) for entry, positions in pending.items()]
        if jobs:
            start = time.perf_counter()
            try:
                for batch, audios in self._batches(dataset, jobs, frontend):
                    self._keep(batch, self._compute(audios, frontend), out, frontend, mmap)
                    self.misses += sum(len(positions) for _, positions, _ in batch)
            finally:
                self.seconds += time.perf_counter() - start
        return out  # type: ignore[return-value]

    def stats(self) -> dict:
        """The counters as a dict, for result records."""
        return {"hits": self.hits, "misses": self.misses, "seconds": self.seconds}

    # -- computation ------------------------------------------------------------
    def _batches(self, dataset: Dataset, jobs: list, frontend: Frontend) -> Iterator[tuple[list, list[np.ndarray]]]:
        """Jobs in order, grouped with their decoded audio: at most `batch_size` per group, and at most
        `max_batch_samples` samples once padded to the group's longest track (a longer track goes alone).

        Audio is decoded one track at a time, just before its group is computed; only a track that
        would overflow the group it follows waits, decoded, while that group is computed.
        """
        batch: list = []
        audios: list[np.ndarray] = []
        longest = 0
        for job in jobs:
            track = job[2]
            try:
                audio = dataset.load_audio(track, frontend.sample_rate)
            except AudioError as exc:
                raise AudioError.of_track(track.id, exc) from None
            if batch and (len(batch) + 1) * max(longest, len(audio)) > self.max_batch_samples:
                yield batch, audios
                batch, audios, longest = [], [], 0
            batch.append(job)
            audios.append(audio)
            longest = max(longest, len(audio))
            del audio
            if len(batch) == self.batch_size:
                yield batch, audios
                batch, audios, longest = [], [], 0
        if batch:
            yield batch, audios

    def _compute(self, audios: list[np.ndarray], frontend: Frontend) -> list[tuple[np.ndarray, int]]:
        """Zero-pad to the longest, run the frontend once, and return each row's own frames (views of one array)
        with the row's length in samples.

        Consumes `audios`: each decoded track is dropped from the list once copied into the padded batch,
        so a batch's audio is held once, not twice, while the frontend runs.
        """
        lengths = [len(a) for a in audios]
        if len(audios) == 1:
            batch = audios[0][None, :]  # alone: no padding, no copy
        else:
            batch = np.zeros((len(audios), max(lengths)), dtype=np.float32)  # pages are touched as rows fill
            for row, n in enumerate(lengths):
                batch[row, :n] = audios[row]
                audios[row] = None  # type: ignore[call-overload]
        audios.clear()
        x = torch.from_numpy(batch).to(self.device)
        del batch  # on the CPU, x is the same memory; on a GPU, the host copy goes now
        with torch.no_grad():
            feats = frontend(x, lengths=torch.tensor(lengths, device=self.device))
        del x
        feats = feats.to(torch.float32).cpu().numpy()
        return [(feats[row, : frontend.n_frames(n)], n) for row, n in enumerate(lengths)]

    def _keep(self, batch: list, rows: list[tuple[np.ndarray, int]], out: list, frontend: Frontend, mmap: bool) -> None:
        """Write a computed batch to the cache and put each track's features at its positions in `out`.

        `rows` are views of the batch's padded output with their tracks' lengths: what `out` keeps is a memory
        map of the written entry (`mmap`) or a copy, never the view, so no batch outlives its call. A track whose
        features are NaN or infinite is neither cached nor kept: once the others are, an AudioError (kind
        "non-finite") names it.
        """
        unusable = None
        for (entry, positions, track), (arr, n_samples) in zip(batch, rows):
            if not _all_finite(arr):
                unusable = unusable or _non_finite_features(track, arr, frontend)
                continue
            mapped = None
            if isinstance(entry, Path):
                _write_entry(entry, arr, n_samples)
                mapped = _read_entry(entry, frontend, mmap=True) if mmap else None
            for i in positions:
                out[i] = mapped if mapped is not None else arr.copy()
        if unusable is not None:
            raise unusable


def _non_finite_features(track: Track, arr: np.ndarray, frontend: Frontend) -> AudioError:
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    exc = AudioError(
        f"{track.path}: its {frontend.name} features hold {bad} NaN or infinite value(s) of {arr.size} (audio far "
        "outside [-1, 1], or otherwise broken); check the file with 'mirbench data check' and re-export it",
        kind="non-finite",
    )
    return AudioError.of_track(track.id, exc)


def _all_finite(arr: np.ndarray) -> bool:
    """Whether every value of `arr` is finite, scanned in chunks (a memory map is paged through, not copied)."""
    flat = arr.reshape(-1)
    return all(np.isfinite(flat[i : i + _SCAN_CHUNK]).all() for i in range(0, flat.size, _SCAN_CHUNK))


def _sidecar(path: Path) -> Path:
    """The record beside an entry: the track's length in samples (at the frontend's rate) and the array's shape."""
    return path.with_suffix(".json")


def _read_entry(path: Path, frontend: Frontend, mmap: bool = False) -> np.ndarray | None:
    """A cached array that fits `frontend` (a read-only memory map if asked), or None (then it is recomputed).

    None when absent; when present but unreadable or not what the frontend gives for the track's recorded length
    (see the module's docstring), the entry is logged, removed and None returned.
    """
    try:
        st = path.stat()
    except OSError:
        return None
    try:
        side_st = _sidecar(path).stat()
    except OSError:
        log.info("cached features %s have no record of their track's length beside them (written by an older "
                 "mirbench?); computing them again", path)
        _discard(path)
        return None
    memo = (str(path), st.st_size, st.st_mtime_ns, side_st.st_size, side_st.st_mtime_ns)
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):  # not a bad entry: the process is out of file descriptors
            raise OSError(exc.errno, f"{path}: cannot open the cached features: {_too_many_files()}") from None
        reason = f"cannot be read ({exc.strerror or type(exc).__name__})"
    except (ValueError, EOFError):
        reason = "are not a complete .npy array"
    else:
        if memo in _VALID_ENTRIES:
            return arr
        reason = _misfit(arr, _sidecar(path), frontend)
        if reason is None:
            _VALID_ENTRIES.add(memo)
            return arr
        del arr
    log.warning("cached features %s %s; computing them again", path, reason)
    _discard(path)
    return None


def _misfit(arr: np.ndarray, sidecar: Path, frontend: Frontend) -> str | None:
    """Why a loaded entry is not what `frontend` gives for the track its sidecar describes, or None when it is."""
    if arr.dtype != np.float32 or arr.ndim != 2:
        return f"are {arr.dtype} of shape {arr.shape}, not float32 (frames, dims)"
    try:
        meta = json.loads(sidecar.read_text())
        n_samples, shape = meta["n_samples"], tuple(meta["shape"])
        if not all(type(v) is int and v >= 0 for v in (n_samples, *shape)) or len(shape) != 2:
            raise TypeError
    except (OSError, ValueError, TypeError, KeyError):
        return f"have an unreadable record of their track's length ({sidecar.name})"
    if shape != arr.shape:
        return f"have shape {arr.shape}, not the {shape} recorded in {sidecar.name}"
    want = (frontend.n_frames(n_samples), frontend.n_dims)
    if arr.shape != want:
        return f"have shape {arr.shape}, but {frontend.name} gives {want} for a track of {n_samples} samples"
    if not _all_finite(arr):
        return f"hold {int(np.count_nonzero(~np.isfinite(arr)))} NaN or infinite value(s)"
    return None


def _discard(path: Path) -> None:
    """Remove an entry and its sidecar (what another process removed first is not an error)."""
    for p in (path, _sidecar(path)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove %s (%s); it will be replaced when its features are written", p, exc.strerror or exc)


def _write_entry(path: Path, arr: np.ndarray, n_samples: int) -> None:
    """Write `arr` to `path` and its sidecar beside it, each atomically; the sidecar first, so that a reader that
    finds the array finds its record too."""
    record = {"n_samples": int(n_samples), "shape": [int(n) for n in arr.shape]}
    _write_atomic(_sidecar(path), lambda f: f.write(json.dumps(record).encode()))
    _write_atomic(path, lambda f: np.save(f, arr, allow_pickle=False))


def _write_atomic(path: Path, write) -> None:
    """`write(file)` into a temporary file in `path`'s directory, then os.replace it onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _open_files() -> int | None:
    """How many file descriptors this process has open (None where the platform does not say)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return None


def _allow_open_files(n_maps: int) -> None:
    """Raise the soft limit of open files, up to the hard one, so that `n_maps` more memory maps fit.

    Every memory map keeps a file descriptor open (Python's mmap duplicates it), and a system given
    `mmap=True` features holds one map per track; with the common soft limit of 1024, a dataset of a
    few thousand tracks would otherwise run out of descriptors.
    """
    try:
        import resource
    except ImportError:  # not a POSIX system
        return
    in_use = _open_files()
    if in_use is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = in_use + n_maps + _SPARE_FILES
    if soft == resource.RLIM_INFINITY or wanted <= soft:
        return
    new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if new > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):  # e.g. macOS caps the soft limit below an unlimited hard one
            pass


def _too_many_files() -> str:
    try:
        import resource

        limit = f" ({resource.getrlimit(resource.RLIMIT_NOFILE)[0]})"
    except ImportError:
        limit = ""
    return (
        f"the process has reached its limit of open files{limit}; features asked for with mmap=True keep "
        "one file open per track, so raise the limit (ulimit -n) or ask for fewer tracks at once"
    )
