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
and replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import torch

log = logging.getLogger("mirbench.artifacts")

MODEL_FILE = "model.pt"
INFO_FILE = "info.json"
KEY_FILE = "key.json"


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
) -> tuple[dict, dict, bool]:
    """(state_dict, info, cached): the stored model for `key`, or a freshly trained (and stored) one.

    `train_fn` returns a state dict of tensors and a JSON-able info dict (its
    training time, epochs...). `cached` says whether the model came from the cache.
    """
    if cache_dir is None:
        state, info = train_fn()
        return state, dict(info), False
    final = entry_dir(cache_dir, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _lock(final.with_name(final.name + ".lock")):
        found = _read(final)
        if found is not None:
            return found[0], found[1], True
        state, info = train_fn()
        info = dict(info)
        _write(final, key, state, info)
        return state, info, False


def _read(path: Path) -> tuple[dict, dict] | None:
    if not path.is_dir():
        return None
    try:
        state = torch.load(path / MODEL_FILE, map_location="cpu", weights_only=True)
        info = json.loads((path / INFO_FILE).read_text())
    except Exception as exc:  # a damaged entry is retrained, not fatal
        log.warning("model cache entry %s is unreadable (%s); training again", path, exc)
        shutil.rmtree(path, ignore_errors=True)
        return None
    return state, info


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
