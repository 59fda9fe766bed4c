"""The report's "## Deviations from the paper": the ledgers of the systems its records ran, for its kind of suite.

Printed only when the report sets published numbers beside its own (otherwise there is no paper to deviate
from on the page). A suite on the embedded corpus or on synthetic data is a small-machine suite and shows the
deviations with applies_to "small" or "both"; any other shows "full" and "both".
"""

from __future__ import annotations

from mirbench import registry
from mirbench.deviations import Deviation, cell, of_system, unique
from mirbench.report import tables

SMALL_DATASETS = {"corpus", "synthetic"}


def is_small(suite: dict) -> bool:
    return suite.get("dataset", {}).get("name") in SMALL_DATASETS


def prints_published(suite: dict) -> bool:
    return bool(suite.get("report", {}).get("published")) or bool(tables.published_entries(suite))


def markdown_section(suite: dict, records: list[dict]) -> str:
    """The section, or "" when the report prints no published numbers or no system in it declares a deviation."""
    if not prints_published(suite):
        return ""
    small = is_small(suite)
    names = list(dict.fromkeys(r["variant"]["system"] for r in records if r.get("variant", {}).get("system")))
    systems: dict[Deviation, list[str]] = {}
    for name in names:
        if name not in registry.systems:  # a record of a plug-in no longer installed: nothing to look up
            continue
        for d in of_system(registry.systems.get(name), name):
            if d.applies(small):
                systems.setdefault(d, []).append(name)
    if not systems:
        return ""
    kind = "small-machine suites (embedded corpus or synthetic data)" if small else "full-data suites"
    lines = [
        "## Deviations from the paper",
        "",
        f"Where the systems in this report depart from their papers, in {kind} (from each system's ledger; "
        "see its card in docs/systems/). Published numbers beside the results were obtained without these.",
        "",
        "| system | what | the paper | mirbench | why |",
        "|---|---|---|---|---|",
    ]
    for d in unique(systems):
        who = ", ".join(f"`{n}`" for n in systems[d])
        lines.append(f"| {who} | {cell(d.aspect)} | {cell(d.paper)} | {cell(d.mirbench)} | {cell(d.why)} |")
    return "\n".join(lines) + "\n"
