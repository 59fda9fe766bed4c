"""What `mirbench data check` and `mirbench data splits` print: a dataset's health and a protocol's sizes.

Both are meant to be read before running anything: what is missing or corrupt
and how many usable tracks each class keeps; how big each fold's parts are,
per class, to compare with a paper's numbers.
"""

from __future__ import annotations

from collections import Counter

from tabulate import tabulate

from mirbench.datasets.base import Dataset, ValidationReport, warnings_by_kind
from mirbench.protocols import Fold

LISTED = 10  # problems listed by name per kind; the rest are counted


def class_counts(dataset: Dataset, ids) -> dict[str, int]:
    """Tracks per class (per tag for multi-label datasets), every class present, in class order."""
    counts = Counter(label for i in ids for label in dataset[i].labels)
    return {c: counts.get(c, 0) for c in dataset.classes}


def health(dataset: Dataset, report: ValidationReport) -> str:
    """A summary a user can act on: usable tracks per class, then what is wrong, grouped by kind."""
    root = getattr(dataset, "root", None)
    usable = [t.id for t in dataset.tracks if t.id not in report.problems]
    lines = [
        f"{dataset.name}" + (f" at {root}" if root else "") + f": {len(usable)} of {len(dataset)} tracks usable, "
        f"{len(report.problems)} unusable, {len(report.warnings)} with warnings",
        *getattr(dataset, "notes", ()),  # what indexing left out (a user's folder: hidden and non-audio files)
        "",
    ]
    totals = class_counts(dataset, [t.id for t in dataset.tracks])
    kept = class_counts(dataset, usable)
    rows = [[c, totals[c], kept[c], totals[c] - kept[c]] for c in dataset.classes]
    lines.append(tabulate(rows, ["class", "tracks", "usable", "unusable"], tablefmt="github"))
    by_kind: dict[str, list[str]] = {}
    for tid in sorted(report.problems):
        by_kind.setdefault(report.kinds.get(tid, "other"), []).append(tid)
    for kind, ids in sorted(by_kind.items()):  # problems one per track: each is a file to replace
        lines += ["", f"unusable (skipped by runs): {kind}: {len(ids)}"]
        lines += [f"  {tid}: {report.problems[tid]}" for tid in ids[:LISTED]]
        if len(ids) > LISTED:
            lines.append(f"  ... and {len(ids) - LISTED} more")
    for kind, ids in warnings_by_kind(report.warnings, report.kinds):  # one example per kind: they are alike
        more = f" (and {len(ids) - 1} more like it)" if len(ids) > 1 else ""
        lines += ["", f"warnings (still used): {kind}: {len(ids)}", f"  {ids[0]}: {report.warnings[ids[0]]}{more}"]
    return "\n".join(lines)


def split_sizes(dataset: Dataset, folds: list[Fold]) -> list[dict]:
    """Per fold: integer sizes of train/valid/test and a `classes` mapping class -> {train, valid, test}."""
    out = []
    for fold in folds:
        parts = {"train": fold.train, "valid": fold.valid, "test": fold.test}
        per_part = {name: class_counts(dataset, ids) for name, ids in parts.items()}
        out.append(
            {
                "index": fold.index,
                **{name: len(ids) for name, ids in parts.items()},
                "split_hash": fold.split_hash(),
                "classes": {c: {name: per_part[name][c] for name in parts} for c in dataset.classes},
            }
        )
    return out


def format_sizes(sizes: list[dict]) -> str:
    lines = []
    for fold in sizes:
        lines.append(
            f"fold {fold['index']}: train {fold['train']}, valid {fold['valid']}, test {fold['test']} "
            f"(split hash {fold['split_hash'][:12]})"
        )
        rows = [[c, n["train"], n["valid"], n["test"]] for c, n in fold["classes"].items()]
        lines += [tabulate(rows, ["class", "train", "valid", "test"], tablefmt="github"), ""]
    return "\n".join(lines).rstrip() + "\n"
