"""The feature store: frontend features of tracks, computed in batches on a device and cached on disk.

An entry lives at `cache_dir/features/<frontend.key()>/<audio key>.npy`. The
audio key hashes the file's bytes with the frontend's sample rate and the
loader's version, so an entry is reused exactly when the same audio goes
through the same frontend with the same parameters, wherever the file lives.
Entries are written to a temporary file and renamed into place, so processes
that compute the same entry at once never leave a torn file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from mirbench import audio as audio_io
from mirbench.dataset import AudioError, Dataset, Track
from mirbench.frontends.base import Frontend

_HASH_CHUNK = 1 << 20
# (resolved path, size, mtime_ns) -> sha256, shared by every store of the process:
# a run creates one store per trial, and rehashing the audio each time is waste.
_CONTENT_HASHES: dict[tuple[str, int, int], str] = {}


def default_cache_dir() -> Path:
    """`$MIRBENCH_CACHE` if set, else the platform's user cache directory for mirbench."""
    env = os.environ.get("MIRBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mirbench"))


class FeatureStore:
    """Features of tracks through a frontend, one (frames, dims) float32 array per track.

    Counters for the runner: `hits` and `misses` count tracks, `seconds` is the
    wall time spent on misses (loading audio, computing, writing the cache).
    """

    def __init__(self, cache_dir: Path | str | None, device: str | torch.device = "cpu", batch_size: int = 16):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.seconds = 0.0
        self.hits = 0
        self.misses = 0
        self._content_hashes = _CONTENT_HASHES

    # -- keys -------------------------------------------------------------------
    def content_hash(self, path: Path) -> str:
        """sha256 of the file's bytes, memoised by (resolved path, size, mtime_ns)."""
        resolved = Path(path).resolve()
        try:
            st = resolved.stat()
            memo = (str(resolved), st.st_size, st.st_mtime_ns)
            digest = self._content_hashes.get(memo)
            if digest is None:
                h = hashlib.sha256()
                with open(resolved, "rb") as f:
                    while chunk := f.read(_HASH_CHUNK):
                        h.update(chunk)
                digest = self._content_hashes[memo] = h.hexdigest()
        except FileNotFoundError:
            raise AudioError(f"{path}: file not found") from None
        except OSError as exc:
            raise AudioError(f"{path}: cannot read file ({exc.strerror or exc})") from None
        return digest

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
        return self.cache_dir / "features" / frontend.key() / f"{key}.npy"

    # -- public -----------------------------------------------------------------
    def get(self, dataset: Dataset, tracks: Sequence[Track], frontend: Frontend, mmap: bool = False) -> list[np.ndarray]:
        """Features of `tracks` in order; cached entries are read, the others computed in batches.

        `mmap=True` returns cached entries as read-only memory maps: a large
        dataset's features (MagnaTagATune's raw audio is ~35 GB) are paged in
        as they are read and shared by processes through the page cache.
        """
        out: list[np.ndarray | None] = [None] * len(tracks)
        pending: dict[Path | int, list[int]] = {}  # entry (or index without a cache) -> positions
        for i, track in enumerate(tracks):
            try:
                entry = self.entry_path(dataset, track, frontend)
            except AudioError as exc:
                raise AudioError(f"track {track.id!r}: {exc}") from None
            cached = _read_entry(entry, mmap) if entry is not None else None
            if cached is not None:
                out[i] = cached
                self.hits += 1
            else:
                pending.setdefault(entry if entry is not None else i, []).append(i)
        jobs = list(pending.items())
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start : start + self.batch_size]
            t0 = time.perf_counter()
            feats = self._compute(dataset, [tracks[positions[0]] for _, positions in batch], frontend)
            for (entry, positions), arr in zip(batch, feats):
                if isinstance(entry, Path):
                    _write_entry(entry, arr)
                    mapped = _read_entry(entry, mmap=True) if mmap else None
                    arr = arr if mapped is None else mapped
                for k, i in enumerate(positions):
                    out[i] = arr if k == 0 or mmap else arr.copy()
            self.misses += sum(len(positions) for _, positions in batch)
            self.seconds += time.perf_counter() - t0
        return out  # type: ignore[return-value]

    def stats(self) -> dict:
        """The counters as a dict, for result records."""
        return {"hits": self.hits, "misses": self.misses, "seconds": self.seconds}

    # -- computation ------------------------------------------------------------
    def _compute(self, dataset: Dataset, tracks: Sequence[Track], frontend: Frontend) -> list[np.ndarray]:
        """Load, zero-pad to the longest, run the frontend once, trim each row to its own frames."""
        audios = []
        for track in tracks:
            try:
                audios.append(dataset.load_audio(track, frontend.sample_rate))
            except AudioError as exc:
                raise AudioError(f"track {track.id!r}: {exc}") from None
        lengths = [len(a) for a in audios]
        batch = np.zeros((len(audios), max(lengths)), dtype=np.float32)
        for row, a in enumerate(audios):
            batch[row, : len(a)] = a
        x = torch.from_numpy(batch).to(self.device)
        with torch.no_grad():
            feats = frontend(x, lengths=torch.tensor(lengths, device=self.device))
        feats = feats.to(torch.float32).cpu().numpy()
        return [feats[row, : frontend.n_frames(n)].copy() for row, n in enumerate(lengths)]


def _read_entry(path: Path, mmap: bool = False) -> np.ndarray | None:
    """A cached array (a read-only memory map if asked), or None if absent or unreadable (then it is recomputed)."""
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (OSError, ValueError, EOFError):
        return None
    if arr.dtype != np.float32 or arr.ndim != 2:
        return None
    return arr


def _write_entry(path: Path, arr: np.ndarray) -> None:
    """Write `arr` to `path` atomically: a temporary file in the same directory, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, arr, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
