"""One lazy registry per kind of component: names map to "module:attr", imported on first use.

In-tree components are listed once here; out-of-tree systems arrive through the
`mirbench.systems` entry-point group, so a contributor's package plugs in
without editing mirbench.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any


class RegistryError(LookupError):
    """An unknown name; the message suggests the nearest known one."""


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:attr"
    origin: str  # "mirbench" or the distribution that provides it


class Registry:
    """Names of one kind of component, resolved lazily to the objects they point at."""

    def __init__(self, kind: str, builtin: dict[str, str], entry_point_group: str | None = None):
        self.kind = kind
        self._builtin = builtin
        self._group = entry_point_group
        self._extra: dict[str, Entry] = {}

    def register(self, name: str, target: str, origin: str = "runtime") -> None:
        """Add a component at run time (tests, notebooks)."""
        self._extra[name] = Entry(name, target, origin)

    def entries(self) -> dict[str, Entry]:
        found = {n: Entry(n, t, "mirbench") for n, t in self._builtin.items()}
        if self._group:
            for ep in entry_points(group=self._group):
                dist = ep.dist.name if ep.dist is not None else "entry point"
                found.setdefault(ep.name, Entry(ep.name, ep.value, dist))
        found.update(self._extra)
        return dict(sorted(found.items()))

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


systems = Registry(
    "system",
    {
        "mfcc": "baselines.mfcc:MFCCBaseline",
        "pmsc": "baselines.pmsc:PMSCBaseline",
        "sigtia2014.mlp": "baselines.sigtia2014:Sigtia2014MLP",
        "dieleman2014.cnn": "baselines.dieleman2014:Dieleman2014CNN",
        "choi2017.cnn": "baselines.choi2017:Choi2017CNN",
        "fagan.cnn1d": "baselines.fagan:FaganCNN1D",
        "fagan.cnn2d": "baselines.fagan:FaganCNN2D",
        "fagan.alexnet": "baselines.fagan:FaganAlexNet",
        "fagan.vgg16": "baselines.fagan:FaganVGG16",
        "fagan.samplecnn": "baselines.fagan:FaganSampleCNN",
        "fagan.lstm": "baselines.fagan:FaganLSTM",
        "fagan.rcnn": "baselines.fagan:FaganRCNN",
        "fma.mlp": "baselines.fma:FMAMLP",
        "fma.logreg": "baselines.fma:FMALogReg",
        "fma.linear-svm": "baselines.fma:FMALinearSVM",
        "fma.svm": "baselines.fma:FMASVM",
        "fma.knn": "baselines.fma:FMAKNN",
        "fma.rf": "baselines.fma:FMARandomForest",
    },
    entry_point_group="mirbench.systems",
)

datasets = Registry(
    "dataset",
    {
        "corpus": "mirbench.datasets.corpus:CorpusDataset",
        "synthetic": "mirbench.testing:SyntheticDataset",
        "gtzan": "mirbench.datasets.gtzan:GTZANDataset",
        "ismir2004": "mirbench.datasets.ismir2004:ISMIR2004Dataset",
        "mtat": "mirbench.datasets.mtat:MTATDataset",
        "fma": "mirbench.datasets.fma:FMADataset",
    },
)

protocols = Registry(
    "protocol",
    {
        "stratified-kfold": "mirbench.protocols:StratifiedGroupKFold",
        "fixed-split": "mirbench.protocols:FixedSplit",
        "gtzan-random-4fold": "mirbench.datasets.gtzan:GTZANRandom4Fold",
        "gtzan-fault-filtered": "mirbench.datasets.gtzan:GTZANFaultFiltered",
        "ismir2004-train-dev": "mirbench.datasets.ismir2004:ISMIR2004TrainDev",
        "mtat-12-1-3": "mirbench.datasets.mtat:MTAT1213",
        "mtat-cleaned": "mirbench.datasets.mtat:MTATCleaned",
        "fma-small": "mirbench.datasets.fma:FMASmall",
        "fma-medium": "mirbench.datasets.fma:FMAMedium",
        "fma-top10": "mirbench.datasets.fma:FMATop10",
    },
)

frontends = Registry(
    "frontend",
    {
        "stft": "mirbench.frontends:STFTMagnitude",
        "logmel": "mirbench.frontends:LogMel",
        "mfcc": "mirbench.frontends:MFCC",
        "waveform": "mirbench.frontends:Waveform",
        "fma": "mirbench.frontends:FMAFeatures",
    },
)
