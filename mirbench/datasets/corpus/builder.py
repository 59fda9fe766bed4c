"""Build the corpus dataset: pick candidates per style, parse and render them in a process pool, write the manifest.

The clip set is the first `clips_per_class` candidates of each style's seeded
order that parse, render and are not a repeat of an already chosen tune; each
candidate's tempo and instruments come from its own seeded generator, so the
result does not depend on worker count or scheduling. Work is done in waves
(enough candidates to fill every style, plus a margin for failures) and each
finished candidate leaves a record, so an interrupted build resumes.
"""

from __future__ import annotations

import contextlib
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
    """The records of a job's renders: each is one candidate of one build (its seed, clip length and directory)."""
    import pretty_midi

    from mirbench.datasets.corpus import score as sc
    from mirbench.datasets.corpus.render import render_clip
    from mirbench.datasets.corpus.sources import Candidate, corpus_dir

    first = Candidate(**job["renders"][0]["candidate"])
    records = []
    try:
        piece = sc.prepare(sc.parse(corpus_dir() / first.path, first.number), first.style)
    except Exception as exc:  # a broken source: every excerpt of it fails and the next candidate is drawn
        piece, error = None, f"{type(exc).__name__}: {exc}"
    for render in job["renders"]:
        c, out, seconds = Candidate(**render["candidate"]), Path(render["out"]), render["seconds"]
        rec: dict = {"candidate": c.key, "style": c.style}
        try:
            if piece is None:
                raise RuntimeError(error)
            rng = clip_rng(render["seed"], c.key)
            bpm = draw_tempo(rng)
            ex = sc.excerpt(piece, c.slot, c.n_slots, bpm, seconds)
            if ex.mode not in MODES:
                raise sc.ScoreError(f"mode {ex.mode!r}")
            family, programs = draw_instruments(rng, len(ex.voices))
            wav = f"clips/{c.style}/{c.key}.wav"
            render_clip(ex.voices, programs, seconds, cache.SAMPLE_RATE, out / wav)
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
        records.append({**rec, "build": render["out"]})
    return records


def _jobs(todo: list[tuple["Selection", object]]) -> list[dict]:
    """One job per source (file, tune number), whichever builds its candidates belong to, so that a source several
    builds need is parsed once; slowest first (big quartet files) so the pool ends evenly."""
    from mirbench.datasets.corpus.sources import corpus_dir

    by_source: dict = defaultdict(list)
    for sel, c in todo:
        render = {"candidate": asdict(c), "seed": sel.params["seed"], "seconds": sel.params["clip_seconds"]}
        by_source[(c.path, c.number)].append({**render, "out": str(sel.out)})
    jobs = [{"renders": renders} for renders in by_source.values()]
    slow = ("quartet", "palestrina", "bach")  # parsing MusicXML/Humdrum scores costs far more than ABC tunes

    def cost(job: dict) -> tuple:
        first = job["renders"][0]["candidate"]
        rank = slow.index(first["style"]) if first["style"] in slow else len(slow)
        return rank, -(corpus_dir() / first["path"]).stat().st_size * len(job["renders"])

    return sorted(jobs, key=cost)


def _run(jobs: list[dict], workers: int, bar) -> list[dict]:
    if not jobs:
        return []
    records = []
    if workers <= 1:
        for job in jobs:
            records += _render_job(job)
            bar.update(len(job["renders"]))
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


class Selection:
    """One build's choice of clips: each style's candidates in seeded order, taken wave by wave, the first
    `clips_per_class` that render and do not repeat a tune already chosen kept."""

    def __init__(self, out: Path, params: dict):
        from mirbench.datasets.corpus.sources import candidates

        self.out, self.params, self.n = out, params, params["clips_per_class"]
        self.order = {s: candidates(s, params["seed"], self.n) for s in STYLES}
        self.pos = dict.fromkeys(STYLES, 0)  # next candidate to submit
        self.scan = dict.fromkeys(STYLES, 0)  # next candidate to consider for acceptance
        self.chosen: dict[str, list[dict]] = {s: [] for s in STYLES}
        self.melodies: dict[str, dict[str, str]] = {s: {} for s in STYLES}  # melody hash -> work
        self.failures: dict[str, int] = defaultdict(int)

    def wave(self) -> list:
        """The next candidates to render: enough to fill every style, plus a margin for failures."""
        wave = []
        for s in STYLES:
            short = self.n - len(self.chosen[s])
            if short > 0:
                take = self.order[s][self.pos[s] : self.pos[s] + short + max(2, short // 10)]
                self.pos[s] += len(take)
                wave += take
        return wave

    def take(self, results: dict[str, dict]) -> None:
        """Accept the rendered candidates in order; DatasetError when a style runs out of candidates."""
        for s in STYLES:
            while self.scan[s] < self.pos[s] and len(self.chosen[s]) < self.n:
                rec = results[self.order[s][self.scan[s]].key]
                self.scan[s] += 1
                if not rec["ok"]:
                    self.failures[rec["error"][:70]] += 1
                elif self.melodies[s].setdefault(rec["melody"], rec["work"]) != rec["work"]:
                    self.failures["repeated tune"] += 1
                else:
                    self.chosen[s].append(rec)
        exhausted = [s for s in STYLES if len(self.chosen[s]) < self.n and self.pos[s] >= len(self.order[s])]
        if exhausted:
            from mirbench.datasets.base import DatasetError

            raise DatasetError(
                f"corpus: only {[len(self.chosen[s]) for s in exhausted]} clips could be built for {exhausted}; "
                f"ask for fewer clips_per_class than {self.n}"
            )

    def clips(self) -> list[dict]:
        return [r for s in STYLES for r in self.chosen[s]]


def select(selections: list[Selection], progress: bool, workers: int) -> None:
    """Render the builds' candidates wave by wave until every build has its clips; each wave's sources are parsed
    once for all the builds that need them. A build's result does not depend on the others built beside it."""
    from tqdm import tqdm

    for sel in selections:
        (sel.out / "work").mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=0, desc="building corpus dataset", unit="clip", file=sys.stderr, disable=not progress)
    with bar:
        while True:
            waves = [(sel, sel.wave()) for sel in selections]
            if not any(wave for _, wave in waves):
                break
            results, todo = {}, []
            for sel, wave in waves:
                results[str(sel.out)] = found = _load_records(sel.out, wave)
                bar.total += len(wave)
                bar.update(len(found))
                todo += [(sel, c) for c in wave if c.key not in found]
            for rec in _run(_jobs(todo), workers, bar):
                results[rec.pop("build")][rec["candidate"]] = rec
            for sel, _ in waves:
                sel.take(results[str(sel.out)])


def build(
    cache_dir: str | Path | None = None,
    clips_per_class: int = 80,
    clip_seconds: float = 30.0,
    seed: int = 0,
    progress: bool = True,
    workers: int = WORKERS,
) -> Path:
    """Build the corpus dataset under the cache (once; later calls return at once) and return its manifest path."""
    return build_many([(clips_per_class, clip_seconds, seed)], cache_dir, progress, workers)[0]


def build_many(
    builds: list[tuple[int, float, int]],
    cache_dir: str | Path | None = None,
    progress: bool = True,
    workers: int = WORKERS,
) -> list[Path]:
    """Build several corpus datasets, each (clips_per_class, clip_seconds, seed), in one pass that parses each
    source once for all of them (parsing the scores is most of a build's time); return their manifest paths.
    Each build is the one `build` would make alone, byte for byte; those already built are returned at once."""
    root = cache.cache_root(cache_dir)
    wanted = [cache.build_params(n, seconds, seed) for n, seconds, seed in builds]
    outs = [cache.build_dir(root, params) for params in wanted]
    manifests = [out / cache.MANIFEST for out in outs]
    todo = _unbuilt(dict(zip(outs, wanted)))
    if not todo:
        return manifests
    with contextlib.ExitStack() as held:
        for out in sorted(todo):  # one order for every process, so two never wait on each other
            held.enter_context(cache.locked(out))
        todo = _unbuilt(todo)  # another process may have built some meanwhile
        if not todo:
            return manifests
        for out in todo:
            for stale in out.rglob("*.tmp"):
                stale.unlink()
        t0 = time.perf_counter()
        selections = [Selection(out, params) for out, params in todo.items()]
        select(selections, progress, workers)
        seconds = time.perf_counter() - t0
        for sel in selections:
            _write_build(sel, {"seconds": round(seconds, 1), "workers": workers, "builds": len(selections)})
    return manifests


def _unbuilt(builds: dict[Path, dict]) -> dict[Path, dict]:
    """The builds (directory -> parameters) without a complete manifest of their parameters."""
    return {out: params for out, params in builds.items() if cache.read_manifest(out / cache.MANIFEST, params) is None}


def _write_build(sel: Selection, about: dict) -> None:
    """Write a selected build's manifest (last, atomically: it marks the build complete) and drop its leftovers."""
    clips = sel.clips()
    keep = {r["wav"] for r in clips}
    manifest = {
        "format": cache.MANIFEST_FORMAT,
        "dataset": "corpus",
        "params": sel.params,
        "sample_rate": cache.SAMPLE_RATE,
        "styles": list(STYLES),
        "tags": [t for t in TAG_VOCABULARY if any(t in r["tags"] for r in clips)],
        "clips": [{k: v for k, v in r.items() if k not in ("ok", "candidate")} for r in clips],
    }
    cache.write_json(sel.out / "build.json", {**about, "skipped": dict(sel.failures)})
    cache.write_json(sel.out / cache.MANIFEST, manifest)
    for wav in (sel.out / "clips").rglob("*.wav"):  # rendered but not chosen (failed over a later wave)
        if wav.relative_to(sel.out).as_posix() not in keep:
            wav.unlink()
    shutil.rmtree(sel.out / "work", ignore_errors=True)
