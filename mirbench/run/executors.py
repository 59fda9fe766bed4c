"""Executors: where the planned trials run. Each has one shape, `run(specs, finish)`, calling `finish(record)` in
this process as each trial completes, so that the parent alone writes results: in this process, in a pool of
local worker processes, or on a Dask cluster (mirbench.run.cluster)."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Callable, Protocol

from mirbench.run.trial import TrialSpec, crashed, execute

Finish = Callable[[dict], None]


class Executor(Protocol):
    def run(self, specs: list[TrialSpec], finish: Finish) -> None:
        """Run every spec; `finish(record)` for each, in this process, in the order they complete."""


class InProcess:
    """One trial after another in this process (--workers 1)."""

    def run(self, specs: list[TrialSpec], finish: Finish) -> None:
        for spec in specs:
            finish(execute(spec))


class ProcessPool:
    """`workers` spawned local processes. A worker that dies breaks the pool: the trials in flight are then suspects,
    re-run one at a time in a process of their own, and one that kills that process too is recorded as failed;
    a fresh pool takes the trials not started yet."""

    def __init__(self, workers: int):
        self.workers = workers

    def run(self, specs: list[TrialSpec], finish: Finish) -> None:
        queue = deque(specs)
        while queue:
            for spec in _run_parallel(queue, self.workers, finish):
                finish(_run_alone(spec))


def executor_for(workers: int, cluster: str | None) -> Executor:
    """The executor a run asks for: a Dask cluster (`--cluster`), else a process pool (`--workers N`), else this
    process."""
    if cluster:
        from mirbench.run.cluster import DaskCluster

        return DaskCluster(cluster)
    return ProcessPool(workers) if workers > 1 else InProcess()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes that end themselves when this process dies (SIGKILL, SIGTERM): an
    orphaned worker would otherwise hold its memory (about 0.5 GB) for good."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                               initializer=watch_parent, initargs=(os.getpid(),))


def watch_parent(parent: int, interval: float = 0.5) -> None:
    """Start a daemon thread that exits this process once `parent` is no longer its parent (it died, and the
    process was re-parented)."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="mirbench-parent-watch", daemon=True).start()


def _run_parallel(queue: deque, workers: int, finish) -> list[TrialSpec]:
    """Run trials from `queue`, at most `workers` in flight, until it is empty or the pool breaks; the trials in
    flight when it broke (the one whose worker died among them)."""
    with worker_pool(workers) as pool:
        running: dict = {}
        try:
            while queue or running:
                while queue and len(running) < workers:  # no backlog in the pool: a break names only real suspects
                    try:
                        running[pool.submit(execute, queue[0])] = queue[0]
                    except BrokenProcessPool:  # it broke since the last trial finished
                        return list(running.values())
                    queue.popleft()
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = []
                for fut in finished:
                    spec = running.pop(fut)
                    try:
                        record = fut.result()
                    except BrokenProcessPool:
                        broken.append(spec)
                        continue
                    finish(record)
                if broken:
                    return broken + list(running.values())
        except BaseException:  # Ctrl-C, or a result that cannot be written: stop the trials in flight
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return []


def _run_alone(spec: TrialSpec) -> dict:
    """A suspect's retry in a process of its own: its record, or a WorkerDied record if it kills this one too."""
    with worker_pool(1) as pool:
        try:
            return pool.submit(execute, spec).result()
        except BrokenProcessPool:
            return crashed(spec, message="the worker process running this trial died, and died again when the trial "
                           "ran alone (killed, or out of memory)")
