"""One lazy registry per kind of component, filled from entry points: names map to "module:attr", imported on use.

Every component comes through its entry-point group — mirbench's own systems, datasets, protocols, frontends
and metrics exactly as a contributor's package does (pyproject.toml lists mirbench's), so there is one road:

    mirbench.systems    mirbench.datasets    mirbench.protocols    mirbench.frontends    mirbench.metrics

Entry points are scanned once per process. Two distributions that claim one name is an error naming both;
`register` adds a component at run time (tests, notebooks) and wins over an entry point of the same name.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from mirbench.errors import MirbenchError

GROUPS = {"system": "mirbench.systems", "dataset": "mirbench.datasets", "protocol": "mirbench.protocols",
          "frontend": "mirbench.frontends", "metric": "mirbench.metrics"}


class RegistryError(MirbenchError, LookupError):
    """An unknown name, or one that two distributions claim; the message says which and what to do."""


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:attr"
    origin: str  # the distribution that provides it ("mirbench" for the in-tree ones), or "runtime"


class Registry:
    """Names of one kind of component, resolved lazily to the objects they point at."""

    def __init__(self, kind: str, group: str | None = None):
        self.kind = kind
        self.group = group
        self._extra: dict[str, Entry] = {}
        self._scanned: dict[str, Entry] | None = None

    def register(self, name: str, target: str, origin: str = "runtime") -> None:
        """Add a component at run time (tests, notebooks); it wins over an entry point of the same name."""
        self._extra[name] = Entry(name, target, origin)

    def unregister(self, name: str) -> None:
        """Undo `register` (tests restore the registry after themselves)."""
        self._extra.pop(name, None)

    def rescan(self) -> None:
        """Forget the entry points scanned, e.g. after a package was installed into the running process."""
        self._scanned = None

    def _entry_points(self) -> dict[str, Entry]:
        if self._scanned is None:
            found: dict[str, Entry] = {}
            for ep in entry_points(group=self.group) if self.group else ():
                dist = ep.dist.name if ep.dist is not None else "an unnamed distribution"
                entry = Entry(ep.name, ep.value, dist)
                seen = found.get(ep.name)
                if seen is not None and seen != entry:
                    raise RegistryError(
                        f"{self.kind} {ep.name!r} is claimed by two distributions: {seen.origin} ({seen.target}) and "
                        f"{entry.origin} ({entry.target}); uninstall one of them, or rename its entry point"
                    )
                found[ep.name] = entry
            self._scanned = found
        return self._scanned

    def entries(self) -> dict[str, Entry]:
        return dict(sorted({**self._entry_points(), **self._extra}.items()))

    def names(self) -> list[str]:
        return list(self.entries())

    def __contains__(self, name: str) -> bool:
        return name in self.entries()

    def suggest(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.6)
        return f" — did you mean {close[0]!r}?" if close else f" (known: {', '.join(self.names())})"

    def get(self, name: str) -> Any:
        return load_target(self.target(name))

    def target(self, name: str) -> str:
        """The "module:attr" `name` points at: what a worker process imports (it never saw `register` calls)."""
        entries = self.entries()
        if name not in entries:
            raise RegistryError(f"unknown {self.kind} {name!r}{self.suggest(name)}")
        return entries[name].target


def load_target(target: str) -> Any:
    """Import "module:attr" (attr may be dotted) and return the object."""
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


systems = Registry("system", GROUPS["system"])
datasets = Registry("dataset", GROUPS["dataset"])
protocols = Registry("protocol", GROUPS["protocol"])
frontends = Registry("frontend", GROUPS["frontend"])
metrics = Registry("metric", GROUPS["metric"])
REGISTRIES = (systems, datasets, protocols, frontends, metrics)
