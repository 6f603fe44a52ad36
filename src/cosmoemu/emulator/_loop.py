"""The staged optimisation of an emulator: jitted epochs, one early-stopping fit per stage,
checkpoints.

Pure machinery, independent of what is emulated: a trainable pytree ``net``, a frozen pytree
handed to the loss, and arrays of inputs, targets and weights for the two splits. Each stage is
one call of the shared early-stopping loop (:func:`cosmoemu._fitting.fit`) with its own optimiser,
whose learning rate is an optax schedule of the step (:meth:`Stage.schedule`); a stage starts
from the best weights so far with a fresh optimiser state.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

from .._fitting import EarlyStopping, EpochInfo, FitState, TrainingError, fit
from ._spec import Stage

__all__ = ["Stage", "TrainingError", "LoopState", "run_stages", "make_optimizer"]

log = logging.getLogger(__name__)

LossFn = Callable[[Any, Any, Array, Array, Array], Array]
_TREES = ("params", "opt_state", "best_params")


@functools.lru_cache(maxsize=64)
def make_optimizer(
    name: str, weight_decay: float, stage: Stage, steps_per_epoch: int
) -> optax.GradientTransformation:
    """Adam or AdamW with the stage's learning-rate schedule (cached: one object per setting,
    so that the jitted epoch is reused)."""
    schedule = stage.schedule(steps_per_epoch)
    if name == "adamw":
        return optax.adamw(schedule, weight_decay=weight_decay)
    return optax.adam(schedule)


@dataclass
class LoopState:
    """Everything needed to continue training (what a checkpoint holds): the shared
    :class:`~cosmoemu._fitting.FitState` and the stage it is in."""

    fit: FitState
    stage: int = 0

    def save(self, path: Path, fingerprint: str) -> None:
        """Atomic write of ``path.npz`` (leaves) and ``path.json`` (counters, history)."""
        arrays = {}
        for name in _TREES:
            for i, leaf in enumerate(jax.tree_util.tree_leaves(getattr(self.fit, name))):
                arrays[f"{name}/{i}"] = np.asarray(leaf)
        npz = path.with_name(path.name + ".npz")
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, npz)
        f = self.fit
        meta = {
            "fingerprint": fingerprint,
            "stage": self.stage,
            "epoch": f.epoch,
            "wait": f.wait,
            "best_val": f.best_loss,
            "best_epoch": f.best_epoch,
            "history": f.history,
        }
        js = path.with_name(path.name + ".json")
        tmp_js = path.with_name(path.name + ".json.tmp")
        tmp_js.write_text(json.dumps(meta))
        os.replace(tmp_js, js)

    def restore(self, path: Path, fingerprint: str, opt_template: Any) -> bool:
        """Load a checkpoint into ``self`` if one exists; ``False`` if there is none.

        Args:
            path: the checkpoint stem.
            fingerprint: of this run; a checkpoint of another run is refused.
            opt_template: an optimiser state with the structure to fill.

        Raises:
            ValueError: the checkpoint belongs to another run (different data or settings).
        """
        js = path.with_name(path.name + ".json")
        if not js.exists():
            return False
        meta = json.loads(js.read_text())
        if meta.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint '{path}' belongs to a different run (data or settings differ); "
                "delete it or choose another checkpoint path"
            )
        f = self.fit
        templates = {"params": f.params, "opt_state": opt_template,
                     "best_params": f.best_params}
        with np.load(path.with_name(path.name + ".npz"), allow_pickle=False) as data:
            for name in _TREES:
                leaves, treedef = jax.tree_util.tree_flatten(templates[name])
                new = [jnp.asarray(data[f"{name}/{i}"]) for i in range(len(leaves))]
                setattr(f, name, jax.tree_util.tree_unflatten(treedef, new))
        self.stage, f.epoch, f.wait = meta["stage"], meta["epoch"], meta["wait"]
        f.best_loss, f.best_epoch, f.history = meta["best_val"], meta["best_epoch"], meta["history"]
        return True


@functools.lru_cache(maxsize=32)
def _make_epoch(loss_fn: LossFn, optimizer: optax.GradientTransformation, batch_size: int, n: int):
    """Jitted epoch; cached so that runs with the same settings reuse compiled code."""
    n_batches = max(1, n // batch_size)

    @jax.jit
    def epoch(net, opt_state, frozen, key, x, t, s):
        perm = jax.random.permutation(key, n)[: n_batches * batch_size]
        perm = perm.reshape(n_batches, batch_size)

        def step(carry, idx):
            net, opt_state = carry
            sb = s if s.ndim == 1 else s[idx]
            value, grads = jax.value_and_grad(loss_fn)(net, frozen, x[idx], t[idx], sb)
            updates, opt_state = optimizer.update(grads, opt_state, net)
            return (optax.apply_updates(net, updates), opt_state), value

        (net, opt_state), losses = jax.lax.scan(step, (net, opt_state), perm)
        return net, opt_state, jnp.mean(losses)

    return epoch


@functools.lru_cache(maxsize=16)
def _jitted(fn: Callable) -> Callable:
    return jax.jit(fn)


def _history_keys(state: FitState) -> None:
    for k in ("stage", "learning_rate"):
        state.history.setdefault(k, [])


def run_stages(
    state: LoopState,
    stages: Sequence[Stage],
    loss_fn: LossFn,
    optimizer: str,
    weight_decay: float,
    frozen: Any,
    train: tuple[Array, Array, Array],
    val: tuple[Array, Array, Array],
    key: Array,
    *,
    checkpoint: Path | None = None,
    fingerprint: str = "",
    checkpoint_every: int = 25,
    progress: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> LoopState:
    """Run the schedule from ``state.stage`` to the end; returns the state.

    Each stage restarts from the best weights so far with a fresh optimiser (its own
    learning-rate schedule) and stops after ``patience`` epochs without a better validation
    loss. Epoch ``i`` (over all stages) shuffles with ``fold_in(key, i)``.

    Args:
        state: where to start (a fresh state, or one restored from a checkpoint).
        stages: the schedule.
        loss_fn: ``(net, frozen, x, t, s) -> scalar``.
        optimizer: ``"adam"`` or ``"adamw"``.
        weight_decay: AdamW's decoupled weight decay.
        frozen: the non-trainable pytree handed to the loss.
        train, val: ``(x, targets, weights)`` of the two splits.
        key: PRNG key of the batch order.
        checkpoint: file stem for checkpoints, or None.
        fingerprint: identifies the run in the checkpoint.
        checkpoint_every: epochs of a stage between checkpoints (and one at each stage's end).
        progress: show a progress bar.
        callback: called after every epoch with ``stage``, ``epoch`` (over all stages),
            ``train_loss``, ``val_loss``, ``best_val_loss`` and ``network`` (the weights after
            the epoch); raising from it stops training.
    """
    val_fn = _jitted(loss_fn)
    n_train = int(train[0].shape[0])
    fs = state.fit
    _history_keys(fs)
    while state.stage < len(stages):
        si, stage = state.stage, stages[state.stage]
        bs = int(min(stage.batch_size, n_train))
        steps = max(1, n_train // bs)
        opt = make_optimizer(optimizer, weight_decay, stage, steps)
        schedule = stage.schedule(steps)
        epoch_fn = _make_epoch(loss_fn, opt, bs, n_train)
        if fs.epoch == 0:
            fs.new_phase(opt.init(fs.best_params))

        def run_epoch(net, opt_state, epoch_fn=epoch_fn):
            ekey = jax.random.fold_in(key, fs.n_epochs)
            return epoch_fn(net, opt_state, frozen, ekey, *train)

        def on_epoch(f: FitState, info: EpochInfo, si=si, schedule=schedule, steps=steps) -> None:
            f.history["stage"].append(si)
            f.history["learning_rate"].append(float(schedule((f.epoch - 1) * steps)))
            if checkpoint is not None and (info.done or f.epoch % checkpoint_every == 0):
                state.save(checkpoint, fingerprint)
            if callback is not None:
                callback({"stage": si, "epoch": info.index, "train_loss": info.train_loss,
                          "val_loss": info.val_loss, "best_val_loss": f.best_loss,
                          "network": f.params})

        fit(
            fs,
            run_epoch,
            lambda net: val_fn(net, frozen, *val),
            EarlyStopping(stage.max_epochs, stage.patience),
            on_epoch=on_epoch,
            progress=progress,
            desc=f"stage {si + 1}/{len(stages)} lr={stage.learning_rate:.1e} bs={bs}",
            where=f"stage {si + 1} (learning rate {stage.learning_rate:.2e})",
            hint="lower the learning rate of that stage or check the training data",
        )
        log.info("stage %d: best validation loss %.4e", si + 1, fs.best_loss)
        state.stage, fs.epoch, fs.wait = si + 1, 0, 0
    return state
