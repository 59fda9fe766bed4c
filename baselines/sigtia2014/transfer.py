"""Pre-training on another dataset (Table 2): the `pretrain` parameter names a dataset, a protocol and a fold.

```toml
pretrain = { dataset = { name = "gtzan" }, protocol = { name = "gtzan-random-4fold" }, fold = 0 }
```

The network is trained on that fold's train part (early stopping on its valid
part) and then extracts features of the suite's own dataset. The dataset is
opened like a suite's (`mirbench.datasets.open_dataset`, same data root),
unreadable tracks are left out as the runner does, and features come through
the trial's FeatureStore. `tracks_per_class = N` keeps N tracks per class (the
same whole-group subset `--quick` uses), for quick runs.
"""

from __future__ import annotations

import json

from mirbench.system import TrackSet

KEYS = ("dataset", "protocol", "fold", "tracks_per_class")
_UNUSABLE: dict[str, frozenset] = {}  # dataset fingerprint -> unreadable track ids, per process


def check_spec(spec) -> dict:
    """The pretrain table with defaults filled in, or a ValueError saying what is wrong with it."""
    if not isinstance(spec, dict):
        example = "{ dataset = { name = ... }, protocol = { name = ... }, fold = 0 }"
        raise ValueError(f"pretrain must be a table like {example}, got {spec!r}")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise ValueError(f"pretrain has unknown key(s) {unknown}; valid keys: {', '.join(KEYS)}")
    for part in ("dataset", "protocol"):
        value = spec.get(part)
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            raise ValueError(f"pretrain.{part} must be a table with a 'name', got {value!r}")
    fold = spec.get("fold", 0)
    if not isinstance(fold, int) or isinstance(fold, bool) or fold < 0:
        raise ValueError(f"pretrain.fold must be a non-negative integer, got {fold!r}")
    per_class = spec.get("tracks_per_class")
    if per_class is not None and (not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 1):
        raise ValueError(f"pretrain.tracks_per_class must be a positive integer, got {per_class!r}")
    return {"dataset": dict(spec["dataset"]), "protocol": dict(spec["protocol"]), "fold": fold, "tracks_per_class": per_class}


def pretraining_split(spec: dict, like: TrackSet) -> tuple[TrackSet, TrackSet | None]:
    """Train and valid TrackSets of the pre-training fold, sharing `like`'s store, device, data root and precision."""
    from mirbench.datasets import open_dataset
    from mirbench.protocols import folds_of, quick_subset

    spec = check_spec(spec)
    dataset = open_dataset(spec["dataset"], like.data_root)
    folds = folds_of(dataset, spec["protocol"])
    if spec["fold"] >= len(folds):
        raise ValueError(f"pretrain.fold is {spec['fold']}, but the protocol has {len(folds)} fold(s)")
    fold = folds[spec["fold"]]
    unusable = _unusable(dataset)
    keep = quick_subset(dataset, spec["tracks_per_class"], unusable) if spec["tracks_per_class"] else None

    def part(ids) -> list:
        return dataset.subset([i for i in ids if i not in unusable and (keep is None or i in keep)])

    train = TrackSet(dataset, part(fold.train), like.store, like.device, like.data_root, like.precision)
    valid = TrackSet(dataset, part(fold.valid), like.store, like.device, like.data_root, like.precision)
    if not len(train):
        raise ValueError(f"pretrain: fold {spec['fold']} of {json.dumps(spec['protocol'])} has no usable training tracks")
    return train, (valid if len(valid) else None)


def _unusable(dataset) -> frozenset:
    key = dataset.fingerprint()
    if key not in _UNUSABLE:
        _UNUSABLE[key] = frozenset(dataset.validate().problems)
    return _UNUSABLE[key]
