"""Build the corpus dataset: pick candidates per style, parse and render them in a process pool, write the manifest.

The clip set is the first `clips_per_class` candidates of each style's seeded
order that parse, render and are not a repeat of an already chosen tune; each
candidate's tempo and instruments come from its own seeded generator, so the
result does not depend on worker count or scheduling. Work is done in waves
(enough candidates to fill every style, plus a margin for failures) and each
finished candidate leaves a record, so an interrupted build resumes.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from mirbench.datasets.corpus import cache
from mirbench.datasets.corpus.labels import MODES, STYLES, TAG_VOCABULARY, clip_rng, clip_tags, draw_instruments, draw_tempo, tempo_bucket

WORKERS = 2


def _record_path(out: Path, key: str) -> Path:
    return out / "work" / f"{key}.json"


def _render_job(job: dict) -> list[dict]:
    """Worker: parse one corpus file (or tune) once and render every candidate excerpt of it asked for."""
    with warnings.catch_warnings():  # music21 warns about every oddity of the encodings
        warnings.simplefilter("ignore")
        return _render_source(job)


def _render_source(job: dict) -> list[dict]:
    import pretty_midi

    from mirbench.datasets.corpus import score as sc
    from mirbench.datasets.corpus.render import render_clip
    from mirbench.datasets.corpus.sources import Candidate, corpus_dir

    out = Path(job["out"])
    cands = [Candidate(**c) for c in job["candidates"]]
    records = []
    try:
        piece = sc.prepare(sc.parse(corpus_dir() / cands[0].path, cands[0].number), cands[0].style)
    except Exception as exc:  # a broken source: every excerpt of it fails and the next candidate is drawn
        piece, error = None, f"{type(exc).__name__}: {exc}"
    for c in cands:
        rec: dict = {"candidate": c.key, "style": c.style}
        try:
            if piece is None:
                raise RuntimeError(error)
            rng = clip_rng(job["seed"], c.key)
            bpm = draw_tempo(rng)
            ex = sc.excerpt(piece, c.slot, c.n_slots, bpm, job["seconds"])
            if ex.mode not in MODES:
                raise sc.ScoreError(f"mode {ex.mode!r}")
            family, programs = draw_instruments(rng, len(ex.voices))
            wav = f"clips/{c.style}/{c.key}.wav"
            render_clip(ex.voices, programs, job["seconds"], cache.SAMPLE_RATE, out / wav)
            rec.update(
                ok=True, id=c.key, wav=wav, source=c.path, number=c.number, work=c.work,
                group=f"{c.style}:{c.work}", title=c.title, slot=c.slot, n_slots=c.n_slots,
                start_measure=ex.start_measure, looped=ex.looped, family=family, programs=programs,
                program_names=[pretty_midi.program_to_instrument_name(p) for p in programs],
                bpm=bpm, tempo=tempo_bucket(bpm), metre=ex.metre, mode=ex.mode, key=ex.key,
                melody=piece.melody, n_voices=len(ex.voices),
                tags=clip_tags(c.style, family, bpm, ex.metre, ex.mode),
            )  # fmt: skip
        except Exception as exc:
            rec.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        cache.write_json(_record_path(out, c.key), rec)
        records.append(rec)
    return records


def _jobs(cands: list, out: Path, seed: int, seconds: float) -> list[dict]:
    """One job per source (file, tune number), slowest first (big quartet files) so the pool ends evenly."""
    from mirbench.datasets.corpus.sources import corpus_dir

    by_source: dict = defaultdict(list)
    for c in cands:
        by_source[(c.path, c.number)].append(asdict(c))
    jobs = [{"candidates": cs, "seed": seed, "seconds": seconds, "out": str(out)} for cs in by_source.values()]
    slow = ("quartet", "palestrina", "bach")  # parsing MusicXML/Humdrum scores costs far more than ABC tunes

    def cost(job: dict) -> tuple:
        first = job["candidates"][0]
        rank = slow.index(first["style"]) if first["style"] in slow else len(slow)
        return rank, -(corpus_dir() / first["path"]).stat().st_size * len(job["candidates"])

    return sorted(jobs, key=cost)


def _run(jobs: list[dict], workers: int, bar) -> list[dict]:
    if not jobs:
        return []
    records = []
    if workers <= 1:
        for job in jobs:
            records += _render_job(job)
            bar.update(len(job["candidates"]))
        return records
    # The platform's default start method: fork on Linux (no re-import of the caller's main
    # script), spawn on macOS and Windows (call from under `if __name__ == "__main__":` there).
    with multiprocessing.get_context().Pool(min(workers, len(jobs))) as pool:
        for recs in pool.imap_unordered(_render_job, jobs):
            records += recs
            bar.update(len(recs))
    return records


def _load_records(out: Path, cands: list) -> dict[str, dict]:
    done = {}
    for c in cands:
        try:
            done[c.key] = json.loads(_record_path(out, c.key).read_text())
        except (OSError, ValueError):
            pass
    return {k: r for k, r in done.items() if not r.get("ok") or (out / r["wav"]).is_file()}


def select(out: Path, params: dict, progress: bool, workers: int) -> tuple[list[dict], dict]:
    """Render candidates wave by wave until every style has its clips; returns the chosen records and failure counts."""
    from tqdm import tqdm

    from mirbench.datasets.corpus.sources import candidates

    n = params["clips_per_class"]
    order = {s: candidates(s, params["seed"], n) for s in STYLES}
    pos = dict.fromkeys(STYLES, 0)  # next candidate to submit
    scan = dict.fromkeys(STYLES, 0)  # next candidate to consider for acceptance
    chosen: dict[str, list[dict]] = {s: [] for s in STYLES}
    melodies: dict[str, dict[str, str]] = {s: {} for s in STYLES}  # melody hash -> work
    failures: dict[str, int] = defaultdict(int)
    (out / "work").mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=0, desc="building corpus dataset", unit="clip", file=sys.stderr, disable=not progress)
    with bar:
        while True:
            wave = []
            for s in STYLES:
                short = n - len(chosen[s])
                if short > 0:
                    take = order[s][pos[s] : pos[s] + short + max(2, short // 10)]
                    pos[s] += len(take)
                    wave += take
            if not wave:
                break
            results = _load_records(out, wave)
            bar.total += len(wave)
            bar.update(len(results))
            todo = [c for c in wave if c.key not in results]
            results.update({r["candidate"]: r for r in _run(_jobs(todo, out, params["seed"], params["clip_seconds"]), workers, bar)})
            for s in STYLES:
                while scan[s] < pos[s] and len(chosen[s]) < n:
                    rec = results[order[s][scan[s]].key]
                    scan[s] += 1
                    if not rec["ok"]:
                        failures[rec["error"][:70]] += 1
                    elif melodies[s].setdefault(rec["melody"], rec["work"]) != rec["work"]:
                        failures["repeated tune"] += 1
                    else:
                        chosen[s].append(rec)
            exhausted = [s for s in STYLES if len(chosen[s]) < n and pos[s] >= len(order[s])]
            if exhausted:
                from mirbench.datasets.base import DatasetError

                raise DatasetError(
                    f"corpus: only {[len(chosen[s]) for s in exhausted]} clips could be built for {exhausted}; "
                    f"ask for fewer clips_per_class than {n}"
                )
    return [r for s in STYLES for r in chosen[s]], dict(failures)


def build(
    cache_dir: str | Path | None = None,
    clips_per_class: int = 80,
    clip_seconds: float = 30.0,
    seed: int = 0,
    progress: bool = True,
    workers: int = WORKERS,
) -> Path:
    """Build the corpus dataset under the cache (once; later calls return at once) and return its manifest path."""
    params = cache.build_params(clips_per_class, clip_seconds, seed)
    out = cache.build_dir(cache.cache_root(cache_dir), params)
    manifest_path = out / cache.MANIFEST
    if cache.read_manifest(manifest_path, params) is not None:
        return manifest_path
    with cache.locked(out):
        if cache.read_manifest(manifest_path, params) is not None:  # another process built it meanwhile
            return manifest_path
        for stale in out.rglob("*.tmp"):
            stale.unlink()
        t0 = time.perf_counter()
        clips, failures = select(out, params, progress, workers)
        seconds = time.perf_counter() - t0
        keep = {r["wav"] for r in clips}
        manifest = {
            "format": cache.MANIFEST_FORMAT,
            "dataset": "corpus",
            "params": params,
            "sample_rate": cache.SAMPLE_RATE,
            "styles": list(STYLES),
            "tags": [t for t in TAG_VOCABULARY if any(t in r["tags"] for r in clips)],
            "clips": [{k: v for k, v in r.items() if k not in ("ok", "candidate")} for r in clips],
        }
        cache.write_json(out / "build.json", {"seconds": round(seconds, 1), "workers": workers, "skipped": failures})
        cache.write_json(manifest_path, manifest)
        for wav in (out / "clips").rglob("*.wav"):  # rendered but not chosen (failed over a later wave)
            if wav.relative_to(out).as_posix() not in keep:
                wav.unlink()
        shutil.rmtree(out / "work", ignore_errors=True)
    return manifest_path
