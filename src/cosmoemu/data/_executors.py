"""Executors for ``cosmoemu generate``: local, Dask distributed, MPI.

Every kind is a ``concurrent.futures.Executor``; :func:`cosmoemu.data.generate` also takes any
executor you built yourself. A task drives one sandbox process (``OMP_NUM_THREADS=1``), so a
*worker* here is one task slot = one Boltzmann process:

* ``local``: a pool of ``workers`` threads (default: the usable cores), each driving one
  sandbox process.
* ``dask``: ``distributed.Client(address).get_executor()``; without an address a
  ``LocalCluster`` of ``workers`` single-thread workers in this process. On a cluster, start
  workers with ``--nthreads`` = cores (each thread drives one sandbox). Dask's own log lines
  (``distributed.*``, INFO by Dask's default) follow cosmoemu's log level while the executor is
  open: WARNING unless asked (``cosmoemu -v generate ...``).
* ``mpi``: ``mpi4py.futures.MPIPoolExecutor``; run as
  ``mpiexec -n N python -m mpi4py.futures -m cosmoemu generate CONFIG --executor mpi``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor

from ._sandbox import close_all

__all__ = ["open_executor", "default_workers", "ExecutorUnavailable"]


class ExecutorUnavailable(ValueError):
    """An executor kind that cannot run here (a missing optional package, a bad address).

    The message says what to install or change; it names no config field, since the kind may
    come from the command line (``--executor``) as well as from ``execution.executor``.

    Args:
        setting: ``"executor"`` or ``"address"``, the setting at fault.
        message: what is wrong and what to do.
    """

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(message)


@contextlib.contextmanager
def _dask_logs_follow_ours() -> Iterator[None]:
    """Set Dask's loggers to cosmoemu's level (WARNING unless ``-v``) and restore them after."""
    level = logging.getLogger("cosmoemu").getEffectiveLevel()
    loggers = [logging.getLogger("distributed")]
    loggers += [lg for name, lg in logging.root.manager.loggerDict.items()
                if isinstance(lg, logging.Logger) and name.startswith("distributed.")
                and lg.level != logging.NOTSET]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, old in saved:
            lg.setLevel(old)


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
        ExecutorUnavailable: an unknown kind, an address for a kind that takes none, a missing
            optional package (``distributed``, ``mpi4py``) or an unreachable scheduler; the
            caller names where the setting came from (:func:`cosmoemu.data.generate` names the
            config field or the argument).
    """
    if address is not None and kind != "dask":
        raise ExecutorUnavailable(
            "address", f"a scheduler address is only used with executor 'dask', got executor "
                       f"'{kind}'")
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
            raise ExecutorUnavailable(
                "executor",
                "executor 'mpi' needs mpi4py: pip install 'cosmoemu[mpi]', then run under "
                "mpiexec -n N python -m mpi4py.futures -m cosmoemu generate CONFIG --executor mpi",
            ) from err
        pool = MPIPoolExecutor(max_workers=workers)
        try:
            n = workers or getattr(pool, "num_workers", None) or default_workers()
            yield pool, n
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        raise ExecutorUnavailable("executor",
                                  f"unknown executor {kind!r}; allowed values: local, dask, mpi")


@contextlib.contextmanager
def _dask(address: str | None, workers: int | None) -> Iterator[tuple[Executor, int]]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise ExecutorUnavailable(
            "executor", "executor 'dask' needs distributed: pip install 'cosmoemu[dask]'"
        ) from err
    with contextlib.ExitStack() as stack:
        stack.enter_context(_dask_logs_follow_ours())
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
                raise ExecutorUnavailable(
                    "address", f"cannot reach a Dask scheduler at '{address}': {err}") from err
        n = sum(client.nthreads().values()) or 1
        executor = client.get_executor(pure=False)
        try:
            yield executor, n
        finally:
            executor.shutdown(wait=False)
            with contextlib.suppress(Exception):  # idle sandboxes on the workers
                client.run(close_all)
            close_all()
