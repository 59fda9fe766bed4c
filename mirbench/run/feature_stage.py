"""The feature stage: before a run's trials, the features their systems declare are computed once, in parallel, into
the run's feature cache, so that the trials read them instead of each computing its own.

What: for every trial still to run, the frontends its system declares (`System.feature_frontends`), deduplicated
by cache folder across variants, on the trial's usable tracks (`TrialSpec.usable`: the --quick subset, without the
tracks validation found unusable); entries already in the cache are left out. One frontend after another, the
tracks are cut into chunks of CHUNK_TRACKS, computed through a `FeatureStore` on the trials' device with their
torch threads, with a progress bar counting tracks.

Where: with `--workers N`, in N spawned local processes (the pool of mirbench.run.executors), each chunk a disjoint
share of the tracks; with one worker, in this process. With `--cluster` the stage also runs in local processes,
as many as the run has workers (local:N gives N): the cluster is left to the trials, which read the features from
the cache they must share with this machine anyway.

Nothing here changes a result: the entries are the ones a trial would write (the same store, frontend, device and
threads; a frontend's row does not depend on the batch it is computed in), and a trial still checks every entry it
reads. A track whose audio fails is reported once and counted, and left to the trials, which skip it as they do
without the stage. Any other failure (a frontend's error, a worker that dies) is reported; what was written stays
in the cache, and the trials compute what is missing.
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from mirbench.audio import AudioError
from mirbench.datasets.base import Dataset
from mirbench.frontends.base import Frontend
from mirbench.run.trial import TrialSpec

log = logging.getLogger("mirbench")

#: Tracks a worker computes per task: one FeatureStore batch, so that the bar moves every few seconds.
CHUNK_TRACKS = 16


@dataclass(frozen=True)
class Chunk:
    """One task of the stage: a frontend's features of a few tracks, with what a worker needs to compute them."""

    frontend: Frontend
    track_ids: tuple[str, ...]
    dataset: dict  # the suite's [dataset] table
    data_root: str | None
    cache_dir: str
    device: str
    threads: int


@dataclass
class ChunkResult:
    computed: int  # entries written (cache misses)
    failed: dict[str, str]  # track id -> why its audio is unusable
    error: str | None = None  # another failure, which ended the chunk


@dataclass
class StageReport:
    """What the stage did: tracks and frontends it covered, entries computed and already cached, the tracks whose
    audio failed, other errors (one line each), or why it did not run."""

    tracks: int = 0
    frontends: list[str] = field(default_factory=list)
    computed: int = 0
    cached: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None


def cache_folder(frontend: Frontend) -> str:
    """The feature cache's folder of `frontend` (as `FeatureStore.entry_path` names it): its identity here."""
    package = type(frontend).__module__.partition(".")[0]
    return frontend.key() if package == "mirbench" else f"{package}/{frontend.key()}"


def declared_frontends(spec: TrialSpec) -> list[Frontend]:
    """The frontends the trial's system declares (`feature_frontends`, or the System default for a system that does
    not derive from System); [] when the system cannot be built or declares nothing usable (the trial reports it)."""
    from mirbench.run.trial import build_system
    from mirbench.system import System

    try:
        system = build_system(spec.variant, spec.seed, spec.system_target)
        declare = getattr(system, "feature_frontends", None)
        frontends = list(declare() if callable(declare) else System.feature_frontends(system))
    except Exception as exc:  # a bad parameter: the trial fails with it, and says so
        log.info("features: %s declares no frontend for the stage (%s: %s)", spec.variant.id, type(exc).__name__, exc)
        return []
    return [f for f in frontends if isinstance(f, Frontend)]


def needed(todo: list[TrialSpec], dataset: Dataset) -> list[tuple[Frontend, list[str]]]:
    """Each frontend the todo trials declare (one per cache folder) with the union of their usable tracks, in the
    dataset's order."""
    by_variant: dict[str, list[Frontend]] = {}
    wanted: dict[str, tuple[Frontend, set[str]]] = {}
    for spec in todo:
        if spec.variant.id not in by_variant:
            by_variant[spec.variant.id] = declared_frontends(spec)
        ids = spec.usable(spec.fold.train + spec.fold.valid + spec.fold.test)
        for frontend in by_variant[spec.variant.id]:
            wanted.setdefault(cache_folder(frontend), (frontend, set()))[1].update(ids)
    order = {t.id: i for i, t in enumerate(dataset.tracks)}
    return [(frontend, sorted(ids, key=order.__getitem__)) for frontend, ids in wanted.values()]


def missing(store, dataset: Dataset, frontend: Frontend, ids: list[str]) -> list[str]:
    """The tracks among `ids` whose entry (array and record) is not in the cache yet."""
    out = []
    for tid in ids:
        try:
            entry = store.entry_path(dataset, dataset[tid], frontend)
        except AudioError:  # the file went away since planning: a worker reports it
            out.append(tid)
            continue
        if not (entry.exists() and entry.with_suffix(".json").exists()):
            out.append(tid)
    return out


def compute_chunk(chunk: Chunk, dataset: Dataset | None = None) -> ChunkResult:
    """Compute and cache a chunk's features (in a worker, or in this process with its `dataset`); never raises.

    A track whose audio fails is set aside and the others computed; entries written before any failure stay."""
    import torch

    from mirbench.cache import using
    from mirbench.datasets import open_dataset
    from mirbench.device import resolve_device
    from mirbench.features import FeatureStore

    failed: dict[str, str] = {}
    store = None
    try:
        with using(chunk.cache_dir):
            torch.set_num_threads(max(1, chunk.threads))
            dataset = dataset or open_dataset(chunk.dataset, chunk.data_root)
            store = FeatureStore(Path(chunk.cache_dir), device=resolve_device(chunk.device))
            tracks = dataset.subset(chunk.track_ids)
            while tracks:
                try:
                    store.get(dataset, tracks, chunk.frontend, mmap=True)  # maps, dropped at once: nothing is held
                    break
                except AudioError as exc:
                    if exc.track_id is None:
                        raise
                    failed[exc.track_id] = str(exc)
                    tracks = [t for t in tracks if t.id != exc.track_id]
    except Exception as exc:
        return ChunkResult(store.misses if store else 0, failed, f"{type(exc).__name__}: {exc}")
    return ChunkResult(store.misses, failed)


def run_stage(todo: list[TrialSpec], dataset: Dataset, workers: int, progress: bool,
              say: Callable[..., None]) -> StageReport:
    """Compute the features `todo` needs, in `workers` processes (this one when 1), reporting through `say`."""
    from mirbench.features import FeatureStore

    report = StageReport()
    if not todo:
        report.skipped = "no trial to run"
        return report
    first = todo[0]
    if first.cache_dir is None:
        report.skipped = "no feature cache directory: each trial computes its own features"
        say(f"features: skipped ({report.skipped})")
        return report
    needs = needed(todo, dataset)
    if not needs:
        report.skipped = "no system of this run declares its frontends (System.feature_frontends)"
        say(f"features: skipped ({report.skipped}); the trials compute their own")
        return report
    store = FeatureStore(Path(first.cache_dir))
    work = [(frontend, ids, missing(store, dataset, frontend, ids)) for frontend, ids in needs]
    report.tracks = len({tid for _, ids, _ in work for tid in ids})
    report.frontends = [frontend.name for frontend, _, _ in work]
    report.cached = sum(len(ids) - len(todo_ids) for _, ids, todo_ids in work)
    chunks_total = sum(-(-len(todo_ids) // CHUNK_TRACKS) for _, _, todo_ids in work)
    workers = max(1, min(workers, chunks_total))
    where = "this process" if workers == 1 else f"{workers} worker processes"
    say(f"features: {report.tracks} tracks x {len(work)} frontend{'s' if len(work) != 1 else ''} "
        f"({', '.join(report.frontends)}), {report.cached} entries already cached"
        + (f"; computing the rest in {where}" if chunks_total else ""))
    if not chunks_total:
        return report
    devices = list(dict.fromkeys(s.device for s in todo))  # several GPUs: chunks go round-robin, as trials do
    runner = _InProcess(dataset) if workers == 1 else _Pool(workers)
    finished = False
    try:
        for frontend, _, todo_ids in work:
            todo_ids = [tid for tid in todo_ids if tid not in report.failed]  # their audio failed already
            chunks = [Chunk(frontend, tuple(todo_ids[i : i + CHUNK_TRACKS]), first.dataset, first.data_root,
                            first.cache_dir, devices[n % len(devices)], first.threads)
                      for n, i in enumerate(range(0, len(todo_ids), CHUNK_TRACKS))]
            with tqdm(total=len(todo_ids), desc=f"features {frontend.name}", unit="track", disable=not progress) as bar:
                for chunk, result in runner.run(chunks):
                    _count(report, frontend, result, say)
                    bar.update(len(chunk.track_ids))
            if runner.broken:
                break
        finished = True
    finally:
        runner.close(wait=finished)  # Ctrl-C: the workers are stopped, not waited for
    if report.failed or report.errors:
        say(f"features: {len(report.failed)} track(s) with unusable audio, {len(report.errors)} other error(s); "
            "the trials meet them again and record them", warning=True)
    return report


def _count(report: StageReport, frontend: Frontend, result: ChunkResult, say: Callable[..., None]) -> None:
    """Add a chunk's result to the report; a failed track, and each distinct other error, is one line."""
    report.computed += result.computed
    for tid, reason in result.failed.items():
        if tid not in report.failed:
            report.failed[tid] = reason
            say(f"features: {reason} (its trials skip it)", warning=True)
    if result.error is not None:
        line = f"features {frontend.name}: {result.error}"
        if line not in report.errors:
            report.errors.append(line)
            say(line + " (the trials compute these features themselves)", warning=True)


class _InProcess:
    """Chunks one after another in this process, on the dataset already open."""

    broken = False

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def run(self, chunks: list[Chunk]):
        for chunk in chunks:
            yield chunk, compute_chunk(chunk, self.dataset)

    def close(self, wait: bool = True) -> None:
        pass


class _Pool:
    """Chunks in `workers` spawned processes, at most `workers` in flight. A worker that dies breaks the pool: the
    stage reports it and stops (`broken`), keeping what was written."""

    def __init__(self, workers: int):
        from mirbench.run.executors import worker_pool

        self.workers = workers
        self.pool = worker_pool(workers)
        self.broken = False

    def run(self, chunks: list[Chunk]):
        queue = list(reversed(chunks))
        running: dict = {}
        while queue or running:
            while queue and len(running) < self.workers:
                chunk = queue.pop()
                try:
                    running[self.pool.submit(compute_chunk, chunk)] = chunk
                except BrokenProcessPool:  # it broke since the last chunk finished
                    self.broken = True
                    yield chunk, ChunkResult(0, {}, DIED)
                    return
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                chunk = running.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    self.broken = True
                    result = ChunkResult(0, {}, DIED)
                yield chunk, result
                if self.broken:
                    return

    def close(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait and not self.broken, cancel_futures=True)


DIED = "a feature worker died (killed, or out of memory), so the stage stops"
