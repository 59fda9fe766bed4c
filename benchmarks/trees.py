"""Generated dataset trees in the published layouts, at any number of clips, for the per-stage benchmarks.

GTZAN: `gtzan/genres/<genre>/<genre>.000NN.wav` (10 genres, 30 s, 22050 Hz,
16-bit mono WAV). MagnaTagATune: `mtat/annotations_final.csv` (TAB-separated,
quoted, 188 tag columns), `mtat/clip_info_final.csv` and `mtat/mp3/<0-f>/...mp3`
(29.1 s, 16 kHz mono MP3), five clips per song. At 10,000 x 30 s a tree of
distinct WAVs would be 13 GB, so each tree holds `POOL` distinct files and the
rest are hard links to them: index and validate read names, headers and the
first and last blocks, and decoding or a frontend costs the same per clip
whatever the content (no content-keyed cache may be consulted on them).
MP3s are written by libsndfile (soundfile), which needs no ffmpeg.

Trees are built once per size under `TREES` (`$MIRBENCH_TREES`, default
/tmp/mirbench-trees, never the repository) and reused while their `.complete`
marker holds the parameters they were built with.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

TREES = Path(os.environ.get("MIRBENCH_TREES", "/tmp/mirbench-trees"))
POOL = 16  # distinct audio files per tree; every other clip is a hard link to one of them
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
GTZAN_SECONDS, GTZAN_RATE = 30.0, 22050
MTAT_SECONDS, MTAT_RATE = 29.1, 16000
MTAT_DIRECTORIES = "0123456789abcdef"
MTAT_TAG_COLUMNS = 188  # as in the published annotations_final.csv
MTAT_FULL = 25_863  # rows of the published annotations_final.csv
CLIP_INFO_COLUMNS = ("clip_id", "track_number", "title", "artist", "album", "url", "segmentStart", "segmentEnd",
                     "original_url", "mp3_path")
VERSION = 1  # bump when what a tree holds changes: trees built before are rebuilt


def tone(k: int, seconds: float, sample_rate: int) -> np.ndarray:
    """Distinct audio number `k`: a tone in noise, float32 in [-1, 1]."""
    rng = np.random.default_rng(k)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    y = 0.3 * np.sin(2 * np.pi * (110.0 + 37.0 * k) * t) + 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def _pool(kind: str, fmt: str, seconds: float, sample_rate: int) -> list[Path]:
    """The `POOL` distinct files every tree of `kind` links to, written once under TREES/pool-<kind>/."""
    import soundfile as sf

    folder = TREES / f"pool-{kind}"
    marker = {"version": VERSION, "pool": POOL, "seconds": seconds, "rate": sample_rate, "format": fmt}
    paths = [folder / f"p{k:02d}.{fmt.lower()}" for k in range(POOL)]
    if _complete(folder) == marker:
        return paths
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for k, path in enumerate(paths):
        subtype = "PCM_16" if fmt == "WAV" else None
        sf.write(path, tone(k, seconds, sample_rate), sample_rate, format=fmt, subtype=subtype)
    _mark(folder, marker)
    return paths


def _complete(folder: Path) -> dict | None:
    try:
        return json.loads((folder / ".complete").read_text())
    except (OSError, ValueError):
        return None


def _mark(folder: Path, marker: dict) -> None:
    (folder / ".complete").write_text(json.dumps(marker))


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or no hard links: a copy costs disk, not correctness
        shutil.copyfile(source, target)


# -- GTZAN ----------------------------------------------------------------------------------------
def gtzan_pool() -> list[Path]:
    """The distinct 30 s WAVs (22050 Hz, 16-bit mono) that every GTZAN tree links to."""
    return _pool("wav-22050", "WAV", GTZAN_SECONDS, GTZAN_RATE)


def gtzan_tree(n_clips: int) -> Path:
    """A data root holding `gtzan/genres/<genre>/<genre>.NNNNN.wav`, `n_clips / 10` per genre.

    Up to 1,000 clips it is GTZAN in the published layout (open it as "gtzan" with
    `tracks_per_genre = n_clips / 10`); past that, the same layout holds more
    than GTZAN's 100 per genre, which the "folder" dataset indexes (`path` =
    `gtzan/genres`): the tree the decode and frontend stages read at 10,000.
    """
    if n_clips % len(GENRES) or n_clips < len(GENRES):
        raise ValueError(f"a GTZAN tree holds a multiple of {len(GENRES)} clips, got {n_clips}")
    per_genre = n_clips // len(GENRES)
    root = TREES / f"gtzan-{n_clips}"
    marker = {"version": VERSION, "clips": n_clips, "pool": POOL}
    if _complete(root) == marker:
        return root
    pool = gtzan_pool()
    shutil.rmtree(root, ignore_errors=True)
    k = 0
    for genre in GENRES:
        folder = root / "gtzan" / "genres" / genre
        folder.mkdir(parents=True)
        for number in range(per_genre):
            _link(pool[k % POOL], folder / f"{genre}.{number:05d}.wav")
            k += 1
    _mark(root, marker)
    return root


def gtzan_spec(n_clips: int) -> dict:
    """The suite [dataset] table that opens `gtzan_tree(n_clips)`: "gtzan" up to 1,000 clips, else "folder"."""
    if n_clips <= 100 * len(GENRES):
        return {"name": "gtzan", "tracks_per_genre": n_clips // len(GENRES)}
    return {"name": "folder", "path": "gtzan/genres"}


# -- MagnaTagATune --------------------------------------------------------------------------------
def mtat_clip_path(i: int) -> tuple[str, str, int, int]:
    """(mp3 path, song, segment start, segment end) of clip row `i`: directories in turn, five segments a song."""
    d = MTAT_DIRECTORIES[i % len(MTAT_DIRECTORIES)]
    song, part = divmod(i // len(MTAT_DIRECTORIES), 5)
    start = 29 * part
    name = f"artist_{d}_{song:04d}-album_{song:04d}-01-song_{song:04d}"
    return f"{d}/{name}-{start}-{start + 29}.mp3", name, start, start + 29


def mtat_tree(n_clips: int) -> Path:
    """A data root holding `mtat/` in the published layout with `n_clips` clips (25,863 is the full size)."""
    root = TREES / f"mtat-{n_clips}"
    marker = {"version": VERSION, "clips": n_clips, "pool": POOL, "tags": MTAT_TAG_COLUMNS}
    if _complete(root) == marker:
        return root
    pool = _pool("mp3-16000", "MP3", MTAT_SECONDS, MTAT_RATE)
    shutil.rmtree(root, ignore_errors=True)
    mtat = root / "mtat"
    for d in MTAT_DIRECTORIES:
        (mtat / "mp3" / d).mkdir(parents=True)
    rng = np.random.default_rng(0)
    weights = 0.3 / (1 + np.arange(MTAT_TAG_COLUMNS))  # distinct tag frequencies, as in the real file
    tags = [f"tag{j:03d}" for j in range(MTAT_TAG_COLUMNS)]
    annotations = ["\t".join(f'"{c}"' for c in ("clip_id", *tags, "mp3_path"))]
    clip_info = ["\t".join(f'"{c}"' for c in CLIP_INFO_COLUMNS)]
    for i in range(n_clips):
        mp3_path, song, start, end = mtat_clip_path(i)
        clip_id = str(2 + 4 * i)  # the published ids are not consecutive
        _link(pool[i % POOL], mtat / "mp3" / mp3_path)
        values = (rng.random(MTAT_TAG_COLUMNS) < weights).astype(int)
        annotations.append(f'"{clip_id}"\t' + "\t".join(f'"{v}"' for v in values) + f'\t"{mp3_path}"')
        url = f"http://www.magnatune.com/artists/albums/{song}"
        fields = (clip_id, "1", song, song.split("-")[0], song.split("-")[1], url, str(start), str(end),
                  f"{url}.mp3", mp3_path)
        clip_info.append("\t".join(f'"{f}"' for f in fields))
    (mtat / "annotations_final.csv").write_text("\n".join(annotations) + "\n", encoding="utf-8")
    (mtat / "clip_info_final.csv").write_text("\n".join(clip_info) + "\n", encoding="utf-8")
    _mark(root, marker)
    return root


MTAT_SPEC = {"name": "mtat", "n_tags": 50}
