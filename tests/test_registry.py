"""The registry: every component through its entry-point group, resolved lazily, near misses suggested, clashes named."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import pytest

from mirbench import registry
from mirbench.registry import GROUPS, REGISTRIES, Registry, RegistryError

IN_TREE = {
    "mirbench.systems": {"mfcc", "pmsc", "sigtia2014.mlp", "dieleman2014.cnn", "choi2017.cnn", "fagan.cnn1d",
                         "fagan.cnn2d", "fagan.alexnet", "fagan.vgg16", "fagan.samplecnn", "fagan.lstm", "fagan.rcnn",
                         "fma.mlp", "fma.logreg", "fma.linear-svm", "fma.svm", "fma.knn", "fma.rf", "hear"},
    "mirbench.datasets": {"corpus", "synthetic", "gtzan", "ismir2004", "mtat", "fma", "folder", "manifest"},
    "mirbench.protocols": {"stratified-kfold", "fixed-split", "gtzan-random-4fold", "gtzan-fault-filtered",
                           "ismir2004-train-dev", "mtat-12-1-3", "mtat-cleaned", "fma-small", "fma-medium", "fma-top10"},
    "mirbench.frontends": {"stft", "logmel", "mfcc", "waveform", "fma"},
    "mirbench.metrics": {"accuracy", "normalised_accuracy", "roc_auc_macro", "roc_auc_micro", "pr_auc_macro",
                         "pr_auc_micro"},
}


class FakeDist:
    def __init__(self, name: str):
        self.name = name


def ep(name: str, value: str, group: str = "mirbench.systems", dist: str = "lab-systems") -> EntryPoint:
    point = EntryPoint(name=name, value=value, group=group)
    return point._for(FakeDist(dist)) if hasattr(point, "_for") else point


@pytest.mark.parametrize("group", sorted(IN_TREE))
def test_every_in_tree_component_comes_through_its_entry_point_group(group):
    """One road: mirbench's own components are entry points of the mirbench distribution, like a contributor's."""
    ours = {e.name for e in entry_points(group=group) if e.dist is not None and e.dist.name == "mirbench"}
    assert ours == IN_TREE[group]


def test_every_name_resolves_and_comes_from_mirbench():
    for reg in REGISTRIES:
        for name, entry in reg.entries().items():
            assert reg.get(name) is not None, name
            if name in IN_TREE[reg.group]:
                assert entry.origin == "mirbench" and not entry.target.startswith("baselines."), (name, entry)


def test_the_baselines_install_as_mirbench_baselines():
    assert registry.systems.target("mfcc") == "mirbench_baselines.mfcc:MFCCBaseline"


def test_unknown_name_suggests_nearest():
    with pytest.raises(RegistryError, match="unknown system 'pmcs' — did you mean 'pmsc'"):
        registry.systems.get("pmcs")


def test_a_contributors_entry_point_is_listed_with_its_distribution(monkeypatch):
    points = [ep("lab.prior", "tests.helpers:PriorSystem")]
    monkeypatch.setattr(registry, "entry_points", lambda group: points if group == "mirbench.systems" else [])
    reg = Registry("system", GROUPS["system"])
    assert reg.entries()["lab.prior"].origin == "lab-systems"
    from tests.helpers import PriorSystem

    assert reg.get("lab.prior") is PriorSystem


def test_two_distributions_claiming_one_name_is_an_error_naming_both(monkeypatch):
    points = [ep("mfcc", "mirbench_baselines.mfcc:MFCCBaseline", dist="mirbench"),
              ep("mfcc", "tests.helpers:PriorSystem", dist="lab-systems")]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    with pytest.raises(RegistryError, match=r"system 'mfcc' is claimed by two distributions: mirbench "
                                            r"\(mirbench_baselines.mfcc:MFCCBaseline\) and lab-systems"):
        Registry("system", GROUPS["system"]).get("mfcc")


def test_entry_points_are_scanned_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(registry, "entry_points", lambda group: calls.append(group) or [])
    reg = Registry("system", GROUPS["system"])
    for _ in range(5):
        reg.names()
    assert calls == ["mirbench.systems"]
    reg.rescan()
    reg.names()
    assert len(calls) == 2


def test_runtime_registration_wins_and_is_undone():
    reg = Registry("thing")
    reg.register("x", "math:pi")
    assert reg.get("x") == pytest.approx(3.14159, rel=1e-5)
    reg.unregister("x")
    assert "x" not in reg


def test_a_plug_in_metric_is_a_metric_like_the_in_tree_ones():
    from mirbench.metrics import METRICS, Metric, evaluate

    registry.metrics.register("top_score", "tests.test_registry:TOP_SCORE")
    try:
        assert isinstance(METRICS["top_score"], Metric) and "top_score" in METRICS
        values = evaluate([0, 1], [[0.9, 0.1], [0.2, 0.8]], "single-label", ["accuracy", "top_score"])
        assert values["top_score"] == pytest.approx(0.85)
    finally:
        registry.metrics.unregister("top_score")
    assert "top_score" not in METRICS


def _top_score(truth, scores) -> float:
    import numpy as np

    return float(np.max(scores, axis=1).mean())


def _metric():
    from mirbench.metrics import Metric

    return Metric(_top_score, ("single-label",))


TOP_SCORE = _metric()
