"""A cache of trained models, so that variants differing only downstream of a model share one training.

`load_or_train(cache_dir, key, train_fn)` returns the state dict stored under
`<cache_dir>/models/<hash of key>/` when there is one, else calls
`train_fn() -> (state_dict, info)`, stores both and returns them. The key is a
JSON-able dict naming everything that determines the weights (the data it was
trained on — e.g. `TrackSet.split_key()` —, the seed, every training
parameter, a version of the training code); a change to any of them is a new
entry. Nothing is shared when `cache_dir` is None.

An entry is a directory holding `model.pt` (the state dict, loaded with
`weights_only=True` onto the CPU), `info.json` and `key.json`. It is written
into a temporary sibling and renamed into place, so a reader never sees half an
entry; a per-key lock file makes a second process that wants the same model
wait for the first one to train it instead of training it again (POSIX; without
`fcntl` both train and the first rename wins). An unreadable entry is retrained
and replaced, and so is one that loads but does not fit the model it is for:
callers pass `fits=state_fits(model)`, built from their freshly constructed
network, and an entry with missing or unexpected keys, other shapes or
non-finite weights is logged by name and trained again.

Every new entry's `info.json` also holds `TRAIN_S`, the seconds `train_fn` took (kept out of the info
`load_or_train` returns, which is the trainer's own), so that a variant that reuses the model can say what
its training cost: `network_timing(cache_dir, key, cached)` gives the keys a system's `training_info()`
reports for it (`network_train_s`, `network_shared`), and the leaderboard charges that time to every
variant built on the network, marked shared.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import torch

log = logging.getLogger("mirbench.kit.model_cache")

MODEL_FILE = "model.pt"
INFO_FILE = "info.json"
KEY_FILE = "key.json"
TRAIN_S = "cache_train_s"  # the info key the cache adds: wall seconds the model took to train


def key_hash(key: dict) -> str:
    """A stable hash of a JSON-able key (sorted keys; non-JSON values by `str`)."""
    blob = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def entry_dir(cache_dir: str | Path, key: dict) -> Path:
    """Where the model named by `key` lives (whether or not it exists yet)."""
    return Path(cache_dir) / "models" / key_hash(key)


def load_or_train(
    cache_dir: str | Path | None,
    key: dict,
    train_fn: Callable[[], tuple[dict, dict]],
    fits: Callable[[dict], str | None] | None = None,
) -> tuple[dict, dict, bool]:
    """(state_dict, info, cached): the stored model for `key`, or a freshly trained (and stored) one.

    `train_fn` returns a state dict of tensors and a JSON-able info dict (its
    training time, epochs...); the entry stores beside it `TRAIN_S`, the seconds it
    took (see `network_timing`). `cached` says whether the model came from the cache.
    `fits(state)` says why a stored state dict does not fit the model (None when
    it does, e.g. `state_fits(model)`); such an entry is retrained and replaced.
    """
    if cache_dir is None:
        state, info = train_fn()
        return state, dict(info), False
    final = entry_dir(cache_dir, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _lock(final.with_name(final.name + ".lock")):
        found = _read(final)
        if found is not None:
            misfit = fits(found[0]) if fits is not None else None
            if misfit is None:
                return found[0], found[1], True
            log.warning("model cache entry %s does not fit its model (%s); training again", final, misfit)
            shutil.rmtree(final, ignore_errors=True)
        start = time.perf_counter()
        state, info = train_fn()
        info = dict(info)
        _write(final, key, state, {**info, TRAIN_S: time.perf_counter() - start})
        return state, info, False


def stored_train_seconds(cache_dir: str | Path | None, key: dict) -> float | None:
    """The seconds the model stored under `key` took to train, as its entry recorded them; None without a cache,
    an entry, or a valid number there (an entry stored before the cache kept the time)."""
    if cache_dir is None:
        return None
    try:
        seconds = json.loads((entry_dir(cache_dir, key) / INFO_FILE).read_text()).get(TRAIN_S)
    except (OSError, ValueError, AttributeError):
        return None
    ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds < float("inf")
    return float(seconds) if ok else None


def network_timing(cache_dir: str | Path | None, key: dict, cached: bool) -> dict:
    """What a system's `training_info()` reports about a network from `load_or_train(cache_dir, key, ...)`:
    `network_train_s`, the seconds it took to train (also when another variant trained it; absent when unknown),
    and `network_shared`, whether it came from the cache (the trial's fit_s then leaves its training out)."""
    seconds = stored_train_seconds(cache_dir, key)
    return ({} if seconds is None else {"network_train_s": seconds}) | {"network_shared": bool(cached)}


def _read(path: Path) -> tuple[dict, dict] | None:
    if not path.is_dir():
        return None
    try:
        state = torch.load(path / MODEL_FILE, map_location="cpu", weights_only=True)
        info = json.loads((path / INFO_FILE).read_text())
        if not isinstance(state, dict) or not isinstance(info, dict):
            raise ValueError(f"{MODEL_FILE} holds no state dict, or {INFO_FILE} no object")
        info.pop(TRAIN_S, None)  # the cache's own: stored_train_seconds reads it
    except Exception as exc:  # a damaged entry is retrained, not fatal
        log.warning("model cache entry %s is unreadable (%s); training again", path, exc)
        shutil.rmtree(path, ignore_errors=True)
        return None
    return state, info


def state_fits(model: torch.nn.Module) -> Callable[[object], str | None]:
    """A `fits` check for `load_or_train`: why a state dict cannot be loaded into `model` as trained weights
    (not a dict, keys missing or unexpected, a tensor of another shape, a NaN or infinite weight), or None."""
    expected = model.state_dict()

    def fits(state) -> str | None:
        if not isinstance(state, dict):
            return f"a {type(state).__name__}, not a state dict"
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        if missing or unexpected:
            parts = [f"{what} {', '.join(map(str, keys[:5]))}{' ...' if len(keys) > 5 else ''}"
                     for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
            return "; ".join(parts)
        for name, want in expected.items():
            got = state[name]
            if not isinstance(want, torch.Tensor):
                continue
            if not isinstance(got, torch.Tensor):
                return f"{name} is a {type(got).__name__}, not a tensor"
            if got.shape != want.shape:
                return f"{name} has shape {tuple(got.shape)}, the model's has {tuple(want.shape)}"
            if got.is_floating_point() and not bool(torch.isfinite(got).all()):
                return f"{name} holds NaN or infinite values"
        return None

    return fits


def _write(final: Path, key: dict, state: dict, info: dict) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        cpu_state = {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in state.items()}
        torch.save(cpu_state, tmp / MODEL_FILE)
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=1, sort_keys=True, default=str))
        (tmp / KEY_FILE).write_text(json.dumps(key, indent=1, sort_keys=True, default=str))
        try:
            os.rename(tmp, final)
        except OSError:  # another process stored it first (no lock on this platform): keep theirs
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _lock(path: Path):
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
