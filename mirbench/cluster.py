"""Trials on a Dask cluster: an existing scheduler (`tcp://HOST:PORT`) or a local one started for the run.

The client submits one task per trial (`mirbench.trial.execute`, a plain
function of a picklable spec) and hands each record to the runner as its
future completes, so the result store is written by one process only and a
run stopped at any moment keeps every finished trial. A trial whose worker
dies (killed, out of memory) is rescheduled by Dask on another worker; when its
worker dies `RETRIES` + 1 times, Dask gives up (KilledWorker) and the trial is
recorded as failed with the reason, and the run goes on. The bound is the
scheduler's `distributed.scheduler.allowed-failures`, and `worker-saturation`
1.0 keeps queued trials off a worker that may die: both are set here for a
local cluster, and belong in the scheduler's own configuration for a running
one. Workers must see the feature cache and the data root at the same paths
(a shared file system).
"""

from __future__ import annotations

import re
from typing import Callable

from mirbench.trial import TrialSpec, execute

RETRIES = 1
SCHEDULER_CONFIG = {"distributed.scheduler.allowed-failures": RETRIES, "distributed.scheduler.worker-saturation": 1.0}
LOCAL = re.compile(r"^local:(\d+)$")


def check_address(address: str) -> str:
    """`local:N` (N >= 1) or a scheduler address such as tcp://host:8786; ValueError saying which forms exist."""
    match = LOCAL.match(address)
    if match and int(match.group(1)) >= 1:
        return address
    if re.match(r"^(tcp|tls|inproc|ucx)://", address):
        return address
    raise ValueError(
        f"cluster address {address!r}: use local:N to start N local worker processes, "
        "or a running scheduler's address such as tcp://HOST:8786"
    )


def client_for(address: str):
    """A dask.distributed Client, and the LocalCluster it started (None for an existing scheduler)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ValueError("running on a cluster needs dask.distributed: pip install 'mirbench[dask]'") from exc
    match = LOCAL.match(check_address(address))
    if match is None:
        return Client(address), None
    import dask

    # read when the scheduler starts. A worker dying counts against every task it holds, queued ones too:
    # saturation 1.0 keeps one task per worker thread, so an innocent trial is never blamed for a killed one
    with dask.config.set(SCHEDULER_CONFIG):
        cluster = LocalCluster(
            n_workers=int(match.group(1)), threads_per_worker=1, processes=True, dashboard_address=None
        )
    return Client(cluster), cluster


def run_on_cluster(specs: list[TrialSpec], address: str, finish: Callable[[dict], None]) -> None:
    """Run `specs` on the cluster at `address`; `finish(record)` is called in this process as each completes."""
    from dask.distributed import as_completed

    client, cluster = client_for(address)
    try:
        futures = {client.submit(execute, spec, key=f"trial-{spec.trial_id}", pure=False): spec for spec in specs}
        for future in as_completed(futures):
            spec = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # KilledWorker after the retries, a lost task: the trial fails, the run goes on
                record = lost(spec, exc)
            finish(record)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def lost(spec: TrialSpec, exc: Exception) -> dict:
    """The record of a trial whose worker died too often (KilledWorker) or whose task was lost otherwise."""
    from mirbench.runner import crashed

    if type(exc).__name__ == "KilledWorker":
        deaths = getattr(exc, "allowed_failures", RETRIES) + 1
        message = (f"the worker running this trial died {deaths} times (killed, or out of memory; its worker's log "
                   "says which), so Dask gave up on it")
        return crashed(spec, "KilledWorker", message)
    return crashed(spec, type(exc).__name__, f"the trial's task was lost on the cluster: {exc}")
