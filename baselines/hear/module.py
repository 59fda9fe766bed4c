"""A HEAR 2021 module by name: imported on demand, its API checked, what it is named (name, version, weights
hash), and its model loaded onto a device.

The HEAR API (https://hearbenchmark.com/hear-api.html): a module defines `load_model(model_file_path="")`,
`get_scene_embeddings(audio, model)` and `get_timestamp_embeddings(audio, model)`; the model carries
`sample_rate`, `scene_embedding_size` and `timestamp_embedding_size`. Nothing here runs at import: the module is
imported when a system fits.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import json
from pathlib import Path

import numpy as np
import torch

from mirbench.errors import InputError

API = ("load_model", "get_scene_embeddings", "get_timestamp_embeddings")
MODEL_ATTRS = ("sample_rate", "scene_embedding_size", "timestamp_embedding_size")


def import_hear_module(name: str):
    """The module named `name`, or an InputError naming it and saying what to install."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"module must name a HEAR module (e.g. 'hearbaseline.naive'), got {name!r}")
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise InputError(f"HEAR module {name!r} cannot be imported ({exc}); pip install the package that "
                             f"provides it (e.g. pip install {missing.partition('.')[0]})") from None
        raise InputError(f"HEAR module {name!r} cannot be imported: {exc}; pip install what it needs"
                         + (f" (pip install {missing.partition('.')[0]})" if missing else "")) from None
    check_api(module, name)
    return module


def check_api(module, name: str) -> None:
    """Raise InputError naming the first function of the HEAR API that `module` lacks."""
    for function in API:
        if not callable(getattr(module, function, None)):
            raise InputError(f"module {name!r} does not implement the HEAR API: it has no {function}() "
                             f"(a HEAR module defines {', '.join(API)})")


def module_version(module) -> str:
    """The version of the distribution that installs `module` (importlib.metadata), else its `__version__` (or its
    top package's), else a hash of its source file: what the embeddings' cache key holds for "which code"."""
    top = module.__name__.partition(".")[0]
    for dist in [top, *sorted(_distributions().get(top, []))]:  # most distributions are named as their package
        try:
            return f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    for owner in (module, importlib.import_module(top)):
        version = getattr(owner, "__version__", None)
        if isinstance(version, str) and version:
            return version
    source = getattr(module, "__file__", None)
    if source and Path(source).is_file():
        return "source-sha256:" + hashlib.sha256(Path(source).read_bytes()).hexdigest()[:16]
    return ""


@functools.lru_cache(maxsize=1)
def _distributions() -> dict:
    """Top-level package -> the distributions that install it (a scan of every installed one: done once)."""
    return importlib.metadata.packages_distributions()


def weights_sha256(weights: str) -> str:
    """sha256 of the weights file's bytes; "" for no weights file. InputError when the file is not there."""
    if weights == "":
        return ""
    path = Path(weights).expanduser()
    if not path.is_file():
        raise InputError(f"weights file {weights} not found (or not a file); give the path of the model's weights, "
                         "or weights = \"\" for a module that needs none")
    from mirbench.content import content_hash

    return content_hash(path)


def load_model(module, name: str, weights: str, device: torch.device):
    """`module.load_model(weights)` (no argument for ""), moved to `device` and put in eval mode when it is a torch
    module, its HEAR attributes checked."""
    model = module.load_model(weights) if weights else module.load_model()
    if isinstance(model, torch.nn.Module):
        model = model.to(device).eval()
    model_spec(model, name)
    return model


def model_spec(model, name: str) -> dict:
    """{sample_rate, scene_embedding_size, timestamp_embedding_size} of a loaded model, each a positive integer."""
    spec = {}
    for attr in MODEL_ATTRS:
        value = getattr(model, attr, None)
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"module {name!r}: its model's {attr} is {value!r}, not a positive integer (the HEAR "
                             f"API asks every model for {', '.join('model.' + a for a in MODEL_ATTRS)})")
        spec[attr] = int(value)
    return spec


def scene_embeddings(module, name: str, model, audio: torch.Tensor) -> torch.Tensor:
    """`get_scene_embeddings(audio, model)` without gradients, checked to be (n_sounds, scene_embedding_size)."""
    with torch.no_grad():
        out = module.get_scene_embeddings(audio, model)
    out = torch.as_tensor(out).to(torch.float32)
    want = (audio.shape[0], int(model.scene_embedding_size))
    if tuple(out.shape) != want:
        raise InputError(f"module {name!r}: get_scene_embeddings returned shape {tuple(out.shape)} for "
                         f"{audio.shape[0]} sounds, expected (n_sounds, scene_embedding_size) = {want}")
    return out


# -- the model's attributes, recorded so that a fit whose embeddings are all cached never loads the model ------------
def spec_path(cache_dir: Path, identity: dict) -> Path:
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return Path(cache_dir) / "features" / "mirbench_baselines" / "hear-models" / f"{hashlib.sha256(blob.encode()).hexdigest()[:24]}.json"


def read_spec(path: Path, identity: dict) -> dict | None:
    """The recorded spec of the model named by `identity`, or None when absent or not trustworthy (then reloaded)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("identity") != identity or not isinstance(data.get("spec"), dict):
        return None
    spec = data["spec"]
    ok = set(spec) == set(MODEL_ATTRS) and all(type(v) is int and v >= 1 for v in spec.values())
    return spec if ok else None


def write_spec(path: Path, identity: dict, spec: dict) -> None:
    from mirbench.jsonfile import write_json_atomic

    try:
        write_json_atomic(path, {"identity": identity, "spec": spec})
    except OSError:  # a read-only cache costs a model load next time, nothing else
        pass
