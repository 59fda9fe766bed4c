"""The shared fixtures of tests/conftest.py: what one test registers, the next one does not see."""

from __future__ import annotations

import pytest

from mirbench import registry

KINDS = [name for name, obj in vars(registry).items() if isinstance(obj, registry.Registry)]


@pytest.mark.parametrize("kind", KINDS)
def test_a_registration_made_in_a_test(kind):
    getattr(registry, kind).register("test.leak", "math:pi")
    assert "test.leak" in getattr(registry, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_is_undone_after_it(kind):  # runs after the test above: file order
    assert "test.leak" not in getattr(registry, kind)


def test_every_registry_is_covered():
    assert {"systems", "datasets", "protocols", "frontends"} <= set(KINDS)
