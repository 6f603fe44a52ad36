"""Executors for ``cosmoemu generate``: local, Dask distributed, MPI.

Every kind is a ``concurrent.futures.Executor``; :func:`cosmoemu.data.generate` also takes any
executor you built yourself. A task drives one sandbox process (``OMP_NUM_THREADS=1``), so a
*worker* here is one task slot = one Boltzmann process:

* ``local``: a pool of ``workers`` threads (default: the usable cores), each driving one
  sandbox process.
* ``dask``: ``distributed.Client(address).get_executor()``; without an address a
  ``LocalCluster`` of ``workers`` single-thread workers in this process. On a cluster, start
  workers with ``--nthreads`` = cores (each thread drives one sandbox).
* ``mpi``: ``mpi4py.futures.MPIPoolExecutor``; run as
  ``mpiexec -n N python -m mpi4py.futures -m cosmoemu generate CONFIG --executor mpi``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor

from .._errors import ConfigError
from ._sandbox import close_all

__all__ = ["open_executor", "default_workers"]


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def open_executor(
    kind: str = "local", *, address: str | None = None, workers: int | None = None
) -> Iterator[tuple[Executor, int]]:
    """Open an executor; yields it and its number of task slots, and shuts it down after.

    Args:
        kind: ``local``, ``dask`` or ``mpi``.
        address: Dask scheduler address (``tcp://host:8786``); ``dask`` only.
        workers: task slots (``local``, a Dask ``LocalCluster``, MPI's ``max_workers``).

    Raises:
        ConfigError: an unknown kind, an address for a kind that takes none, or a missing
            optional package (``distributed``, ``mpi4py``).
    """
    if address is not None and kind != "dask":
        raise ConfigError("execution.address", f"only used with executor 'dask', got '{kind}'")
    if kind == "local":
        n = workers or default_workers()
        pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="cosmoemu-worker")
        try:
            yield pool, n
        finally:
            close_all()
            pool.shutdown(wait=True, cancel_futures=True)
    elif kind == "dask":
        with _dask(address, workers) as pair:
            yield pair
    elif kind == "mpi":
        try:
            from mpi4py.futures import MPIPoolExecutor
        except ImportError as err:
            raise ConfigError(
                "execution.executor", "executor 'mpi' needs mpi4py: pip install 'cosmoemu[mpi]'"
            ) from err
        pool = MPIPoolExecutor(max_workers=workers)
        try:
            n = workers or getattr(pool, "num_workers", None) or default_workers()
            yield pool, n
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        raise ConfigError("execution.executor",
                          f"got {kind!r}; allowed values: local, dask, mpi")


@contextlib.contextmanager
def _dask(address: str | None, workers: int | None) -> Iterator[tuple[Executor, int]]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise ConfigError(
            "execution.executor", "executor 'dask' needs distributed: pip install 'cosmoemu[dask]'"
        ) from err
    with contextlib.ExitStack() as stack:
        if address is None:
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers or default_workers(), threads_per_worker=1, processes=False,
                dashboard_address=None,
            ))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(address, timeout="30s"))
            except OSError as err:
                raise ConfigError("execution.address",
                                  f"cannot reach a Dask scheduler at '{address}': {err}") from err
        n = sum(client.nthreads().values()) or 1
        executor = client.get_executor(pure=False)
        try:
            yield executor, n
        finally:
            executor.shutdown(wait=False)
            with contextlib.suppress(Exception):  # idle sandboxes on the workers
                client.run(close_all)
            close_all()
