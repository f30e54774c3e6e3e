"""Schedulers of the dask engine: a local cluster, an existing one, or none.

`open_scheduler` yields a `distributed.Client` (or ``None`` for dask's threaded and
synchronous schedulers) and a `SchedulerInfo`; `peak_rss_bytes` runs on each worker at
the end of a run to report its peak memory.
"""

from __future__ import annotations

import importlib
import logging
import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.scale._io import optional, require_dask

__all__ = ["SchedulerInfo", "open_scheduler", "peak_rss_bytes"]


# --------------------------------------------------------------------------- schedulers


@dataclass(frozen=True)
class SchedulerInfo:
    """Which scheduler ran the work.

    Attributes
    ----------
    kind
        ``"local-cluster"``, ``"cluster"`` (an existing one), ``"threads"`` or ``"sync"``.
    address
        The scheduler address, or ``None`` without a distributed cluster.
    n_workers, threads_per_worker
        The workers at the start of the run.
    memory_limit_bytes
        Memory limit per worker (``None``: no limit or unknown).
    """

    kind: str
    address: str | None
    n_workers: int
    threads_per_worker: int
    memory_limit_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "kind": self.kind,
            "address": self.address,
            "n_workers": self.n_workers,
            "threads_per_worker": self.threads_per_worker,
            "memory_limit_bytes": self.memory_limit_bytes,
        }


def _local_defaults() -> tuple[int, str]:
    cores = os.cpu_count() or 1
    try:
        total = int(optional("psutil").virtual_memory().total)
    except ImportError:  # pragma: no cover
        total = 8 * 2**30
    # A quarter of the machine's memory per worker at most, 4 GiB by default: the rest for
    # the client (which gathers 13 bytes per subject) and for other users of the machine.
    per_worker = min(4 * 2**30, total // (4 * max(cores, 1)) * 2)
    return cores, f"{per_worker // 2**20}MiB"


@contextmanager
def open_scheduler(
    scheduler: Any = None, *, n_workers: int | None = None, memory_limit: str | None = None
) -> Iterator[tuple[Any, SchedulerInfo]]:
    """Yield ``(client or None, SchedulerInfo)`` for the run, and close what was opened.

    Parameters
    ----------
    scheduler
        ``None``: a new `distributed.LocalCluster` (one single-threaded worker process per
        core, `memory_limit` each); ``"tcp://host:8786"``: an existing cluster;
        a `distributed.Client`: use it; ``"threads"`` / ``"sync"``: no cluster (dask's
        threaded or synchronous scheduler).
    n_workers, memory_limit
        For the local cluster (default: one per core, 4 GiB each at most).
    """
    require_dask()
    dask, distributed = optional("dask"), optional("distributed")

    if scheduler in ("threads", "sync", "synchronous"):
        kind = "threads" if scheduler == "threads" else "sync"
        threads = (os.cpu_count() or 1) if kind == "threads" else 1
        with dask.config.set(scheduler="threads" if kind == "threads" else "sync"):
            yield None, SchedulerInfo(kind, None, 1, threads, None)
        return
    if isinstance(scheduler, distributed.Client):
        yield scheduler, _info(scheduler, "cluster")
        return
    if isinstance(scheduler, str):
        if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise AnalysisError(
                Problem(
                    f"scheduler {scheduler!r} is not understood",
                    fix='give the address of a running dask-scheduler, e.g. "tcp://10.0.0.5:8786"'
                    ", or leave it out for a local cluster",
                )
            )
        try:
            client = distributed.Client(scheduler, timeout="20s", set_as_default=False)
        except OSError as exc:
            raise AnalysisError(
                Problem(
                    f"cannot reach the dask scheduler at {scheduler} ({exc})",
                    fix="start it with `dask scheduler` and its workers with "
                    f"`dask worker {scheduler}`, or remove scheduler = ... to use a local cluster",
                )
            ) from None
        try:
            yield client, _info(client, "cluster")
        finally:
            client.close()
        return
    if scheduler is not None:
        raise AnalysisError(
            Problem(
                f"`scheduler` must be None, an address or a distributed.Client, got "
                f"{type(scheduler).__name__}",
                fix='scheduler="tcp://host:8786"',
            )
        )
    cores, limit = _local_defaults()
    workers = n_workers or cores
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=memory_limit or limit,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client, _info(client, "local-cluster")
    finally:
        client.close()
        cluster.close()


def _warm_up() -> None:
    """Import on a worker what the tasks unpickle (concurrent first imports can fail)."""
    for name in ("dask.dataframe", "dask_geopandas", "geo_stunting.scale._parts"):
        importlib.import_module(name)


def _info(client: Any, kind: str) -> SchedulerInfo:
    client.run(_warm_up)
    workers = client.scheduler_info().get("workers", {})
    threads = {int(w.get("nthreads", 1)) for w in workers.values()} or {1}
    limits = {int(w.get("memory_limit", 0) or 0) for w in workers.values()}
    limit = max(limits) if limits and max(limits) > 0 else None
    return SchedulerInfo(kind, str(client.scheduler.address), len(workers), max(threads), limit)


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far, in bytes (Linux: ru_maxrss in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
