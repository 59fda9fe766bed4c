"""Checks of a suite against this machine (as opposed to the file itself): is the data where it should be?"""

from __future__ import annotations

from mirbench.datasets.base import DatasetError
from mirbench.datasets import data_root
from mirbench.registry import datasets
from mirbench.suite import Suite


def data_unchecked(suite: Suite, explicit_root=None) -> str | None:
    """For `validate`: why the suite's data is not checked (its dataset is read from disk and no data root is
    given), else None after checking it like `check_data_root`. A suite validates without its data."""
    if data_root(explicit_root) is None and getattr(datasets.get(suite.dataset["name"]), "needs_root", False):
        return "its data was not checked (no data root: pass --data-root DIR or set MIRBENCH_DATA to check it too)"
    check_data_root(suite, explicit_root)
    return None


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
    factory = datasets.get(name)
    locate = getattr(factory, "locate_root", None)
    try:
        where = locate(root, name) if locate else root / name  # another tool's layout (mirdata's) may be found too
    except DatasetError as exc:
        raise DatasetError(f"{suite.path}: {exc}") from None
    if not where.is_dir() and root.name == name:
        raise DatasetError(
            f"{suite.path}: --data-root {root} is the {name!r} dataset's own folder; pass the folder above it "
            f"({root.parent}): datasets are read from DIR/{name}/"
        )
    if not where.is_dir():
        layout = getattr(factory, "expected_layout", "")
        raise DatasetError(
            f"{suite.path}: dataset {name!r} expected at {where}, which does not exist"
            + (f"; expected layout:\n{layout}" if layout else "")
        )
