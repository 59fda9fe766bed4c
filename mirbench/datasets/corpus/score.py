"""music21 scores -> note lists per voice, metre and mode of an excerpt, looped to the clip length.

Ties are merged here while flattening (music21's `stripTies` and
`expandRepeats` are far too slow on the string quartets), and repeats are
not expanded: an excerpt is a run of consecutive measures. A piece shorter
than the clip is looped note by note, never by copying audio.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirbench.datasets.corpus.labels import metre_of

#: Part names that are the four voices of a chorale (other parts double them: horns, continuo...).
CHORALE_VOICES = ("soprano", "alto", "tenor", "bass")
MIN_NOTES = 8


class ScoreError(ValueError):
    """A candidate that cannot give a usable excerpt (too few voices or notes, irregular metre)."""


def parse(path: Path, number: int | None = None):
    """Parse one corpus file (one tune of an ABC file) without reading or writing music21's pickle cache."""
    from music21 import converter

    score = converter.parse(str(path), number=number, forceSource=True, storePickle=False)
    if score is None or not hasattr(score, "parts"):
        raise ScoreError(f"{path} #{number}: not a score")
    return score


def select_parts(score, style: str) -> list:
    """The parts that become voices: the four chorale voices, the four quartet parts, all mass voices, one tune line."""
    parts = list(score.parts) or [score]
    if style == "bach":
        named = {}
        for p in parts:
            name = (p.partName or "").strip().lower()
            for voice in CHORALE_VOICES:
                if name.startswith(voice) and voice not in named:
                    named[voice] = p
        if len(named) != 4:
            raise ScoreError(f"chorale voices not found among parts {[p.partName for p in parts]}")
        return [named[v] for v in CHORALE_VOICES]
    if style == "quartet" and len(parts) != 4:
        raise ScoreError(f"a string quartet needs 4 parts, found {len(parts)}")
    if style in ("irish", "german", "chinese"):
        return parts[:1]
    return parts


def part_notes(part) -> np.ndarray:
    """Rows of (start, end, midi pitch) in quarter notes, tied notes merged, grace notes and chord symbols dropped."""
    from music21 import harmony

    rows: list[list[float]] = []
    last: dict[int, int] = {}  # pitch -> row of its latest note
    for el in part.flatten().notes:
        if isinstance(el, harmony.Harmony):
            continue
        ql = float(el.duration.quarterLength)
        if ql <= 0:
            continue
        off = float(el.offset)
        for n in el.notes if el.isChord else [el]:
            pitch = getattr(n, "pitch", None)
            if pitch is None:
                continue
            midi = int(round(pitch.ps))
            tie = n.tie if n.tie is not None else el.tie
            prev = last.get(midi)
            if tie is not None and tie.type in ("stop", "continue") and prev is not None and abs(rows[prev][1] - off) < 1e-6:
                rows[prev][1] = off + ql
            else:
                last[midi] = len(rows)
                rows.append([off, off + ql, float(midi)])
    arr = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return arr[np.lexsort((arr[:, 2], arr[:, 0]))]


def measure_grid(part) -> list[tuple[float, float, str | None]]:
    """(offset, length, metre) of each measure of `part`, the metre from the time signature in force."""
    from music21 import meter

    grid, ts = [], None
    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        found = list(part.recurse().getElementsByClass(meter.TimeSignature))
        m = metre_of(found[0].numerator, found[0].denominator) if found else None
        return [(0.0, float(part.highestTime), m)]
    for m in measures:
        if m.timeSignature is not None:
            ts = m.timeSignature
        metre = metre_of(ts.numerator, ts.denominator) if ts is not None else None
        grid.append((float(m.offset), float(m.duration.quarterLength), metre))
    return grid


def melody_hash(notes: np.ndarray) -> str:
    """A transposition-invariant fingerprint of a melody (intervals and durations): finds repeated tunes."""
    if len(notes) < 2:
        raise ScoreError("fewer than two notes")
    intervals = np.diff(notes[:, 2]).astype(np.int16)
    durations = np.round((notes[:, 1] - notes[:, 0]) * 48).astype(np.int32)
    return hashlib.sha1(intervals.tobytes() + b"|" + durations.tobytes()).hexdigest()[:16]


@dataclass
class Piece:
    """A parsed work ready to cut excerpts from."""

    score: object  # music21 Score, kept for key analysis
    voices: list[np.ndarray]  # per voice, rows of (start_ql, end_ql, pitch)
    grid: list[tuple[float, float, str | None]]
    length: float  # quarter notes; the loop period
    melody: str  # melody_hash of the first voice


def prepare(score, style: str) -> Piece:
    parts = select_parts(score, style)
    voices = [part_notes(p) for p in parts]
    grid = measure_grid(parts[0])
    ends = [v[:, 1].max() for v in voices if len(v)]
    length = max([grid[-1][0] + grid[-1][1]] + ends)
    if sum(len(v) for v in voices) < MIN_NOTES or length <= 0:
        raise ScoreError("too few notes")
    return Piece(score, voices, grid, float(length), melody_hash(voices[0]))


@dataclass
class Excerpt:
    voices: list[np.ndarray]  # per voice, rows of (start_s, end_s, pitch), within [0, seconds)
    metre: str
    mode: str
    key: str
    start_measure: int  # 0-based index of the first measure
    looped: bool


def _window(piece: Piece, slot: int, n_slots: int, need: float) -> tuple[int, int]:
    """Measure index range [i, j) of an excerpt of `need` quarter notes placed at slot/n_slots of the piece."""
    offsets = [g[0] for g in piece.grid]
    i = min(len(offsets) - 1, (slot * len(offsets)) // max(1, n_slots))
    while i > 0 and offsets[i] + need > piece.length:
        i -= 1
    j = i + 1
    while j < len(offsets) and offsets[j] < offsets[i] + need:
        j += 1
    return i, j


def _cut(notes: np.ndarray, start: float, need: float, period: float) -> tuple[np.ndarray, bool]:
    """Notes of [start, start + need), looping the piece (period `period`) when it is shorter than that."""
    looped = start + need > period + 1e-9
    if looped:
        copies = [notes + np.array([k * period, k * period, 0.0]) for k in range(math.ceil(need / period) + 1)]
        notes = np.concatenate(copies) if copies else notes
    sel = notes[(notes[:, 0] >= start) & (notes[:, 0] < start + need)].copy()
    sel[:, :2] -= start
    sel[:, 1] = np.minimum(sel[:, 1], need)
    return sel, looped


def excerpt(piece: Piece, slot: int, n_slots: int, bpm: float, seconds: float) -> Excerpt:
    """The excerpt of `seconds` at `bpm` (quarter notes) for this slot, with its metre and mode."""
    need = seconds * bpm / 60.0
    i, j = _window(piece, slot, n_slots, need)
    start = piece.grid[i][0]
    weights: Counter = Counter()
    for _, length, metre in piece.grid[i:j]:
        weights[metre] += length
    metre = weights.most_common(1)[0][0]
    if metre is None:
        raise ScoreError("irregular or missing metre")
    cut = [_cut(v, start, need, piece.length) for v in piece.voices]
    if sum(len(v) for v, _ in cut) < MIN_NOTES:
        raise ScoreError("too few notes in the excerpt")
    whole = i == 0 and j >= len(piece.grid)
    region = piece.score if whole else piece.score.measures(i, j, indicesNotNumbers=True)
    key = region.analyze("key")
    scale = 60.0 / bpm
    voices = [np.column_stack([v[:, :2] * scale, v[:, 2]]) for v, _ in cut]
    return Excerpt(voices, metre, str(key.mode), f"{key.tonic.name} {key.mode}", i, any(lp for _, lp in cut))
