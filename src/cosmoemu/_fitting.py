"""One early-stopping loop for every fit in cosmoemu: emulator stages and normalizing flows.

A fit is a sequence of epochs. The caller supplies what an epoch is,
``run_epoch(params, opt_state) -> (params, opt_state, train_loss)`` (typically one jitted
``lax.scan`` over mini-batches whose learning rate is an optax schedule of the step count),
and how to score parameters, ``val_loss(params) -> float``. The loop keeps the parameters of the
epoch with the lowest validation loss, stops after ``patience`` epochs without an improvement
larger than ``min_delta`` (or at ``max_epochs``), and raises or stops on a non-finite loss. It is
plain Python around the caller's jitted functions: nothing here is traced, and no optimiser
state is touched.

Example::

    state = FitState.start(params, optimizer.init(params), best_loss=val_loss(params))
    state = fit(state, run_epoch, val_loss, EarlyStopping(max_epochs=300, patience=30))
    params = state.best_params
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

__all__ = ["TrainingError", "EarlyStopping", "FitState", "EpochInfo", "fit"]

log = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN or infinite)."""


@dataclass(frozen=True)
class EarlyStopping:
    """When a fit stops.

    Attributes:
        max_epochs: hard cap on the epochs of the phase.
        patience: stop after this many epochs in a row without an improvement.
        min_delta: an epoch improves when its validation loss is below the best one by more
            than this (0: any decrease).
        on_nonfinite: ``"raise"`` a :class:`TrainingError`, or ``"stop"`` (log a warning and
            keep the best parameters so far), when a training or validation loss is NaN/inf.
    """

    max_epochs: int
    patience: int
    min_delta: float = 0.0
    on_nonfinite: Literal["raise", "stop"] = "raise"

    def __post_init__(self) -> None:
        if self.max_epochs < 1 or self.patience < 1:
            raise ValueError(
                f"max_epochs and patience must be >= 1, got {self.max_epochs}, {self.patience}"
            )
        if not self.min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")
        if self.on_nonfinite not in ("raise", "stop"):
            raise ValueError(f"on_nonfinite must be 'raise' or 'stop', got {self.on_nonfinite!r}")


def _history() -> dict[str, list]:
    return {"train_loss": [], "val_loss": []}


@dataclass
class FitState:
    """Where a fit stands: everything needed to continue it (what a checkpoint holds).

    Attributes:
        params: current parameters (any pytree).
        opt_state: the optimiser state of the current phase.
        best_params: parameters with the lowest validation loss so far.
        best_loss: that loss (the starting parameters' loss, or ``inf``).
        best_epoch: index in ``history`` of the best epoch; -1 while the start is the best.
        epoch: epochs run in the current phase.
        wait: epochs of the current phase since the last improvement.
        history: per-epoch lists, ``train_loss`` and ``val_loss`` (callers may add others).
    """

    params: Any
    opt_state: Any
    best_params: Any
    best_loss: float = math.inf
    best_epoch: int = -1
    epoch: int = 0
    wait: int = 0
    history: dict[str, list] = field(default_factory=_history)

    @classmethod
    def start(cls, params: Any, opt_state: Any, best_loss: float = math.inf) -> FitState:
        """A fresh state at ``params``, which count as the best so far with ``best_loss``."""
        return cls(params, opt_state, params, float(best_loss))

    def new_phase(self, opt_state: Any) -> None:
        """Begin a phase (e.g. the next stage): from the best parameters, with ``opt_state``."""
        self.params, self.opt_state = self.best_params, opt_state
        self.epoch, self.wait = 0, 0

    @property
    def n_epochs(self) -> int:
        """Epochs run over all phases (the length of ``history``)."""
        return len(self.history["train_loss"])


class EpochInfo(NamedTuple):
    """What :func:`fit` hands ``on_epoch`` after each epoch."""

    index: int  # position in the history (epochs over all phases, 0-based)
    train_loss: float
    val_loss: float
    improved: bool
    done: bool  # the phase ends after this epoch


def fit(
    state: FitState,
    run_epoch: Callable[[Any, Any], tuple[Any, Any, Any]],
    val_loss: Callable[[Any], Any],
    rule: EarlyStopping,
    *,
    on_epoch: Callable[[FitState, EpochInfo], None] | None = None,
    progress: bool = False,
    desc: str = "fit",
    where: str = "",
    hint: str = "lower the learning rate or check the data",
) -> FitState:
    """Run epochs from ``state`` until early stopping; ``state`` is updated in place.

    A phase that already met its stopping rule (a state restored from a checkpoint written at
    the end of a phase) returns at once.

    Args:
        state: the state to continue (see :meth:`FitState.start`, :meth:`FitState.new_phase`).
        run_epoch: ``(params, opt_state) -> (params, opt_state, mean training loss)``.
        val_loss: ``params -> validation loss`` (a scalar).
        rule: when to stop.
        on_epoch: called after every epoch with the updated state (e.g. to checkpoint, record
            more history or report); raising from it stops the fit.
        progress: show a tqdm bar.
        desc: the bar's label.
        where: what the error message calls this phase (e.g. ``"stage 2"``).
        hint: what the error message advises on a non-finite loss.

    Returns:
        ``state``, with ``best_params`` the parameters of the best epoch.

    Raises:
        TrainingError: a non-finite loss with ``rule.on_nonfinite == "raise"``.
    """
    from tqdm.auto import tqdm

    with tqdm(total=rule.max_epochs, initial=state.epoch, disable=not progress, leave=False,
              desc=desc) as bar:
        while state.epoch < rule.max_epochs and state.wait < rule.patience:
            params, opt_state, tr = run_epoch(state.params, state.opt_state)
            tr, vl = float(tr), float(val_loss(params))
            state.params, state.opt_state = params, opt_state
            state.history["train_loss"].append(tr)
            state.history["val_loss"].append(vl)
            state.epoch += 1
            index = state.n_epochs - 1
            finite = math.isfinite(tr) and math.isfinite(vl)
            if not finite:
                bad = tr if not math.isfinite(tr) else vl
                at = f"{where + ' ' if where else ''}epoch {state.epoch}"
                if rule.on_nonfinite == "raise":
                    raise TrainingError(f"loss became {bad} at {at}; {hint}")
                log.warning("%s: non-finite loss %s at %s; stopping with the best epoch",
                            desc, bad, at)
            improved = finite and vl < state.best_loss - rule.min_delta
            if improved:
                state.best_params, state.best_loss, state.best_epoch = params, vl, index
                state.wait = 0
            else:
                state.wait += 1
            done = (not finite or state.wait >= rule.patience
                    or state.epoch >= rule.max_epochs)
            bar.update(1)
            bar.set_postfix(loss=f"{tr:.3e}", val=f"{vl:.3e}", best=f"{state.best_loss:.3e}")
            if on_epoch is not None:
                on_epoch(state, EpochInfo(index, tr, vl, improved, done))
            if done:
                break
    return state
