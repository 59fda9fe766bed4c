"""Which music21 corpus works feed each style, deduplicated, grouped by work, in a seeded order.

Only file names and ABC/Humdrum header text are read here (fast); parsing the
music happens later, one candidate at a time, in the build's worker processes.
A build takes the first candidates of each style's ordered list that parse,
so the order (and hence the clip set) depends only on the seed.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

#: Whole string quartets stored as one file get this many excerpt slots per
#: round (about one per movement); single-movement files get one.
WHOLE_QUARTET_SLOTS = 4
#: Mozart's corpus directories that hold string quartets (k545 is a piano sonata).
MOZART_QUARTETS = ("k80", "k155", "k156", "k458")
#: Essen collections of German folk songs; only tunes whose origin (O:) names Germany are used.
ESSEN_GERMAN = (
    "altdeu10", "altdeu20", "ballad10", "ballad20", "ballad30", "ballad40", "ballad50", "ballad60",
    "ballad70", "ballad80", "boehme10", "boehme20", "dva0", "erk5", "erk10", "erk20", "erk30",
    "fink0", "kinder0", "zuccal0",
)  # fmt: skip
#: Essen collections of Han Chinese folk songs.
ESSEN_CHINESE = ("han1", "han2")


@dataclass(frozen=True)
class Candidate:
    """One excerpt the build may render: a corpus file (and tune number), and where in it to start.

    `work` names the musical work (a chorale, a mass, a quartet movement or a
    whole quartet file, a tune); its clips share the group `style:work`.
    `slot` of `n_slots` places the excerpt proportionally through the work.
    """

    key: str
    style: str
    path: str  # relative to the music21 corpus directory
    number: int | None
    work: str
    title: str
    slot: int = 0
    n_slots: int = 1


def corpus_dir() -> Path:
    """The music21 corpus directory of the installed music21."""
    import music21

    return Path(music21.__file__).parent / "corpus"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _shuffled(items: list, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


# --- ABC collections -------------------------------------------------------

_HEADER = re.compile(r"^([A-Zw]):\s?(.*)$")


@dataclass(frozen=True)
class AbcTune:
    path: str
    number: int
    title: str
    origin: str
    body: str  # the music lines, whitespace removed: a text fingerprint


def abc_tunes(relpath: str) -> list[AbcTune]:
    """The tunes of one ABC file, from its text; a tune number repeated in the file is kept once."""
    text = (corpus_dir() / relpath).read_text(encoding="latin-1")
    tunes, seen = [], set()
    for chunk in re.split(r"(?m)^(?=X:)", text):
        m = re.match(r"X:\s*(\d+)", chunk)
        if not m or int(m.group(1)) in seen:
            continue
        fields: dict[str, str] = {}
        body = []
        for line in chunk.splitlines()[1:]:
            h = _HEADER.match(line)
            if h and not line.startswith("|"):
                fields.setdefault(h.group(1), h.group(2).strip())
            elif not line.startswith("%"):
                body.append(re.sub(r"\s+", "", line))
        seen.add(int(m.group(1)))
        tunes.append(AbcTune(relpath, int(m.group(1)), fields.get("T", ""), fields.get("O", ""), "".join(body)))
    return tunes


def _tune_candidates(style: str, tunes: list[AbcTune], rng: random.Random, book: str | None = None) -> list[Candidate]:
    """One candidate per tune; the work is `book-number` (the tune's number in its book or file)."""
    out = []
    for t in _shuffled(tunes, rng):
        work = f"{book or Path(t.path).stem}-{t.number}"
        out.append(Candidate(f"{style}-{_slug(work)}", style, t.path, t.number, work, t.title))
    return out


def _dedup_text(tunes: list[AbcTune]) -> list[AbcTune]:
    """Drop tunes whose music text repeats an earlier tune's (same collection printed twice)."""
    seen, out = set(), []
    for t in tunes:
        if t.body and t.body not in seen:
            seen.add(t.body)
            out.append(t)
    return out


def _norm_title(title: str) -> str:
    title = re.sub(r"[^a-z ]", "", title.lower().replace(", the", ""))
    return " ".join(w for w in title.split() if w != "the")


def irish(rng: random.Random) -> list[Candidate]:
    """O'Neill's Music of Ireland (1850 tunes, some transcribed twice): one entry per tune number and title."""
    tunes, numbers, titles = [], set(), set()
    for path in sorted((corpus_dir() / "oneills1850").glob("*.abc")):
        for t in abc_tunes(f"oneills1850/{path.name}"):
            title = _norm_title(t.title)
            if t.number in numbers or (title and title in titles):
                continue
            numbers.add(t.number)
            titles.add(title)
            tunes.append(t)
    return _tune_candidates("irish", _dedup_text(tunes), rng, book="oneills")


def essen(style: str, collections: tuple[str, ...], origin: str | None, rng: random.Random) -> list[Candidate]:
    """Tunes of the Essen folk song collections named, optionally only those whose origin contains `origin`."""
    tunes = []
    for name in collections:
        for t in abc_tunes(f"essenFolksong/{name}.abc"):
            if origin is None or origin in t.origin:
                tunes.append(t)
    return _tune_candidates(style, _dedup_text(tunes), rng)


# --- scores ----------------------------------------------------------------


def bach(rng: random.Random) -> list[Candidate]:
    """Bach's four-part chorales; variant settings of one chorale (bwv18.5-lz, -w) are kept once."""
    chorales: dict[str, str] = {}
    for path in sorted((corpus_dir() / "bach").glob("bwv*")):
        m = re.match(r"^(bwv\d+(?:\.\d+)?)(-[\w.-]+)?\.(mxl|xml)$", path.name)
        if m and (m.group(1) not in chorales or m.group(2) is None):
            chorales[m.group(1)] = f"bach/{path.name}"
    return [
        Candidate(f"bach-{_slug(bwv)}", "bach", chorales[bwv], None, bwv, bwv)
        for bwv in _shuffled(sorted(chorales), rng)
    ]


def palestrina(rng: random.Random) -> list[Candidate]:
    """Palestrina's mass sections, grouped by mass; the order visits masses round-robin."""
    masses: dict[str, list[Path]] = {}
    for path in sorted((corpus_dir() / "palestrina").glob("*.krn")):
        head = path.read_text(encoding="latin-1", errors="replace")[:2000]
        m = re.search(r"^!!!OPR:\s*(.+?)\s*$", head, flags=re.M)
        masses.setdefault(m.group(1) if m else path.stem, []).append(path)
    queues = [
        (mass, _shuffled(masses[mass], rng)) for mass in _shuffled(sorted(masses), rng)
    ]
    out = []
    for depth in range(max(len(files) for _, files in queues)):
        for mass, files in queues:
            if depth < len(files):
                p = files[depth]
                out.append(Candidate(f"palestrina-{_slug(p.stem)}", "palestrina", f"palestrina/{p.name}", None, mass, f"{mass}: {p.stem}"))
    return out


def quartet_files() -> list[tuple[str, int]]:
    """(corpus path, slots per round) of every string quartet movement or whole quartet file."""
    root = corpus_dir()
    files = []
    for composer in ("beethoven", "haydn", "mozart"):
        for path in sorted((root / composer).rglob("*.mxl")):
            rel = path.relative_to(root)
            if composer == "mozart" and rel.parts[1] not in MOZART_QUARTETS:
                continue
            files.append((rel.as_posix(), WHOLE_QUARTET_SLOTS if len(rel.parts) == 2 else 1))
    return files


def quartet(rng: random.Random, clips: int) -> list[Candidate]:
    """Excerpts of string quartets by Beethoven, Haydn and Mozart: several slots per work, round by round."""
    files = quartet_files()
    per_round = sum(k for _, k in files)
    rounds = max(1, math.ceil(1.25 * clips / per_round))
    out = []
    for r in range(rounds):
        units = _shuffled([(path, k, j) for path, k in files for j in range(k)], rng)
        for path, k, j in units:
            work = path.rsplit(".", 1)[0]
            slot, n_slots = r * k + j, rounds * k
            out.append(Candidate(f"quartet-{_slug(work)}-{slot}", "quartet", path, None, work, work, slot, n_slots))
    return out


def candidates(style: str, seed: int, clips: int) -> list[Candidate]:
    """The ordered candidate excerpts of one style for a build with this seed."""
    rng = random.Random(f"mirbench-corpus-order:{seed}:{style}")
    if style == "bach":
        return bach(rng)
    if style == "palestrina":
        return palestrina(rng)
    if style == "quartet":
        return quartet(rng, clips)
    if style == "irish":
        return irish(rng)
    if style == "german":
        return essen("german", ESSEN_GERMAN, "Deutschland", rng)
    if style == "chinese":
        return essen("chinese", ESSEN_CHINESE, None, rng)
    raise ValueError(f"unknown style {style!r}")
