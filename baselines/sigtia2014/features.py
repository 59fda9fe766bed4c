"""Frames in, learned features out: frame reading and sampling, training statistics, hidden activations, 5 s windows."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from mirbench.device import to_device
from mirbench.system import TrackSet

LAYERS = ("1", "2", "3", "all")


def layer_name(layer) -> str:
    """'1', '2', '3' or 'all' (integers 1-3 accepted), else a ValueError."""
    name = str(layer).lower()
    if name not in LAYERS:
        raise ValueError(f"layer must be one of 1, 2, 3 or 'all', got {layer!r}")
    return name


def read_frames(tracks: TrackSet, frontend, rows: Callable[[int], object] | None = None) -> list[np.ndarray]:
    """Each track's frames, or the rows `rows(n_frames)` of them (a slice or sorted indices).

    Frames come from the run's FeatureStore. Entries already cached are read
    through a memory map, so that only the rows asked for are read from disk
    (a 30 s clip is 2.6 MB of |FFT| frames, and a trial reads hundreds); tracks
    not cached yet are computed and cached by the store first.
    """
    store = tracks.store
    if store.cache_dir is None:
        full = tracks.features(frontend)
        return [np.ascontiguousarray(f[rows(len(f))]) if rows else f for f in full]
    paths = [store.entry_path(tracks.dataset, t, frontend) for t in tracks.tracks]
    missing = [t for t, p in zip(tracks.tracks, paths) if not p.exists()]
    if missing:
        tracks.with_tracks(missing).features(frontend)
    out = []
    for track, path in zip(tracks.tracks, paths):
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            if arr.dtype != np.float32 or arr.ndim != 2:
                raise ValueError("not a float32 frame matrix")
        except (OSError, ValueError, EOFError):  # damaged entry: let the store recompute it
            arr = tracks.with_tracks([track]).features(frontend)[0]
        out.append(np.ascontiguousarray(arr[rows(len(arr))] if rows else arr))
    store.hits += len(tracks) - len(missing)
    return out


def pick_frames(n: int, per_track: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most `per_track` of `n` frames (all of them when None), drawn from `rng`."""
    if per_track is None or n <= per_track:
        return np.arange(n)
    return np.sort(rng.choice(n, per_track, replace=False))


def statistics(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation (constant dimensions get 1, not 0)."""
    x = frames.astype(np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std < 1e-8] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def hidden(model, x: torch.Tensor, layer: str, out: torch.Tensor | None = None) -> torch.Tensor:
    """Activations of hidden layer 1, 2 or 3, or of all three side by side; only the layers needed are run.

    With `out` (rows, width) given, they are written into it instead of a new tensor.
    """
    depth = 3 if layer == "all" else int(layer)
    h = (x - model.mean) / model.scale
    width = model.hidden[0].out_features
    if out is None:
        out = x.new_empty(len(x), width * (3 if layer == "all" else 1))
    for i, lin in enumerate(model.hidden[:depth]):
        h = model.act(lin(h))
        if layer == "all":
            out[:, i * width : (i + 1) * width] = h
    if layer != "all":
        out.copy_(h)
    return out


def feature_width(units: int, layer: str) -> int:
    return 3 * units if layer_name(layer) == "all" else units


def window_frames(frontend, window_seconds: float, hop_seconds: float, frame_step: int) -> tuple[int, int]:
    """(size, hop) in frames of a window of `window_seconds` every `hop_seconds`, on every `frame_step`-th frame."""
    rate = frontend.sample_rate / (frontend.hop_length * frame_step)
    return max(1, round(window_seconds * rate)), max(1, round(hop_seconds * rate))


def n_windows(n_frames: int, size: int, hop: int) -> int:
    """As `mirbench.kit.aggregate.windows`: a track shorter than a window gives one window over all its frames."""
    return len(range(0, max(1, n_frames - size + 1), hop))


def pooled_windows(h: torch.Tensor, size: int, hop: int) -> torch.Tensor:
    """Mean and (population) variance of (frames, dims) over windows of `size` every `hop`: (windows, 2 * dims).

    Equal to `mirbench.kit.aggregate.windows(h, size, hop, ("mean", "var"))` up to float32 rounding, computed on
    the device by average pooling of the centred frames and their squares.
    """
    size = min(size, len(h))
    x = h - h.mean(dim=0)  # centring keeps E[x^2] - E[x]^2 accurate in float32
    t = x.T.unsqueeze(0)  # (1, dims, frames)
    mean = F.avg_pool1d(t, size, hop)[0].T
    var = (F.avg_pool1d(t * t, size, hop)[0].T - mean * mean).clamp_(min=0)
    return torch.cat([mean + h.mean(dim=0), var], dim=1)


def track_vectors(
    model,
    tracks_frames: list[np.ndarray],
    layer: str,
    device,
    window: tuple[int, int] | None = None,
    per_track: int | None = None,
    rng: np.random.Generator | None = None,
    chunk: int = 16384,
) -> tuple[np.ndarray, list[int]]:
    """The forest's samples: features of each track's frames, or their windows' mean and variance.

    `per_track` keeps at most that many frames (or windows) of each track,
    drawn from `rng` (frames are dropped before the network sees them).
    Returns the stacked samples and how many belong to each track.
    """
    layer = layer_name(layer)
    rng = rng if rng is not None else np.random.default_rng(0)
    if window is None and per_track is not None:
        tracks_frames = [f[pick_frames(len(f), per_track, rng)] for f in tracks_frames]
    counts = [len(f) for f in tracks_frames]
    width = feature_width(model.hidden[0].out_features, layer)
    model.eval()
    with torch.no_grad():
        X = np.concatenate(tracks_frames)
        H = torch.empty(len(X), width, device=device)
        for s in range(0, len(X), chunk):
            hidden(model, to_device(X[s : s + chunk], device), layer, out=H[s : s + chunk])
        if window is None:
            return H.cpu().numpy(), counts
        size, hop = window
        n_win = [n_windows(n, size, hop) for n in counts]
        keep = [pick_frames(k, per_track, rng) for k in n_win]
        out = torch.empty(sum(len(k) for k in keep), 2 * width, device=device)
        row = 0
        for h, k in zip(torch.split(H, counts), keep):
            pooled = pooled_windows(h, size, hop)
            out[row : row + len(k)] = pooled if len(k) == len(pooled) else pooled[torch.as_tensor(k, device=device)]
            row += len(k)
        return out.cpu().numpy(), [len(k) for k in keep]
