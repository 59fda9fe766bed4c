"""Trials on a Dask cluster: an existing scheduler (`tcp://HOST:PORT`) or a local one started for the run.

The client submits one task per trial (`mirbench.run.trial.execute`, a plain
function of a picklable spec) and hands each record to the runner as its
future completes, so the result store is written by one process only and a
run stopped at any moment keeps every finished trial. A trial whose worker
dies (killed, out of memory) is rescheduled by Dask on another worker; when its
worker dies `RETRIES` + 1 times, Dask gives up (KilledWorker). The bound is the
scheduler's `distributed.scheduler.allowed-failures`, and `worker-saturation`
1.0 keeps queued trials off a worker that may die: both are set here for a
local cluster, and belong in the scheduler's own configuration for a running
one. Dask counts a death against every trial its worker held, so one event
that kills two workers in turn (the OOM killer, a node going down) can use up
an innocent trial's retries: a KilledWorker trial is therefore run once more,
by itself, after the others, and only a trial that kills its worker again is
recorded as failed with the reason; the run goes on. Workers must see the
feature cache and the data root at the same paths (a shared file system).

An unreachable scheduler is found before any trial is planned (a TCP connect
bounded by CONNECT_TIMEOUT seconds) and is one `ClusterError`.
"""

from __future__ import annotations

import re
import socket
from typing import Callable
from urllib.parse import urlsplit

from mirbench.errors import MirbenchError
from mirbench.run.trial import TrialSpec, crashed, execute

RETRIES = 1
SCHEDULER_CONFIG = {"distributed.scheduler.allowed-failures": RETRIES, "distributed.scheduler.worker-saturation": 1.0}
LOCAL = re.compile(r"^local:(\d+)$")
#: seconds to wait for a running scheduler to answer (Dask's own default is 30)
CONNECT_TIMEOUT = 10


class ClusterError(MirbenchError):
    """The cluster cannot be used (an unreachable scheduler, dask not installed); the message says how to fix it."""


def unreachable(address: str, reason: str) -> ClusterError:
    return ClusterError(
        f"could not reach the Dask scheduler at {address} ({reason}): check that it is running and that the host "
        "and port are the ones it printed when it started (tcp://HOST:8786 by default), "
        "or use --cluster local:N to start N workers on this machine"
    )


def check_reachable(address: str) -> None:
    """Raise ClusterError, within about CONNECT_TIMEOUT seconds, if nothing listens at a tcp:// or tls:// address,
    or (tcp://) what listens there does not greet like a Dask scheduler. A scheduler writes its handshake as soon as
    a connection opens; Dask's own client waits for it without a bound, so a port that accepts connections and
    stays silent (the dashboard's 8787, another service) would hang the run."""
    parts = urlsplit(address)
    if LOCAL.match(address) or parts.scheme not in ("tcp", "tls"):
        return
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise unreachable(address, f"bad port: {exc}") from None
    if not host or port is None:
        raise unreachable(address, "no port given")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
            if parts.scheme == "tls":  # the TLS handshake comes first, and the client speaks first in it
                return
            try:
                greeted = sock.recv(1)
            except TimeoutError:
                greeted = None
    except socket.gaierror as exc:
        raise unreachable(address, f"unknown host {host!r}: {exc.strerror or exc}") from None
    except TimeoutError:
        raise unreachable(address, f"no answer within {CONNECT_TIMEOUT} s") from None
    except OSError as exc:
        raise unreachable(address, exc.strerror or str(exc)) from None
    if not greeted:
        said = "it closed the connection" if greeted == b"" else f"nothing came back within {CONNECT_TIMEOUT} s"
        raise unreachable(address, f"something listens there, but not a Dask scheduler: {said}; "
                                   "the scheduler's port is 8786 by default, its dashboard's 8787")


def check_address(address: str) -> str:
    """`local:N` (N >= 1) or a scheduler address such as tcp://host:8786; ClusterError saying which forms exist."""
    match = LOCAL.match(address)
    if match and int(match.group(1)) >= 1:
        return address
    if re.match(r"^(tcp|tls|inproc|ucx)://", address):
        return address
    raise ClusterError(
        f"cluster address {address!r}: use local:N to start N local worker processes, "
        "or a running scheduler's address such as tcp://HOST:8786"
    )


def require_dask() -> None:
    """ClusterError naming the extra to install, where dask.distributed cannot be imported."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise ClusterError('running on a cluster needs dask.distributed, which is not installed: '
                           'pip install "mirbench[dask]"') from None


def client_for(address: str):
    """A dask.distributed Client, and the LocalCluster it started (None for an existing scheduler)."""
    require_dask()
    from dask.distributed import Client, LocalCluster

    match = LOCAL.match(check_address(address))
    if match is None:
        check_reachable(address)
        try:
            return Client(address, timeout=CONNECT_TIMEOUT), None
        except OSError as exc:  # it listens, but no scheduler answered in time (Dask says "Timed out ...")
            raise unreachable(address, str(exc)) from None
    import dask

    # read when the scheduler starts. A worker dying counts against every task it holds, queued ones too:
    # saturation 1.0 keeps one task per worker thread, so an innocent trial is never blamed for a killed one
    with dask.config.set(SCHEDULER_CONFIG):
        cluster = LocalCluster(
            n_workers=int(match.group(1)), threads_per_worker=1, processes=True, dashboard_address=None
        )
    return Client(cluster), cluster


class DaskCluster:
    """The executor of `--cluster`: an existing scheduler or a local cluster (mirbench.run.executors has the others)."""

    def __init__(self, address: str):
        self.address = address

    def run(self, specs: list[TrialSpec], finish: Callable[[dict], None]) -> None:
        run_on_cluster(specs, self.address, finish)


def run_on_cluster(specs: list[TrialSpec], address: str, finish: Callable[[dict], None]) -> None:
    """Run `specs` on the cluster at `address`; `finish(record)` is called in this process as each completes."""
    client, cluster = client_for(address)  # first: without dask, a ClusterError saying what to install
    from dask.distributed import as_completed

    try:
        futures = {client.submit(execute, spec, key=f"trial-{spec.trial_id}", pure=False): spec for spec in specs}
        suspects = []
        for future in as_completed(futures):
            spec = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # KilledWorker after the retries, a lost task: the trial fails, the run goes on
                if killed(exc):  # its deaths may have been another trial's doing: once more, by itself, below
                    suspects.append(spec)
                    continue
                record = lost(spec, exc)
            finish(record)
        for spec in suspects:  # one at a time, nothing else running: a death now is the trial's own
            future = client.submit(execute, spec, key=f"trial-{spec.trial_id}-alone", pure=False)
            try:
                record = future.result()
            except Exception as exc:
                record = lost(spec, exc)
            finish(record)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def killed(exc: BaseException) -> bool:
    """Whether Dask gave up on a task because the workers running it died (distributed's KilledWorker)."""
    return type(exc).__name__ == "KilledWorker"


def lost(spec: TrialSpec, exc: Exception) -> dict:
    """The record of a trial whose worker died too often (KilledWorker, also when run by itself) or whose task was
    lost otherwise."""
    if killed(exc):
        deaths = getattr(exc, "allowed_failures", RETRIES) + 1
        message = (f"the worker running this trial died {deaths} times among the other trials, and {deaths} times "
                   "more when it ran by itself (killed, or out of memory; its worker's log says which), "
                   "so it was given up")
        return crashed(spec, "KilledWorker", message)
    return crashed(spec, type(exc).__name__, f"the trial's task was lost on the cluster: {exc}")
