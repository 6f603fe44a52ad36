r"""Fitting a flow to posterior samples: whitening, maximum likelihood, early stopping.

Training runs in jitted rounds of ``_ROUND`` Adam steps (one ``lax.scan`` each); an epoch is
the whole number of rounds nearest to one pass over the data. The validation loss after each
epoch drives early stopping (:func:`cosmoemu._fitting.fit`, the loop emulator training uses
too), and the parameters of the best epoch are kept.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._fitting import EarlyStopping, FitState, fit
from ._flows import FlowConfig, _log_q, init_flow, log_density, param_dtype
from ._whiten import Whitening, fit_whitening

__all__ = ["FittedFlow", "TooFewSamplesError", "fit_flow"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FittedFlow:
    r"""A flow fitted to samples, with the whitening it was trained through.

    Its density in the sampled parameters :math:`\theta` at temperature :math:`T` is

    .. math::

        \ln\varphi_T(\theta) = \ln\mathcal{N}\big(g(x);\,0,\,T\,\mathbb{1}\big)
            + \ln\left\lvert\det\frac{\partial g}{\partial x}\right\rvert
            + \ln\lvert\det L^{-1}\rvert,
        \qquad x = L^{-1}(\theta - \mu),

    normalised for every :math:`T > 0` (:math:`T` is the base variance).

    Attributes:
        config: architecture and training settings.
        whitening: mean and Cholesky factor of the training samples.
        params, static: the flowjax flow, partitioned (``equinox.partition``).
        train_loss, val_loss: mean negative log-likelihood per epoch (whitened space).
        initial_val_loss: that of the untrained flow, the whitened Gaussian (every coupling
            layer starts as the identity).
        best_epoch: the epoch whose parameters were kept (0-based); -1 when no epoch beat the
            untrained flow, which is then kept (a Gaussian with the samples' mean and
            covariance).
        seed: the seed of the initial weights, the validation split and the batches.
        fit_seconds: wall time of the fit.
    """

    config: FlowConfig
    whitening: Whitening
    params: Any = field(repr=False)
    static: Any = field(repr=False)
    train_loss: tuple[float, ...] = ()
    val_loss: tuple[float, ...] = ()
    initial_val_loss: float = math.nan
    best_epoch: int = 0
    seed: int = 0
    fit_seconds: float = 0.0

    @property
    def dim(self) -> int:
        """Number of parameters."""
        return self.whitening.dim

    def log_density(self, theta: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        r""":math:`\ln\varphi_T(\theta)` for ``theta`` of shape ``(n, dim)``; float64 ``(n,)``.

        Raises:
            ValueError: on a shape that does not match or a temperature that is not positive.
        """
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim != 2 or theta.shape[1] != self.dim:
            raise ValueError(f"theta must have shape (n, {self.dim}), got {theta.shape}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        x = self.whitening.apply(theta)
        return log_density(self.params, self.static, x, temperature) + self.whitening.log_det

    def summary(self) -> dict[str, Any]:
        """JSON-ready description of the fit."""
        return {
            "kind": self.config.kind,
            "config": {k: v for k, v in self.config.__dict__.items() if k != "kind"},
            "epochs": len(self.train_loss),
            "best_epoch": self.best_epoch,
            "best_val_loss": (self.val_loss[self.best_epoch] if self.best_epoch >= 0
                              else self.initial_val_loss),
            "initial_val_loss": self.initial_val_loss,
            "seed": self.seed,
            "fit_seconds": self.fit_seconds,
        }


@functools.lru_cache(maxsize=8)
def _optimizer(learning_rate: float) -> optax.GradientTransformation:
    # cached: the same object for the same rate keeps the jitted epoch in cache
    return optax.chain(optax.clip_by_global_norm(10.0), optax.adam(learning_rate))



class TooFewSamplesError(ValueError):
    """Too few samples to fit a flow; ``needed`` says how many it takes."""

    def __init__(self, message: str, needed: int) -> None:
        super().__init__(message)
        self.needed = needed


def _nll(params, static, x):
    one = jnp.ones((), dtype=x.dtype)
    return -jnp.mean(jax.vmap(_log_q, in_axes=(None, None, 0, None))(params, static, x, one))


#: optimisation steps per jitted call; an epoch is a whole number of such rounds
_ROUND = 32


@eqx.filter_jit
def _round(params, static, opt_state, x_train, order, learning_rate: float):
    """``_ROUND`` Adam steps on the mini-batches ``x_train[order]``, ``order`` of shape
    ``(_ROUND, batch)``. Compiles once per architecture, batch size and padded data size."""
    optimizer = _optimizer(learning_rate)

    def step(carry, idx):
        params, opt_state = carry
        loss, grads = eqx.filter_value_and_grad(_nll)(params, static, x_train[idx])
        with jax.numpy_dtype_promotion("standard"):  # optax's Adam mixes int and float
            updates, opt_state = optimizer.update(grads, opt_state, params)
        return (eqx.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), order)
    return params, opt_state, jnp.mean(losses)


def _padded(x: np.ndarray, dtype) -> jax.Array:
    """``x`` padded with zero rows to a power of two (>= 1024), so that fits with similar
    sample counts share one compilation; the padding is never indexed."""
    size = max(1024, 1 << (x.shape[0] - 1).bit_length())
    out = np.zeros((size, x.shape[1]))
    out[: x.shape[0]] = x
    return jnp.asarray(out, dtype=dtype)


def fit_flow(
    samples: np.ndarray,
    config: FlowConfig | None = None,
    *,
    seed: int = 0,
    progress: bool = False,
) -> FittedFlow:
    """Fit a normalizing flow to ``samples`` by maximum likelihood.

    The samples are whitened with their mean and full covariance (Cholesky factor); a random
    ``config.validation_fraction`` of them is held out, and training stops after
    ``config.patience`` epochs without a lower validation loss (or at ``config.max_epochs``),
    keeping the best parameters. The flow starts as the identity (the whitened Gaussian, see
    :func:`~._flows.init_flow`), and those starting parameters are candidates too: a flow that
    only overfits (a near-Gaussian posterior in many dimensions with few samples) leaves the
    Gaussian in place.

    Args:
        samples: posterior samples, shape ``(n, dim)``, ``dim >= 2``; repeat a sample to give
            it an integer weight.
        config: architecture and training settings; the ``"realnvp"`` defaults when omitted.
        seed: seeds the initial weights, the validation split and the batch order.
        progress: show a progress bar over epochs.

    Returns:
        The fitted flow; ``FittedFlow.log_density(theta, T)`` is its tempered density.

    Raises:
        ValueError: too few samples for the batch size and validation split, or a singular
            covariance.
    """
    config = config or FlowConfig()
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2:
        raise ValueError(f"samples must have shape (n, dim), got {samples.shape}")
    start = time.perf_counter()
    whitening = fit_whitening(samples)
    x = whitening.apply(samples)
    rng = np.random.default_rng(seed)
    x = x[rng.permutation(x.shape[0])]
    n_val = max(1, round(config.validation_fraction * x.shape[0]))
    n_train = x.shape[0] - n_val
    batch_size = min(config.batch_size, n_train)
    if n_train < 2 * batch_size or n_train < 10 * samples.shape[1]:
        need = math.ceil(max(2 * config.batch_size, 10 * samples.shape[1])
                         / (1 - config.validation_fraction)) + 1
        raise TooFewSamplesError(
            f"too few samples to train a flow: {samples.shape[0]} samples of "
            f"{samples.shape[1]} parameters; it needs at least {need} (2 batches of "
            f"{config.batch_size} and 10 per parameter, after holding out "
            f"{100 * config.validation_fraction:.0f}% for validation). Draw more samples, or "
            "lower the flow's batch_size",
            needed=need,
        )
    rounds = max(1, round(n_train / (batch_size * _ROUND)))  # rounds per epoch
    x_val = x[:n_val]
    params, static = init_flow(config, samples.shape[1], seed)
    x_train = _padded(x[n_val:], param_dtype(params))

    def run_epoch(params, opt_state):
        need = rounds * _ROUND * batch_size
        order = np.concatenate(
            [rng.permutation(n_train) for _ in range(-(-need // n_train))]
        )[:need].reshape(rounds, _ROUND, batch_size)
        losses = []
        for r in range(rounds):
            params, opt_state, loss = _round(
                params, static, opt_state, x_train, order[r], config.learning_rate
            )
            losses.append(loss)
        return params, opt_state, np.mean(losses)

    def val_loss(params):
        return -np.mean(log_density(params, static, x_val))

    initial_loss = float(val_loss(params))
    state = fit(
        FitState.start(params, _optimizer(config.learning_rate).init(params), initial_loss),
        run_epoch,
        val_loss,
        EarlyStopping(config.max_epochs, config.patience, min_delta=1e-4, on_nonfinite="stop"),
        progress=progress,
        desc="flow",
    )
    if not np.isfinite(state.best_loss):
        raise ValueError("flow training failed: the validation loss was never finite")
    best_epoch = state.best_epoch  # -1: the untrained flow (the whitened Gaussian)
    logger.info(
        "flow %s: %d epochs, best %d, validation NLL %.4f",
        config.kind, state.n_epochs, best_epoch, state.best_loss,
    )
    return FittedFlow(
        config=config,
        whitening=whitening,
        params=state.best_params,
        static=static,
        train_loss=tuple(state.history["train_loss"]),
        val_loss=tuple(state.history["val_loss"]),
        initial_val_loss=initial_loss,
        best_epoch=best_epoch,
        seed=seed,
        fit_seconds=time.perf_counter() - start,
    )
