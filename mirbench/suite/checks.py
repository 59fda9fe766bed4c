"""Checks of a suite against this machine (as opposed to the file itself): is the data where it should be?"""

from __future__ import annotations

from mirbench.dataset import DatasetError
from mirbench.datasets import data_root
from mirbench.registry import datasets
from mirbench.suite import Suite


def check_data_root(suite: Suite, explicit_root=None) -> None:
    """Raise DatasetError when the suite's dataset needs a data root that is not given or not there."""
    name = suite.dataset["name"]
    root = data_root(explicit_root)
    if root is not None and not root.is_dir():
        raise DatasetError(f"data root {root} does not exist; pass an existing directory to --data-root or MIRBENCH_DATA")
    if not getattr(datasets.get(name), "needs_root", False):
        return
    if root is None:
        raise DatasetError(
            f"{suite.path}: dataset {name!r} is read from disk, but no data root is set; "
            f"pass --data-root DIR or set MIRBENCH_DATA, with the dataset under DIR/{name}/"
        )
    if not (root / name).is_dir():
        layout = getattr(datasets.get(name), "expected_layout", "")
        raise DatasetError(
            f"{suite.path}: dataset {name!r} expected at {root / name}, which does not exist"
            + (f"; expected layout:\n{layout}" if layout else "")
        )
