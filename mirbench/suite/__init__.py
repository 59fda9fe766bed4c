"""Suite files: load TOML (with `extends`), check it, expand grids into system variants.

`load_suite(path)` returns a `Suite` or raises `SuiteError` naming the file and
the key path; nothing is run and no audio is touched.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mirbench.datasets.base import DatasetError
from mirbench.suite.params import accepted_params, check_kind_lists, check_kinds, check_names, raised, vet
from mirbench.suite.report_checks import check_report
from mirbench.suite.schema import SCHEMA, SuiteError, brief, check, nearest
from mirbench.suite.variant import Variant

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Suite", "Variant", "SuiteError", "load_suite", "expand_grid", "accepted_params", "MAX_VARIANTS", "MAX_DEPTH"]

#: The most variants one suite may expand to (all its [[systems]] and grids together): each is trained per fold and
#: seed, so a grid past this is almost always a typo, and a real sweep of that size belongs in several suites.
MAX_VARIANTS = 10_000
#: The deepest nesting of tables and arrays a suite file may have (a suite needs five or so levels).
MAX_DEPTH = 32


@dataclass
class Suite:
    """The validated contents of a suite file, parents merged in."""

    name: str
    version: str
    path: Path
    data: dict  # the merged document (JSON-able)
    variants: list[Variant]

    @property
    def dataset(self) -> dict:
        return self.data["dataset"]

    @property
    def protocol(self) -> dict:
        return self.data["protocol"]

    @property
    def seeds(self) -> list[int]:
        return self.data.get("seeds", [0])

    @property
    def metrics(self) -> list[str]:
        return self.data.get("metrics", [])

    @property
    def quick(self) -> dict:
        return self.data.get("quick", {})

    @property
    def report(self) -> dict:
        return self.data.get("report", {})

    @property
    def description(self) -> str:
        return self.data.get("description", "")

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.data, sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "hash": self.hash(), "path": self.path.name}


def read_toml(path: Path) -> dict:
    """Parse one TOML file; syntax errors and duplicate keys name the file."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except RecursionError:  # tomllib recurses once per level of nesting
        raise SuiteError(f"{path}: {too_deep()}") from None
    except FileNotFoundError:
        siblings = sorted(str(p) for p in path.parent.glob("*.toml")) if path.parent.is_dir() else []
        raise SuiteError(f"{path}: no such suite file{nearest(str(path), siblings)}") from None
    except IsADirectoryError:
        raise SuiteError(f"{path}: is a directory; give the path of a suite file (.toml) in it") from None
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read the suite file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{path}: not valid TOML: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: not valid TOML: {exc}") from None
    if depth(data) > MAX_DEPTH:
        raise SuiteError(f"{path}: {too_deep()}")
    return data


def too_deep() -> str:
    return (f"tables and arrays nested more than {MAX_DEPTH} levels deep; a suite needs only a few levels "
            "(check the file for runaway brackets or braces)")


def depth(value) -> int:
    """How deeply tables and arrays nest in `value` (a scalar is 0, {} or [] is 1), without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def merge(parent: dict, child: dict) -> dict:
    """Tables merge key by key; any other value (arrays included) in the child replaces the parent's.

    A [dataset] or [protocol] that names another component replaces the parent's
    table whole: the parent's parameters belong to the component it named.
    """
    out = dict(parent)
    for key, value in child.items():
        renamed = key in ("dataset", "protocol") and "name" in value and value.get("name") != out.get(key, {}).get("name")
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("params", "grid") and not renamed:
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """Read a suite and fold in its `extends` chain (parents first)."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in seen + (path,))
        raise SuiteError(f"{path}: 'extends' forms a cycle ({chain})")
    data = read_toml(path)
    check(data, SCHEMA, "", str(path), partial="extends" in data)
    if "version" not in data:
        raise SuiteError(f"{path}: missing required key 'version'")
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data
    parent_path = (path.parent / parent_ref)
    if not parent_path.suffix:
        parent_path = parent_path.with_suffix(".toml")
    if not parent_path.exists():
        raise SuiteError(f"{path}: 'extends' names {parent_ref!r}, but {parent_path} does not exist")
    parent = resolve(parent_path, seen + (path,))
    parent.pop("name", None)
    return merge(parent, data)


def grid_size(grid: dict, where: str) -> int:
    """How many points a grid table has; every value must be a non-empty array."""
    size = 1
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SuiteError(f"{where}.grid.{key} must be a non-empty array of values, got {brief(values)}")
        size *= len(values)
    return size


def expand_grid(grid: dict, where: str) -> list[dict]:
    """The cartesian product of a grid table, in the order its keys and values are written."""
    grid_size(grid, where)
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def check_shared_params(data: dict, where: str) -> None:
    """Every suite-level parameter is taken by at least one of the suite's systems (else it is a typo)."""
    from mirbench.registry import RegistryError, systems

    taken: set[str] = set()
    for spec in data.get("systems", []):
        try:
            names, open_ended = accepted_params(systems.get(spec["name"]))
        except RegistryError:
            continue  # reported with its systems[i] path by build_variants
        if open_ended:
            return
        taken |= names
    for key in data.get("params", {}):
        if key not in taken:
            raise SuiteError(
                f"{where}: 'params.{key}': no system of the suite takes this parameter{nearest(key, taken)}"
            )


def build_variants(data: dict, where: str) -> list[Variant]:
    """The variants of every [[systems]] entry: parameter names, kinds and values checked, grids expanded.

    A suite expands to at most MAX_VARIANTS (10,000) variants, all entries together; past that it is refused
    before anything is expanded, naming the grid that went over. The kinds of a grid's values are checked once
    per key (a value's kind does not depend on the other keys); only the system's own `check_params`, which
    judges combinations, runs once per point.
    """
    from mirbench.registry import RegistryError, systems

    if not data.get("systems"):
        raise SuiteError(f"{where}: no [[systems]] to run — add at least one")
    shared = data.get("params", {})
    check_shared_params(data, where)
    variants: list[Variant] = []
    total = 0
    for i, spec in enumerate(data["systems"]):
        here = f"systems[{i}]"
        try:
            factory = systems.get(spec["name"])
        except RegistryError as exc:
            raise SuiteError(f"{where}: '{here}.name': {exc}") from None
        params, grid = spec.get("params", {}), spec.get("grid", {})
        both = sorted(set(params) & set(grid))
        if both:
            raise SuiteError(f"{where}: '{here}': {both} appear in both params and grid; keep one")
        what = f"system {spec['name']!r}"
        check_names(factory, params, where, f"{here}.params", what)
        check_names(factory, grid, where, f"{here}.grid", what)
        names, open_ended = accepted_params(factory)
        taken = {k: v for k, v in shared.items() if k in names or open_ended}
        check_kinds(factory, {k: (f"params.{k}", v) for k, v in taken.items()}, where, what)
        paths = {k: f"params.{k}" for k in taken} | {k: f"{here}.params.{k}" for k in params}
        paths |= {k: f"{here}.grid.{k}" for k in grid}
        params = taken | params
        check_kinds(factory, {k: (paths[k], v) for k, v in params.items()}, where, what)
        size = grid_size(grid, f"{where}: '{here}")
        total += size
        if total > MAX_VARIANTS:
            shape = " x ".join(str(len(v)) for v in grid.values()) or "1"
            suite_wide = f", and the suite to {total:,}" if total != size else ""
            raise SuiteError(
                f"{where}: '{here}.grid' expands to {size:,} variants ({shape}){suite_wide}, over the limit of "
                f"{MAX_VARIANTS:,} variants per suite; use fewer values, or split the sweep over several suites"
            )
        check_kind_lists(factory, {k: (paths[k], values) for k, values in grid.items()}, where, what)
        label = spec.get("label", spec["name"])
        for point in expand_grid(grid, f"{where}: '{here}"):
            merged = {**params, **point}
            vet_system(factory, merged, paths, where, here)
            variants.append(Variant(spec["name"], label, merged))
    dupes = sorted(i for i, n in Counter(v.id for v in variants).items() if n > 1)
    if dupes:
        raise SuiteError(f"{where}: systems repeat the same variant ({', '.join(dupes)}); remove the duplicate")
    return variants


def vet_system(factory, params: dict, paths: dict[str, str], where: str, here: str) -> None:
    """A system with `check_params` vets its values before any run; the error names the key to blame."""
    if hasattr(factory, "check_params"):
        vet(raised(lambda **p: factory(**p).check_params(), ValueError, TypeError), params, paths, where, here)


def check_quick(data: dict, variants: list[Variant], where: str) -> None:
    """`quick.params` values are of the right kind and good for each system that takes them.

    A key no system takes is let through: quick overrides are meant for "systems that take these parameters"
    (a parent suite's [quick] may serve children with other systems).
    """
    from mirbench.registry import systems

    overrides = data.get("quick", {}).get("params", {})
    if not overrides:
        return
    paths = {k: f"quick.params.{k}" for k in overrides}
    taken: dict[str, tuple] = {}  # system -> (factory, the overrides it takes): one lookup per system, not per variant
    for variant in variants:
        if variant.system not in taken:
            factory = systems.get(variant.system)
            names, open_ended = accepted_params(factory)
            mine = {k: v for k, v in overrides.items() if k in names or open_ended}
            if mine:
                check_kinds(factory, {k: (paths[k], v) for k, v in mine.items()}, where, f"system {variant.system!r}")
            taken[variant.system] = (factory, mine)
        factory, mine = taken[variant.system]
        if not mine:
            continue
        vet_system(factory, {**variant.params, **mine}, {**{k: "quick.params" for k in variant.params}, **paths},
                   where, "quick.params")


def check_unique(data: dict, key: str, where: str) -> None:
    """A seed or metric listed twice would run (or score) the same thing twice and overwrite its results."""
    values = data.get(key, [])
    for i, value in enumerate(values):
        if value in values[:i]:
            raise SuiteError(f"{where}: '{key}[{i}]': {value!r} is listed twice; remove the repeat")


def check_components(data: dict, where: str) -> None:
    """Dataset, protocol and metric names exist, and their parameters are ones they take, of the right kind and value."""
    from mirbench.metrics import METRICS
    from mirbench.registry import RegistryError, datasets, protocols

    for section, registry in (("dataset", datasets), ("protocol", protocols)):
        spec = dict(data[section])
        name = spec.pop("name")
        try:
            factory = registry.get(name)
        except RegistryError as exc:
            raise SuiteError(f"{where}: '{section}.name': {exc}") from None
        what = f"{section} {name!r}"
        check_names(factory, spec, where, section, what)
        check_kinds(factory, {k: (f"{section}.{k}", v) for k, v in spec.items()}, where, what)
        paths = {k: f"{section}.{k}" for k in spec}
        if section == "dataset" and hasattr(factory, "check_params"):  # values, without opening the dataset
            vet(raised(factory.check_params, DatasetError, ValueError, TypeError), spec, paths, where, section)
        bound = getattr(factory, "dataset", None) if section == "protocol" else None
        if bound and bound != data["dataset"]["name"]:
            raise SuiteError(
                f"{where}: 'protocol.name': {name!r} is defined for the {bound!r} dataset, "
                f"not {data['dataset']['name']!r}"
            )
        if section == "protocol" and hasattr(factory, "check_dataset"):  # e.g. fma-top10 needs top_genres = 10
            dataset_params = {k: v for k, v in data["dataset"].items() if k != "name"}
            try:
                factory.check_dataset(data["dataset"]["name"], dataset_params)
            except ValueError as exc:
                raise SuiteError(f"{where}: 'dataset': {exc}") from None
        if section == "protocol":  # cheap to build: catches bad values (proportions, folds) before any run
            vet(raised(factory, ValueError, TypeError), spec, paths, where, section)
    spec = dict(data["dataset"])
    task = datasets.get(spec.pop("name")).task_for(spec)
    check_unique(data, "metrics", where)
    for i, metric in enumerate(data.get("metrics", [])):
        if metric not in METRICS:
            raise SuiteError(f"{where}: 'metrics[{i}]': unknown metric {metric!r}{nearest(metric, METRICS)}")
        if task is not None and task not in METRICS[metric].tasks:
            raise SuiteError(
                f"{where}: 'metrics[{i}]': {metric!r} does not apply to the dataset's {task} task "
                f"(it applies to {', '.join(METRICS[metric].tasks)})"
            )


def load_suite(path: str | Path) -> Suite:
    """Read, merge, check and expand a suite file."""
    path = Path(path)
    where = str(path)
    data = resolve(path)
    check(data, SCHEMA, "", where)
    for section in ("dataset", "protocol"):
        if section not in data:
            raise SuiteError(f"{where}: missing required table [{section}]")
    check_components(data, where)
    variants = build_variants(data, where)
    check_quick(data, variants, where)
    check_report(data, variants, where)
    for i, seed in enumerate(data.get("seeds", [])):
        if seed < 0:
            raise SuiteError(f"{where}: 'seeds[{i}]' must be >= 0, got {seed}")
    check_unique(data, "seeds", where)
    name = data.setdefault("name", path.stem)
    return Suite(name=name, version=str(data["version"]), path=path, data=data, variants=variants)
