"""The module layout holds: no import cycle among mirbench's modules (imports inside functions count too), and each
layer imports only what lies below it: the kit and the data side never reach into running, reporting or the CLI."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mirbench"

#: What every layer may lean on: the contracts and the shared plumbing.
FOUNDATION = ("mirbench.errors", "mirbench.registry", "mirbench.cache", "mirbench.jsonfile", "mirbench.device",
              "mirbench.metrics", "mirbench.system")
DATA = ("mirbench.datasets", "mirbench.frontends", "mirbench.audio", "mirbench.features", "mirbench.fetch",
        "mirbench.protocols", "mirbench.content")
KIT = ("mirbench.kit",)


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the mirbench modules it imports anywhere in its text (top level, functions, TYPE_CHECKING blocks).
    `from a.b import c` imports the module a.b.c where there is one, else a.b (as grimp counts it)."""
    mods = modules()

    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {owner(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets |= {owner(f"{base}.{a.name}") if f"{base}.{a.name}" in mods else owner(base) for a in node.names}
        graph[name] = {t for t in targets if t and t not in (name, "mirbench")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_detector_sees_a_cycle_through_a_function_local_import():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    graph = import_graph()
    assert "mirbench.run.cluster" in graph["mirbench.run.executors"]  # imported inside executor_for only


def test_the_kit_and_the_data_side_lean_only_on_the_foundation():
    wrong = []
    for name, deps in sorted(import_graph().items()):
        if within(name, KIT):
            allowed = KIT + DATA + FOUNDATION
        elif within(name, DATA):
            allowed = DATA + FOUNDATION
        else:
            continue
        wrong += [f"{name} -> {d}" for d in sorted(deps) if not within(d, allowed)]
    assert wrong == []


def test_every_package_is_installed():
    """pyproject lists its packages by hand (baselines/ installs under another name): a new folder must be in it."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    baselines = {".".join(("mirbench_baselines", *p.parent.relative_to(ROOT / "baselines").parts))
                 for p in (ROOT / "baselines").rglob("__init__.py")}
    assert packages | baselines <= listed
