"""The registry resolves names lazily, suggests near misses and sees entry-point systems."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from mirbench import registry
from mirbench.registry import Registry, RegistryError


def test_every_builtin_name_resolves():
    for reg in (registry.systems, registry.datasets, registry.protocols, registry.frontends):
        for name in reg.names():
            assert reg.get(name) is not None, name


def test_unknown_name_suggests_nearest():
    with pytest.raises(RegistryError, match="unknown system 'pmcs' — did you mean 'pmsc'"):
        registry.systems.get("pmcs")


def test_entry_point_systems_are_listed_with_their_origin(monkeypatch):
    ep = EntryPoint(name="lab.prior", value="tests.helpers:PriorSystem", group="mirbench.systems")

    def fake_entry_points(group):
        return [ep] if group == "mirbench.systems" else []

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    entries = registry.systems.entries()
    assert entries["lab.prior"].origin == "entry point"
    assert entries["mfcc"].origin == "mirbench"
    from tests.helpers import PriorSystem

    assert registry.systems.get("lab.prior") is PriorSystem


def test_builtin_wins_over_entry_point_of_same_name(monkeypatch):
    ep = EntryPoint(name="mfcc", value="tests.helpers:PriorSystem", group="mirbench.systems")
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep])
    assert registry.systems.get("mfcc").__name__ == "MFCCBaseline"


def test_runtime_registration():
    reg = Registry("thing", {})
    reg.register("x", "math:pi")
    assert reg.get("x") == pytest.approx(3.14159, rel=1e-5)
