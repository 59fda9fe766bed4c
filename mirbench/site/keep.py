"""Regenerating the leaderboard never drops what the board already shows, unless asked (`--replace`).

A board records its rows in a closing Markdown comment, one JSON array per line: [section key, system, source,
run id] (`comment`). Before a board is overwritten, the rows recorded in the old one are compared with the new
one's (`check`): an old row is kept when the new board has the same section, system and source, or the same
section, system and run id (the same run, now from its verified submission). A board written before the comment
existed is read from its headings and tables instead (`legacy_rows`), without run ids.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mirbench.errors import MirbenchError

MARK = "mirbench.leaderboard/1 rows"
OPEN = f"<!-- {MARK} (section, system, source, run): what a regeneration must keep; see docs/leaderboard.md"
NOTE = re.compile(r" \((incomplete[^()]*|new suite .*, not registered here)\)$")
CELL = re.compile(r"(?<!\\)\|")


class BoardError(MirbenchError):
    """The new board would lose rows the board on disk shows; the message says which and how to proceed."""


def inert(line: str) -> str:
    """A JSON line that cannot end the HTML comment it sits in ('<', '>' and '&' as JSON escapes)."""
    return line.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def comment(recorded: list[tuple[str, str, str, str]]) -> str:
    """The closing comment of a board: one JSON array per recorded row, in the board's order."""
    lines = [inert(json.dumps(list(r), ensure_ascii=False)) for r in recorded]
    return "\n".join([OPEN, *lines, "-->"]) + "\n"


def recorded_rows(text: str) -> set[tuple[str, str, str, str]] | None:
    """The rows a board's comment records; None when it has no such comment (a board from before it)."""
    start = text.find(f"<!-- {MARK}")
    if start < 0:
        return None
    out = set()
    for line in text[start:].splitlines()[1:]:
        if line.startswith("-->"):
            break
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, list) and len(value) == 4 and all(isinstance(v, str) for v in value):
            out.add(tuple(value))
    return out


def legacy_rows(text: str) -> set[tuple[str, str, str, str]]:
    """The rows of a board written before the comment: '## dataset · protocol · metric' sections whose table rows
    give the system (less its '(quick)' and notes) and the source; the run id is unknown ('')."""
    out, section, header = set(), None, None
    for line in text.splitlines():
        if line.startswith("## "):
            section, header = line[3:].strip(), None
            continue
        if section is None or not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip().replace("\\|", "|") for c in CELL.split(line.strip())[1:-1]]
        if header is None:
            header = cells
            continue
        if "System" not in header or "Source" not in header or len(cells) != len(header):
            continue
        system, source = NOTE.sub("", cells[header.index("System")]), cells[header.index("Source")]
        quick = system.endswith(" (quick)")
        out.add((section + (" · quick" if quick else ""), system.removesuffix(" (quick)"), source, ""))
    return out


def board_rows(text: str) -> set[tuple[str, str, str, str]]:
    recorded = recorded_rows(text)
    return legacy_rows(text) if recorded is None else recorded


def lost(old: set[tuple], new: set[tuple]) -> list[tuple]:
    """The old rows the new board lacks: neither the same (section, system, source) nor the same run."""
    by_source = {(s, sys, src) for s, sys, src, _ in new}
    by_run = {(s, sys, run) for s, sys, _, run in new if run}
    return sorted(r for r in old if r[:3] not in by_source and not (r[3] and (r[0], r[1], r[3]) in by_run))


def check(path: Path, new_text: str) -> None:
    """Raise a BoardError when the board at `path` shows rows that `new_text` lacks (one line: how many, from
    which sources, and how to proceed)."""
    gone = lost(board_rows(path.read_text()), board_rows(new_text))
    if not gone:
        return
    sources = sorted({r[2] for r in gone})
    n_sections = len({r[0] for r in gone})
    shown = ", ".join(sources[:5]) + (f" and {len(sources) - 5} more" if len(sources) > 5 else "")
    raise BoardError(
        f"{path} shows {len(gone)} row(s) in {n_sections} section(s) that the new board would lose (from {shown}); "
        "give every input it was built from (with no PATH, results/*/ and submissions/ are ranked), pass --replace "
        "to overwrite it on purpose, or write elsewhere with --reports DIR")
