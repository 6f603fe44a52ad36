"""The optimisation loop: jitted epochs, staged schedule, early stopping, checkpoints.

Pure machinery, independent of what is emulated: a trainable pytree ``net``, a frozen pytree
handed to the loss, and arrays of inputs, targets and weights for the two splits.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import Array

__all__ = ["Stage", "TrainingError", "LoopState", "run_stages", "make_optimizer"]

log = logging.getLogger(__name__)

LossFn = Callable[[Any, Any, Array, Array, Array], Array]


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN or infinite)."""


@dataclass(frozen=True)
class Stage:
    """One stage of a staged schedule.

    Attributes:
        learning_rate: constant learning rate of the stage (or its start, with ``decay``).
        batch_size: mini-batch size (capped at the training-set size).
        max_epochs: hard cap on the number of epochs in the stage.
        patience: stop the stage after this many epochs without a better validation loss.
        decay: ``None`` (constant) or ``"cosine"``: cosine decay to ``learning_rate * final``
            over ``max_epochs`` (a smooth schedule: use one stage with a large patience).
        final: final learning-rate fraction for ``decay="cosine"``.
    """

    learning_rate: float
    batch_size: int
    max_epochs: int = 1000
    patience: int = 50
    decay: str | None = None
    final: float = 0.01

    def __post_init__(self) -> None:
        if not self.learning_rate > 0:
            raise ValueError(f"stage learning_rate must be > 0, got {self.learning_rate}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError("stage batch_size, max_epochs and patience must be >= 1")
        if self.decay not in (None, "cosine"):
            raise ValueError(f"stage decay must be null or 'cosine', got {self.decay!r}")

    def lr_at(self, epoch: int) -> float:
        """Learning rate at ``epoch`` (0-based) of this stage."""
        if self.decay != "cosine":
            return self.learning_rate
        frac = epoch / max(self.max_epochs - 1, 1)
        return self.learning_rate * (
            self.final + (1 - self.final) * 0.5 * (1 + np.cos(np.pi * frac))
        )


@dataclass
class LoopState:
    """Everything needed to continue training (what a checkpoint holds)."""

    net: Any
    opt_state: Any
    best_net: Any
    best_val: float
    stage: int = 0
    epoch: int = 0
    wait: int = 0
    history: dict[str, list] = field(
        default_factory=lambda: {"train_loss": [], "val_loss": [], "stage": [], "learning_rate": []}
    )

    def save(self, path: Path, fingerprint: str) -> None:
        """Atomic write of ``path.npz`` (leaves) and ``path.json`` (counters, history)."""
        arrays = {}
        for name in ("net", "opt_state", "best_net"):
            for i, leaf in enumerate(jax.tree_util.tree_leaves(getattr(self, name))):
                arrays[f"{name}/{i}"] = np.asarray(leaf)
        npz = path.with_name(path.name + ".npz")
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, npz)
        meta = {
            "fingerprint": fingerprint,
            "stage": self.stage,
            "epoch": self.epoch,
            "best_val": self.best_val,
            "wait": self.wait,
            "history": self.history,
        }
        js = path.with_name(path.name + ".json")
        tmp_js = path.with_name(path.name + ".json.tmp")
        tmp_js.write_text(json.dumps(meta))
        os.replace(tmp_js, js)

    def restore(self, path: Path, fingerprint: str) -> bool:
        """Load a checkpoint into ``self`` if one exists; ``False`` if there is none.

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
        with np.load(path.with_name(path.name + ".npz"), allow_pickle=False) as data:
            for name in ("net", "opt_state", "best_net"):
                leaves, treedef = jax.tree_util.tree_flatten(getattr(self, name))
                new = [jnp.asarray(data[f"{name}/{i}"]) for i in range(len(leaves))]
                setattr(self, name, jax.tree_util.tree_unflatten(treedef, new))
        self.stage, self.epoch, self.wait = meta["stage"], meta["epoch"], meta["wait"]
        self.best_val, self.history = meta["best_val"], meta["history"]
        return True


@functools.lru_cache(maxsize=16)
def make_optimizer(name: str, weight_decay: float) -> optax.GradientTransformation:
    """Adam or AdamW with the learning rate injected as a hyper-parameter (set per epoch)."""
    if name == "adamw":
        return optax.inject_hyperparams(optax.adamw)(learning_rate=1e-3, weight_decay=weight_decay)
    return optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)


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


def run_stages(
    state: LoopState,
    stages: Sequence[Stage],
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
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
    """Run the schedule from ``state.stage``/``state.epoch`` to the end; returns the state.

    Each stage restarts from the best weights so far and stops after ``patience`` epochs
    without improvement of the validation loss.
    """
    from tqdm.auto import tqdm

    val_fn = _jitted(loss_fn)
    n_train = int(train[0].shape[0])
    dtype = train[0].dtype
    while state.stage < len(stages):
        si, stage = state.stage, stages[state.stage]
        bs = int(min(stage.batch_size, n_train))
        epoch_fn = _make_epoch(loss_fn, optimizer, bs, n_train)
        if state.epoch == 0 and si > 0:
            state.net, state.wait = state.best_net, 0
        desc = f"stage {si + 1}/{len(stages)} lr={stage.learning_rate:.1e} bs={bs}"
        with tqdm(
            total=stage.max_epochs,
            initial=state.epoch,
            disable=not progress,
            leave=False,
            desc=desc,
        ) as bar:
            while state.epoch < stage.max_epochs:
                lr = stage.lr_at(state.epoch)
                state.opt_state.hyperparams["learning_rate"] = jnp.asarray(lr, dtype)
                ekey = jax.random.fold_in(key, len(state.history["train_loss"]))
                state.net, state.opt_state, tr = epoch_fn(
                    state.net, state.opt_state, frozen, ekey, *train
                )
                tr, vl = float(tr), float(val_fn(state.net, frozen, *val))
                if not (np.isfinite(tr) and np.isfinite(vl)):
                    raise TrainingError(
                        f"loss became {tr if not np.isfinite(tr) else vl} at stage {si + 1} "
                        f"epoch {state.epoch + 1} (learning rate {lr:.2e}); lower the learning "
                        "rate of that stage or check the training data"
                    )
                for k, v in zip(state.history, (tr, vl, si, lr), strict=True):
                    state.history[k].append(float(v) if k != "stage" else int(v))
                if vl < state.best_val:
                    state.best_val, state.best_net, state.wait = vl, state.net, 0
                else:
                    state.wait += 1
                state.epoch += 1
                bar.update(1)
                bar.set_postfix(loss=f"{tr:.3e}", val=f"{vl:.3e}", best=f"{state.best_val:.3e}")
                done = state.wait >= stage.patience or state.epoch >= stage.max_epochs
                if done:
                    state.stage, state.epoch = si + 1, 0
                if checkpoint is not None and (done or state.epoch % checkpoint_every == 0):
                    state.save(checkpoint, fingerprint)
                if callback is not None:
                    callback(
                        {
                            "stage": si,
                            "epoch": len(state.history["stage"]) - 1,
                            "train_loss": tr,
                            "val_loss": vl,
                            "best_val_loss": state.best_val,
                        }
                    )
                if done:
                    break
        log.info("stage %d: best validation loss %.4e", si + 1, state.best_val)
    return state
