"""Dataset modules, one per dataset, and the one way to open a dataset named by a suite."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from mirbench.cache import cache_root
from mirbench.datasets.base import Dataset, DatasetError


def data_root(explicit: str | Path | None = None) -> Path | None:
    """`--data-root`, else `$MIRBENCH_DATA`, else None (only the embedded dataset works then)."""
    value = explicit or os.environ.get("MIRBENCH_DATA")
    return Path(value).expanduser() if value else None


@functools.lru_cache(maxsize=8)
def _open(name: str, params_json: str, root: str | None, cache: str) -> Dataset:
    """`cache` (the cache root) is part of the key: a dataset built in one cache is not the one asked for in another."""
    from mirbench.registry import datasets

    factory = datasets.get(name)
    params = json.loads(params_json)
    locate = getattr(factory, "locate_root", None)
    where = (locate(Path(root), name) if locate else Path(root) / name) if root else None
    return factory(root=where, **params)


def open_dataset(spec: dict, root: str | Path | None = None) -> Dataset:
    """Build the dataset a suite's [dataset] table names; cached per process."""
    spec = dict(spec)
    name = spec.pop("name")
    if "root" in spec:
        raise DatasetError(f"dataset {name!r}: a suite's [dataset] table cannot set 'root': the data comes from "
                           "--data-root or MIRBENCH_DATA (<data root>/<dataset name>); remove the key")
    base = data_root(root)
    if base is not None and not base.is_dir():
        raise DatasetError(f"data root {base} does not exist; pass an existing directory to --data-root or MIRBENCH_DATA")
    return _open(name, json.dumps(spec, sort_keys=True), str(base) if base else None, str(cache_root()))
