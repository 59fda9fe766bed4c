"""Human names for a leaderboard section: "GTZAN, 4-fold rotation (50/25/25): accuracy", from a suite's tables.

A section is one (dataset table, protocol table, metric); its heading reads as a sentence built from the dataset's
and protocol's names and the parameters that define them; what the heading leaves out goes in a muted line of
parameters under it (`params_line`), so two sections never read the same without saying why.
"""

from __future__ import annotations

DATASETS = {"gtzan": "GTZAN", "ismir2004": "ISMIR2004", "mtat": "MagnaTagATune", "fma": "FMA",
            "corpus": "Embedded corpus", "synthetic": "Synthetic data", "folder": "Audio folder",
            "manifest": "Manifest"}
#: Protocols whose name says all: (human name, parameters the name covers).
PROTOCOLS = {
    "gtzan-fault-filtered": "fault-filtered split (Kereliuk, Sturm & Larsen 2015)",
    "ismir2004-train-dev": "contest training/development split",
    "mtat-12-1-3": "12/1/3 split",
    "mtat-cleaned": "cleaned 12/1/3 split",
    "fma-small": "official split (small)",
    "fma-medium": "official split (medium)",
    "fma-top10": "official split (top 10 genres)",
    "fixed-split": "fixed split",
}
#: Protocols that are k-fold rotations or random splits at fixed settings: their (folds, proportions).
SPLITS = {"gtzan-random-4fold": (4, "k-fold")}
METRICS = {"accuracy": "accuracy", "normalised_accuracy": "normalised accuracy",
           "roc_auc_macro": "ROC-AUC (macro)", "roc_auc_micro": "ROC-AUC (micro)",
           "pr_auc_macro": "PR-AUC (macro)", "pr_auc_micro": "PR-AUC (micro)"}
HIDDEN = ("name", "root", "cache_dir", "progress")  # never shown: they locate data, they do not define it


def dataset_name(table: dict) -> str:
    """'GTZAN', 'Embedded corpus (style)', 'Embedded corpus (style, clips_per_class=20, seed=1)': the dataset's name,
    with its task and the other parameters that define it, so two sections on different builds never share a
    heading."""
    name = str(table.get("name", "?"))
    human = DATASETS.get(name, name)
    task = table.get("task")
    parts = [task] if isinstance(task, str) else []
    parts += [f"{k}={v}" for k, v in sorted(table.items()) if k not in ("task", *HIDDEN)]
    return f"{human} ({', '.join(parts)})" if parts else human


def percent(x: float) -> str:
    return f"{round(100 * x):g}"


def splits(folds, proportions) -> str | None:
    """'4-fold rotation (50/25/25)' or '2 random 50/25/25 splits'; None when the values are not of that form."""
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        return None
    if proportions in (None, "k-fold"):
        if folds < 3:
            return None
        part = 1 / folds
        return f"{folds}-fold rotation ({percent(1 - 2 * part)}/{percent(part)}/{percent(part)})"
    if isinstance(proportions, (list, tuple)) and len(proportions) == 3 and all(
            isinstance(p, (int, float)) and not isinstance(p, bool) for p in proportions):
        ratio = "/".join(percent(p) for p in proportions)
        return f"1 random {ratio} split" if folds == 1 else f"{folds} random {ratio} splits"
    return None


def protocol_name(table: dict) -> str:
    """'4-fold rotation (50/25/25)', 'fault-filtered split (...)'; a protocol known by name only keeps its name."""
    name = str(table.get("name", "?"))
    if name in PROTOCOLS:
        return PROTOCOLS[name]
    folds, proportions = SPLITS.get(name, (table.get("folds", 4), table.get("proportions", [0.5, 0.25, 0.25])))
    if name in SPLITS or name == "stratified-kfold":
        return splits(folds, proportions) or name
    return name


def covered(table: dict, kind: str) -> set[str]:
    """Parameters the human name already says (so the muted line leaves them out)."""
    if kind == "dataset":
        return set(table)  # the heading names the dataset with all its parameters
    if table.get("name") == "stratified-kfold" and splits(table.get("folds", 4), table.get("proportions", [0.5, 0.25, 0.25])):
        return {"folds", "proportions"}
    return set()


def metric_name(metric: str) -> str:
    return METRICS.get(metric, metric.replace("_", " "))


def heading(dataset: dict, protocol: dict, metric: str) -> str:
    """The section heading as a sentence: '<Dataset>, <protocol>: <metric>'."""
    return f"{dataset_name(dataset)}, {protocol_name(protocol)}: {metric_name(metric)}"


def params_line(dataset: dict, protocol: dict) -> str:
    """The parameters the heading does not say, as 'dataset: clips_per_class=20 · protocol: seed=0' ('' if none)."""
    parts = []
    for kind, table in (("dataset", dataset), ("protocol", protocol)):
        skip = covered(table, kind) | set(HIDDEN)
        shown = ", ".join(f"{k}={v}" for k, v in sorted(table.items()) if k not in skip)
        if shown:
            parts.append(f"{kind}: {shown}")
    return " · ".join(parts)
