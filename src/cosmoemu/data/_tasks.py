"""The unit of work sent to an executor: compute some design rows of one chunk.

:func:`run_chunk` is a module-level function of picklable arguments, so any
``concurrent.futures.Executor`` (threads, processes, Dask, MPI) can run it. It computes each row
in this thread's sandbox process (:mod:`cosmoemu.data._sandbox`), replacing the sandbox after a
timeout or a crash, and returns the arrays to the driver, which alone writes the store.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._request import Request
from ._sandbox import SandboxError, sandbox_for

__all__ = ["ChunkTask", "ChunkResult", "run_chunk", "cancel_tasks", "TaskCancelled"]

_CANCEL = threading.Event()


class TaskCancelled(RuntimeError):
    """The run was interrupted; the task stopped between two rows."""


def cancel_tasks(cancel: bool = True) -> None:
    """Make the tasks running in this process stop at their next row (or allow them again)."""
    if cancel:
        _CANCEL.set()
    else:
        _CANCEL.clear()


@dataclass(frozen=True)
class ChunkTask:
    """Rows ``rows`` (design row indices) of the chunk starting at design row ``start``.

    Attributes:
        start: first design row of the chunk (names the chunk file).
        rows: the design rows to compute, shape ``(n,)``.
        params: their parameter values, shape ``(n, n_par)``.
        names: parameter names.
        target: backend import path.
        request: outputs to compute.
        settings: backend settings.
        fixed: fixed parameters.
        timeout: seconds per sample (``None``: no limit).
    """

    start: int
    rows: np.ndarray
    params: np.ndarray
    names: tuple[str, ...]
    target: str
    request: Request
    settings: dict[str, Any]
    fixed: dict[str, float]
    timeout: float | None


@dataclass
class ChunkResult:
    """What came back for a :class:`ChunkTask`.

    Attributes:
        start: as in the task.
        rows: as in the task.
        values: store key -> array of shape ``(n, *per_sample_shape)`` float64, NaN where
            the sample failed.
        ok: shape ``(n,)``, true where the sample succeeded.
        errors: one message per row ("" where ok).
        seconds: backend seconds per row.
        worker: ``host:pid`` of the process that drove the sandbox.
    """

    start: int
    rows: np.ndarray
    values: dict[str, np.ndarray]
    ok: np.ndarray
    errors: list[str]
    seconds: np.ndarray
    worker: str = field(default="")


def _check(values: Any, shapes: dict[str, tuple[int, ...]]) -> str:
    """"" when ``values`` has exactly the expected keys, shapes and finite numbers."""
    if not isinstance(values, dict) or set(values) != set(shapes):
        got = sorted(values) if isinstance(values, dict) else type(values).__name__
        return f"backend returned {got}, expected keys {sorted(shapes)}"
    for key, shape in shapes.items():
        arr = np.asarray(values[key])
        if arr.shape != shape:
            return f"backend returned {key} of shape {arr.shape}, expected {shape}"
        if not np.all(np.isfinite(arr)):
            return f"backend returned non-finite values in {key}"
    return ""


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Compute the rows of ``task``; a failed row is recorded, never raised.

    Args:
        task: what to compute.

    Returns:
        The arrays, success mask, error messages and timings.
    """
    shapes = task.request.shapes()
    n = len(task.rows)
    values = {key: np.full((n, *shape), np.nan) for key, shape in shapes.items()}
    ok = np.zeros(n, dtype=bool)
    errors = [""] * n
    seconds = np.zeros(n)
    for i in range(n):
        if _CANCEL.is_set():
            raise TaskCancelled("run interrupted")
        params = {name: float(v) for name, v in zip(task.names, task.params[i], strict=True)}
        try:
            sandbox = sandbox_for(task.target, task.request, task.settings, task.fixed)
        except SandboxError as err:  # the backend cannot start here: fail the remaining rows
            errors[i:] = [str(err)] * (n - i)
            break
        outcome = sandbox.compute(params, task.timeout)
        seconds[i] = outcome.seconds
        if outcome.values is None:
            errors[i] = outcome.error
            continue
        problem = _check(outcome.values, shapes)
        if problem:
            errors[i] = problem
            continue
        for key in shapes:
            values[key][i] = outcome.values[key]
        ok[i] = True
    return ChunkResult(task.start, np.asarray(task.rows), values, ok, errors, seconds,
                       worker=f"{socket.gethostname()}:{os.getpid()}")
