"""Suite files: load TOML (with `extends`), check it, expand grids into system variants.

`load_suite(path)` returns a `Suite` or raises `SuiteError` naming the file and
the key path; nothing is run and no audio is touched.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mirbench.suite.schema import SCHEMA, SuiteError, check, nearest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Suite", "Variant", "SuiteError", "load_suite", "expand_grid"]

LAYOUT_DIMENSIONS = ("system", "variant", "metric")


@dataclass(frozen=True)
class Variant:
    """One system with one full set of parameters (a point of the suite's grid)."""

    system: str
    label: str
    params: dict = field(hash=False)

    @property
    def id(self) -> str:
        """A file-name-safe id: the label plus a short hash of the parameters."""
        digest = hashlib.sha256(json.dumps([self.system, self.params], sort_keys=True).encode()).hexdigest()[:8]
        slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in self.label.lower()).strip("-")
        return f"{slug}-{digest}"

    def describe(self) -> dict:
        return {"system": self.system, "label": self.label, "params": self.params, "id": self.id}


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
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: not valid TOML: {exc}") from None


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


def expand_grid(grid: dict, where: str) -> list[dict]:
    """The cartesian product of a grid table, in the order its keys and values are written."""
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SuiteError(f"{where}.grid.{key} must be a non-empty array of values, got {values!r}")
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def accepted_params(factory) -> tuple[set[str], bool]:
    """Parameter names a class's constructor takes, and whether it takes **kwargs."""
    sig = inspect.signature(factory)
    names = {n for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names, any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def check_params(factory, params: dict, where: str, what: str) -> None:
    names, open_ended = accepted_params(factory)
    for key in params:
        if key not in names and not open_ended:
            raise SuiteError(
                f"{where}: {what} has no parameter {key!r}{nearest(key, names)} (parameters: {', '.join(sorted(names))})"
            )


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
    from mirbench.registry import RegistryError, systems

    if not data.get("systems"):
        raise SuiteError(f"{where}: no [[systems]] to run — add at least one")
    shared = data.get("params", {})
    check_shared_params(data, where)
    variants: list[Variant] = []
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
        check_params(factory, {**params, **grid}, where, f"'{here}' (system {spec['name']!r})")
        names, open_ended = accepted_params(factory)
        params = {k: v for k, v in shared.items() if k in names or open_ended} | params
        label = spec.get("label", spec["name"])
        for point in expand_grid(grid, f"{where}: '{here}"):
            merged = {**params, **point}
            if hasattr(factory, "check_params"):  # a system may vet its values before any run
                try:
                    factory(**merged).check_params()
                except ValueError as exc:
                    raise SuiteError(f"{where}: '{here}': {exc}") from None
            variants.append(Variant(spec["name"], label, merged))
    ids = [v.id for v in variants]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SuiteError(f"{where}: systems repeat the same variant ({', '.join(dupes)}); remove the duplicate")
    return variants


def check_components(data: dict, where: str) -> None:
    """Dataset, protocol and metric names exist and their parameters are ones they take."""
    from mirbench.metrics import METRICS
    from mirbench.registry import RegistryError, datasets, protocols

    for section, registry in (("dataset", datasets), ("protocol", protocols)):
        spec = dict(data[section])
        name = spec.pop("name")
        try:
            factory = registry.get(name)
        except RegistryError as exc:
            raise SuiteError(f"{where}: '{section}.name': {exc}") from None
        check_params(factory, spec, where, f"'{section}' ({name!r})")
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
            try:
                factory(**spec)
            except (ValueError, TypeError) as exc:
                raise SuiteError(f"{where}: 'protocol': {exc}") from None
    spec = dict(data["dataset"])
    task = datasets.get(spec.pop("name")).task_for(spec)
    for i, metric in enumerate(data.get("metrics", [])):
        if metric not in METRICS:
            raise SuiteError(f"{where}: 'metrics[{i}]': unknown metric {metric!r}{nearest(metric, METRICS)}")
        if task is not None and task not in METRICS[metric].tasks:
            raise SuiteError(
                f"{where}: 'metrics[{i}]': {metric!r} does not apply to the dataset's {task} task "
                f"(it applies to {', '.join(METRICS[metric].tasks)})"
            )


def check_report(data: dict, variants: list[Variant], where: str) -> None:
    """Report rows/columns name layout dimensions; published numbers name known cells; so do tables and per_class."""
    report = data.get("report", {})
    computed = data.get("metrics")
    check_report_metrics(report.get("metrics", []), "report.metrics", computed, where)
    params = {k for v in variants for k in v.params}
    dims = set(LAYOUT_DIMENSIONS) | params
    if "tables" in report:
        check_tables_alone(report, where)
    rows, cols = report.get("rows", ["variant"]), report.get("columns", ["metric"])
    for key, values in (("rows", rows), ("columns", cols)):
        check_dims(values, f"report.{key}", dims, where)
    metrics = report.get("metrics", data.get("metrics", []))
    if "metric" not in rows + cols and len(metrics) > 1:
        raise SuiteError(f"{where}: 'report': put 'metric' in rows or columns, or list a single metric")
    for i, entry in enumerate(report.get("published", [])):
        for key in entry:
            if key not in dims and key not in ("value", "std", "source", "note"):
                raise SuiteError(
                    f"{where}: 'report.published[{i}].{key}' is not a layout dimension{nearest(key, dims)}"
                )
    for i, table in enumerate(report.get("tables", [])):
        check_table(table, f"report.tables[{i}]", dims, variants, computed, metrics, where)
    if "per_class" in report:
        spec = report["per_class"]
        check_dims(spec.get("columns", []), "report.per_class.columns", dims - {"metric"}, where)
        check_where(spec.get("where", {}), "report.per_class.where", dims - {"metric"}, variants, (), where)


def check_report_metrics(metrics: list[str], path: str, computed: list[str] | None, where: str) -> None:
    """A report can only show metrics the suite computes."""
    for i, metric in enumerate(metrics):
        if computed and metric not in computed:
            raise SuiteError(f"{where}: '{path}[{i}]': {metric!r} is not among the suite's metrics {computed}")


def check_tables_alone(report: dict, where: str) -> None:
    """`[[report.tables]]` replaces the single table: its rows, columns and published numbers would go unshown."""
    if not report["tables"]:
        raise SuiteError(f"{where}: 'report.tables' is empty; give at least one [[report.tables]] or leave it out")
    for key in ("rows", "columns", "published"):
        if key in report:
            raise SuiteError(
                f"{where}: 'report.{key}' and 'report.tables' are both given; use one or the other "
                f"(with tables, give each table its rows, columns and published numbers)"
            )


def check_dims(values: list[str], path: str, dims: set[str], where: str) -> None:
    """Every name in a rows/columns list is a layout dimension."""
    for i, dim in enumerate(values):
        if dim not in dims:
            raise SuiteError(
                f"{where}: '{path}[{i}]': {dim!r} is not a layout dimension{nearest(dim, dims)} "
                f"(use system, variant, metric or a system parameter)"
            )


def check_table(table: dict, path: str, dims: set[str], variants, computed, default_metrics, where: str) -> None:
    """One `[[report.tables]]` entry: known dimensions and metrics, a metric dimension when it shows several,
    `where` values some variant has, published numbers keyed by this table's dimensions."""
    check_dims(table["rows"], f"{path}.rows", dims, where)
    check_dims(table["columns"], f"{path}.columns", dims, where)
    check_report_metrics(table.get("metrics", []), f"{path}.metrics", computed, where)
    metrics = table.get("metrics") or default_metrics
    if "metric" not in table["rows"] + table["columns"] and len(metrics) > 1:
        raise SuiteError(f"{where}: '{path}': put 'metric' in rows or columns, or list a single metric in its metrics")
    check_where(table.get("where", {}), f"{path}.where", dims, variants, metrics, where)
    own = set(table["rows"]) | set(table["columns"]) | set(table.get("where", {}))
    for i, entry in enumerate(table.get("published", [])):
        for key in entry:
            if key not in own and key not in ("value", "std", "source", "note"):
                raise SuiteError(
                    f"{where}: '{path}.published[{i}].{key}' is not a dimension of this table{nearest(key, own)} "
                    f"(its rows, columns or where keys: {', '.join(sorted(own))})"
                )


def check_where(conditions: dict, path: str, dims: set[str], variants, metrics, where: str) -> None:
    """Each `where` key is a layout dimension and its value one that some variant (or metric) has."""
    for key, value in conditions.items():
        if key not in dims:
            raise SuiteError(f"{where}: '{path}.{key}' is not a layout dimension{nearest(key, dims)}")
        options = dimension_values(key, variants, metrics)
        if str(value) not in options:
            raise SuiteError(
                f"{where}: '{path}.{key}' = {value!r} matches no variant{nearest(str(value), options)} "
                f"(values: {', '.join(sorted(options))})"
            )


def dimension_values(dim: str, variants: list[Variant], metrics) -> set[str]:
    """The values (as text, as the report compares them) a layout dimension takes over the suite's variants."""
    from mirbench.report.table import variant_name, varying_params

    if dim == "metric":
        return set(metrics)
    if dim == "system":
        return {v.label for v in variants}
    if dim == "variant":
        described = [{"variant": v.describe()} for v in variants]
        varying = varying_params(described)
        return {variant_name(r["variant"], varying) for r in described}
    return {str(v.params[dim]) for v in variants if dim in v.params}


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
    check_report(data, variants, where)
    for i, seed in enumerate(data.get("seeds", [])):
        if seed < 0:
            raise SuiteError(f"{where}: 'seeds[{i}]' must be >= 0, got {seed}")
    name = data.setdefault("name", path.stem)
    return Suite(name=name, version=str(data["version"]), path=path, data=data, variants=variants)
