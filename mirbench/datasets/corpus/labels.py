"""The corpus dataset's label vocabulary and the random draws that must not give the style away.

Every clip draws its instrument family, programs and tempo from the same
distributions whatever its style, so timbre and tempo carry no style
information; only the notes do.
"""

from __future__ import annotations

import random

#: The six style classes, in class order.
STYLES = ("bach", "palestrina", "quartet", "irish", "german", "chinese")

#: General MIDI families a clip may be played by, with the programs (0-based)
#: drawn from each. Families that are unpitched, effects or mostly noise
#: (bass, synth pad/effects, ethnic, percussive, sound effects) are left out,
#: as are single odd programs (guitar harmonics, timpani, orchestra hit).
FAMILIES: dict[str, tuple[int, ...]] = {
    "piano": tuple(range(0, 8)),
    "chromatic-percussion": tuple(range(8, 16)),
    "organ": tuple(range(16, 24)),
    "guitar": tuple(range(24, 31)),
    "strings": tuple(range(40, 47)),
    "ensemble": tuple(range(48, 55)),
    "brass": tuple(range(56, 64)),
    "reed": tuple(range(64, 72)),
    "pipe": tuple(range(72, 80)),
    "synth-lead": tuple(range(80, 88)),
}

#: Tempo is drawn uniformly (integer quarter-note bpm) from this closed range
#: for every clip; the buckets split it into three equal parts.
TEMPO_RANGE = (70, 150)
TEMPO_BUCKETS = (("slow", 97), ("medium", 124), ("fast", 151))  # name, exclusive upper bound
METRES = ("duple", "triple")
MODES = ("major", "minor")

#: Every tag, in class order for the `tags` task.
TAG_VOCABULARY = (
    STYLES
    + tuple(FAMILIES)
    + tuple(name for name, _ in TEMPO_BUCKETS)
    + METRES
    + MODES
)


def clip_rng(seed: int, key: str) -> random.Random:
    """A generator that depends only on the build seed and the candidate key (not on build order)."""
    return random.Random(f"mirbench-corpus:{seed}:{key}")


def draw_tempo(rng: random.Random) -> int:
    return rng.randint(*TEMPO_RANGE)


def draw_instruments(rng: random.Random, n_voices: int) -> tuple[str, list[int]]:
    """A family, then one program per voice from that family (same procedure for every style)."""
    family = rng.choice(sorted(FAMILIES))
    return family, [rng.choice(FAMILIES[family]) for _ in range(n_voices)]


def tempo_bucket(bpm: float) -> str:
    for name, upper in TEMPO_BUCKETS:
        if bpm < upper:
            return name
    return TEMPO_BUCKETS[-1][0]


def metre_of(numerator: int, denominator: int) -> str | None:
    """'duple' or 'triple' from a time signature (6/8, 9/8, 12/8 count dotted beats); None if irregular."""
    beats = numerator // 3 if numerator in (6, 9, 12) and denominator >= 4 else numerator
    if beats % 3 == 0:
        return "triple"
    if beats in (2, 4, 8):
        return "duple"
    return None


def clip_tags(style: str, family: str, bpm: float, metre: str, mode: str) -> list[str]:
    """The multi-label tags of one clip, in vocabulary order."""
    tags = {style, family, tempo_bucket(bpm), metre, mode}
    return [t for t in TAG_VOCABULARY if t in tags]
