"""The driver of ``cosmoemu generate``: design -> store -> tasks on an executor -> chunks.

The driver checks the config, builds the design, opens (or resumes) the store, and submits one
task per missing chunk, keeping at most two tasks per worker in flight. It alone writes the
store, one chunk at a time as results arrive, so a run killed at any moment loses at most the
chunks in flight; running the same command again computes only what is missing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    CancelledError,
    Executor,
    Future,
    wait,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError
from ._design import make_design
from ._genconfig import GenerateConfig, load_config, parse_config
from ._tasks import ChunkResult, ChunkTask, TaskCancelled, cancel_tasks, run_chunk
from ._writer import StoreWriter

__all__ = ["generate", "RunSummary"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    """What a run did.

    Attributes:
        output: the store directory.
        n_design: rows of the design.
        n_done: successful rows in the store now.
        n_failed: failed rows in the store now (see ``failures.jsonl``).
        n_missing: rows not computed yet (an interrupted run).
        computed: rows computed by this run.
        failed_now: of those, failed.
        wall_seconds: duration of the run.
        backend_seconds: backend time summed over the rows computed by this run.
        workers: task slots used.
    """

    output: Path
    n_design: int
    n_done: int
    n_failed: int
    n_missing: int
    computed: int
    failed_now: int
    wall_seconds: float
    backend_seconds: float
    workers: int

    @property
    def seconds_per_sample(self) -> float:
        """Mean backend seconds per sample (one worker), this run."""
        return self.backend_seconds / self.computed if self.computed else float("nan")

    @property
    def wall_seconds_per_sample(self) -> float:
        """Wall-clock seconds per sample over all workers, this run."""
        return self.wall_seconds / self.computed if self.computed else float("nan")

    def __str__(self) -> str:
        lines = [
            f"store      {self.output}",
            f"done       {self.n_done} of {self.n_design} samples"
            + (f" ({self.computed} computed now)" if self.computed else " (nothing to compute)"),
            f"failed     {self.n_failed}" + (f" ({self.failed_now} now; see failures.jsonl)"
                                             if self.n_failed else ""),
        ]
        if self.n_missing:
            lines.append(f"missing    {self.n_missing} (run the same command again to resume)")
        if self.computed:
            lines.append(
                f"time       {self.seconds_per_sample:.3g} s per sample per worker, "
                f"{self.wall_seconds_per_sample:.3g} s per sample wall-clock with "
                f"{self.workers} workers ({self.wall_seconds:.1f} s in all)"
            )
        return "\n".join(lines)


def _as_config(config: GenerateConfig | Mapping[str, Any] | str | Path) -> GenerateConfig:
    if isinstance(config, GenerateConfig):
        return config
    if isinstance(config, Mapping):
        return parse_config(config)
    return load_config(config)


def generate(
    config: GenerateConfig | Mapping[str, Any] | str | Path,
    *,
    executor: Executor | None = None,
    kind: str | None = None,
    address: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
) -> RunSummary:
    """Generate (or resume) the training set described by ``config``.

    Args:
        config: a config (path to YAML, mapping, or :class:`GenerateConfig`).
        executor: any ``concurrent.futures.Executor`` to run the tasks on; when given,
            ``kind``/``address`` are ignored and ``workers`` only sizes the in-flight window.
        kind: ``local``, ``dask`` or ``mpi`` (default: the config's ``execution.executor``).
        address: Dask scheduler address (default: the config's).
        workers: task slots (default: the config's, else the usable cores).
        retry_failed: also recompute rows that failed in an earlier run.
        progress: show a progress bar (rate, ETA, failures).

    Returns:
        A :class:`RunSummary` (failed cosmologies are counted there, never raised).

    Raises:
        ConfigError: a bad config or output path, found before any Boltzmann call; an
            executor setting of the config that cannot work (naming ``execution.*``).
        ExecutorUnavailable: the same for ``kind``/``address`` given as arguments (the CLI's
            ``--executor``/``--address``).
        StoreLocked: another run is writing the same store (its PID and host are named).
    """
    cfg = _as_config(config)
    t0 = time.monotonic()
    params, region = make_design(cfg.box, cfg.designs)
    with StoreWriter(cfg, params, region) as writer:
        pending = writer.pending(retry_failed=retry_failed)
        stats = {"computed": 0, "failed": 0, "seconds": 0.0}
        slots = workers or cfg.execution.get("workers")
        if pending:
            log.info("%d samples in %d chunks to compute", sum(len(r) for _, r in pending),
                     len(pending))
            if executor is not None:
                _run(cfg, writer, pending, executor, slots or 4, stats, progress)
            else:
                with _executor(cfg, kind, address, slots) as (pool, slots):
                    _run(cfg, writer, pending, pool, slots, stats, progress)
        n_failed = writer.write_failures()
        done = writer.scan()
    n_ok = int(sum(int(ok.sum()) for ok in done.values()))
    n_present = int(sum(len(ok) for ok in done.values()))
    return RunSummary(
        output=writer.root, n_design=len(params), n_done=n_ok, n_failed=n_failed,
        n_missing=len(params) - n_present, computed=stats["computed"],
        failed_now=stats["failed"], wall_seconds=time.monotonic() - t0,
        backend_seconds=stats["seconds"], workers=slots or 0,
    )


@contextlib.contextmanager
def _executor(cfg: GenerateConfig, kind: str | None, address: str | None,
              workers: int | None) -> Iterator[tuple[Executor, int]]:
    """The executor; a setting that cannot work is reported where it came from: the config
    field (``execution.executor``/``execution.address``) or, as given, the argument."""
    from ._executors import ExecutorUnavailable, open_executor

    given = {"executor": kind is not None, "address": address is not None}
    try:
        with open_executor(kind or cfg.execution.get("executor", "local"),
                           address=address or cfg.execution.get("address"),
                           workers=workers) as pair:
            yield pair
    except ExecutorUnavailable as err:  # raised while opening (the run raises none)
        if given.get(err.setting, True):
            raise
        raise ConfigError(f"execution.{err.setting}", str(err)) from err


def _run(
    cfg: GenerateConfig,
    writer: StoreWriter,
    pending: list[tuple[int, np.ndarray]],
    executor: Executor,
    slots: int,
    stats: dict[str, Any],
    progress: bool,
) -> None:
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():  # log lines go above the progress bar
        _loop(cfg, writer, pending, executor, slots, stats, progress)


def _loop(
    cfg: GenerateConfig,
    writer: StoreWriter,
    pending: list[tuple[int, np.ndarray]],
    executor: Executor,
    slots: int,
    stats: dict[str, Any],
    progress: bool,
) -> None:
    from tqdm.auto import tqdm

    todo = list(reversed(pending))
    in_flight: set[Future] = set()
    tasks: dict[Future, ChunkTask] = {}
    bar = tqdm(total=sum(len(r) for _, r in pending), unit="sample", desc="generate",
               disable=not progress, smoothing=0.05, dynamic_ncols=True)
    cancel_tasks(False)
    try:
        while todo or in_flight:
            while todo and len(in_flight) < 2 * slots:
                start, rows = todo.pop()
                task = ChunkTask(
                    start=start, rows=rows, params=writer.params[rows], names=cfg.box.names,
                    target=cfg.target, request=cfg.request, settings=cfg.settings,
                    fixed=cfg.fixed, timeout=cfg.timeout,
                )
                future = executor.submit(run_chunk, task)
                tasks[future] = task
                in_flight.add(future)
            finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                result = _result(future, tasks.pop(future))
                writer.write(result)
                n_bad = int((~result.ok).sum())
                stats["computed"] += len(result.rows)
                stats["failed"] += n_bad
                stats["seconds"] += float(result.seconds.sum())
                for row, error in zip(result.rows, result.errors, strict=True):
                    if error:
                        log.warning("row %d failed: %s", row, error)
                bar.update(len(result.rows))
                if stats["failed"]:
                    bar.set_postfix(failed=stats["failed"])
    except BaseException:
        cancel_tasks(True)  # running tasks stop at their next row; nothing more is written
        for future in in_flight:
            future.cancel()
        raise
    finally:
        bar.close()


def _result(future: Future, task: ChunkTask) -> ChunkResult:
    """The task's result; a task that raised on its worker (a lost worker, a bug) has all its
    rows recorded as failed with the exception, unless the executor itself is broken."""
    try:
        return future.result()
    except (BrokenExecutor, CancelledError, TaskCancelled):
        raise
    except Exception as err:  # noqa: BLE001 - recorded, the run goes on
        log.error("task for chunk %d failed on its worker: %r", task.start, err)
        shapes = task.request.shapes()
        n = len(task.rows)
        return ChunkResult(
            task.start, np.asarray(task.rows),
            {key: np.full((n, *shape), np.nan) for key, shape in shapes.items()},
            np.zeros(n, bool), [f"task failed on its worker: {type(err).__name__}: {err}"] * n,
            np.zeros(n),
        )
