"""Deviations from the paper, as data: each reproduced system declares where it departs from what it reproduces.

A system class lists its `Deviation`s in a class attribute `DEVIATIONS`; a package whose system module it
cannot edit may instead map system names to ledgers in `<package>.deviations.BY_SYSTEM`. `applies_to` says
which suites a deviation concerns: "full" (the full-data suites), "small" (only the small-machine suites on
the embedded corpus or synthetic data) or "both". The system cards' "Deviations from the paper" tables and the
reports' section of the same name are generated from these ledgers (`card_region`, `mirbench.report.deviations`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Iterable

APPLIES = ("full", "small", "both")
START = (
    "<!-- deviations:start (generated from the ledger in baselines/; edit it, then mirbench.deviations.sync_card) -->"
)
END = "<!-- deviations:end -->"


@dataclass(frozen=True)
class Deviation:
    """One place where mirbench does not do what the paper does."""

    aspect: str
    paper: str
    mirbench: str
    why: str
    applies_to: str = "full"

    def __post_init__(self):
        for name in ("aspect", "paper", "mirbench", "why"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"Deviation.{name} must be a non-empty string")
        if self.applies_to not in APPLIES:
            raise ValueError(f"Deviation.applies_to must be one of {', '.join(APPLIES)}, got {self.applies_to!r}")

    def applies(self, small: bool) -> bool:
        """Whether it concerns a small-machine suite (`small`) or a full-data one."""
        return self.applies_to == "both" or self.applies_to == ("small" if small else "full")


def of_system(factory, name: str | None = None) -> tuple[Deviation, ...]:
    """The deviations a system factory declares: its `DEVIATIONS`, else its package's `deviations.BY_SYSTEM[name]`."""
    declared = getattr(factory, "DEVIATIONS", None)
    if declared is None and name is not None:
        package = getattr(factory, "__module__", "").rpartition(".")[0]
        try:
            ledger = importlib.import_module(f"{package}.deviations") if package else None
        except ModuleNotFoundError as err:
            if err.name != f"{package}.deviations":
                raise
            ledger = None
        declared = getattr(ledger, "BY_SYSTEM", {}).get(name, ())
    declared = tuple(declared or ())
    for d in declared:
        if not isinstance(d, Deviation):
            who = getattr(factory, "__name__", factory)
            raise TypeError(f"{who!r} declares a deviation that is not a Deviation: {d!r}")
    return declared


def unique(deviations: Iterable[Deviation]) -> list[Deviation]:
    """In first-seen order, each once (families that share a ledger list a shared entry once)."""
    return list(dict.fromkeys(deviations))


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def table(deviations: Iterable[Deviation], applies_column: bool = True) -> str:
    """A markdown table of deviations: aspect, the paper, mirbench, why (and which suites, if `applies_column`)."""
    rows = unique(deviations)
    head = ["what", "the paper", "mirbench", "why"] + (["suites"] if applies_column else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in rows:
        values = [d.aspect, d.paper, d.mirbench, d.why] + ([d.applies_to] if applies_column else [])
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines)


def card_region(deviations: Iterable[Deviation]) -> str:
    """What a system card holds between its markers (the markers included)."""
    legend = ('"suites": full = the full-data suites, small = only the small-machine suites (embedded corpus), '
              "both = both.")
    return f"{START}\n{table(deviations)}\n\n{legend}\n{END}"


def region_of(text: str) -> str | None:
    """The marked region of a card's text (markers included), or None when it has none."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start : end + len(END)]


def sync_card(path, deviations: Iterable[Deviation]) -> bool:
    """Rewrite the marked region of the card at `path` from `deviations`; True if the file changed."""
    from pathlib import Path

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    old = region_of(text)
    if old is None:
        raise ValueError(f"{path}: no {START!r} ... {END!r} region")
    new = text.replace(old, card_region(deviations))
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text
