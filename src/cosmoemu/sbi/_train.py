r"""Training an SBI estimator from simulations: whitening, an ensemble, early stopping.

Each ensemble member gets its own initial weights, its own random validation split and its
own batch order (all from ``seed`` and the member's index); one epoch is one jitted
``lax.scan`` over the mini-batches of a pass through the training simulations, and the
validation loss after every epoch drives early stopping (:func:`cosmoemu._fitting.fit`); the
parameters of the best epoch are kept.

Losses (per simulation, whitened variables):

- NLE: :math:`-\ln q(x\mid\theta)`; NPE: :math:`-\ln q(\theta\mid x)` (maximum likelihood);
- NRE: :math:`\operatorname{softplus}(-f(\theta_i, x_i)) + \operatorname{softplus}(f(\theta_j,
  x_i))`, the binary cross-entropy of joint pairs against pairs whose :math:`\theta_j` is that
  of another simulation of the batch (a draw from the prior, independent of :math:`x_i`).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._errors import ConfigError
from .._fitting import EarlyStopping, FitState, fit
from ..evidence._whiten import fit_whitening
from ._estimator import Estimator, fit_regression, stack_regressions
from ._nets import METHODS, NetConfig, build, log_q, logit, template
from ._prior import parse_prior, plain_prior

__all__ = ["train"]

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def _optimizer(learning_rate: float) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(10.0), optax.adam(learning_rate))


def _loss(method: str, params, static, a: jax.Array, c: jax.Array) -> jax.Array:
    """Mean loss of a batch: ``a`` the target (NLE: x, NPE: theta, NRE: theta), ``c`` the
    condition (NLE: theta, NPE: x, NRE: x), whitened, ``(b, ·)``."""
    if method in ("nle", "npe"):
        return -jnp.mean(log_q(params, static, a, c))
    f = jax.vmap(logit, in_axes=(None, None, 0, 0))
    pos = f(params, static, a, c)
    neg = f(params, static, jnp.roll(a, 1, axis=0), c)
    return jnp.mean(jax.nn.softplus(-pos) + jax.nn.softplus(neg))


@eqx.filter_jit
def _epoch(params, static, opt_state, a, c, order, method: str, learning_rate: float):
    """Adam steps over the batches ``order`` ``(steps, batch)``; mean training loss."""
    optimizer = _optimizer(learning_rate)

    def step(carry, idx):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(
            lambda p: _loss(method, p, static, a[idx], c[idx]))(params)
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = optimizer.update(grads, opt_state, params)
        return (eqx.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), order)
    return params, opt_state, jnp.mean(losses)


@eqx.filter_jit
def _val(params, static, a, c, method: str):
    return _loss(method, params, static, a, c)


def _check_arrays(theta: Any, x: Any) -> tuple[np.ndarray, np.ndarray]:
    theta = np.asarray(theta, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if theta.ndim == 1:
        theta = theta[:, None]
    if x.ndim == 1:
        x = x[:, None]
    if theta.ndim != 2 or x.ndim != 2 or theta.shape[0] != x.shape[0]:
        raise ValueError(f"theta (n, D) and x (n, N) with the same n expected, got shapes "
                         f"{theta.shape} and {x.shape}")
    for name, arr in (("theta", theta), ("x", x)):
        bad = ~np.all(np.isfinite(arr), axis=1)
        if bad.any():
            raise ValueError(f"{name} has non-finite values in {int(bad.sum())} simulations "
                             f"(first: row {int(np.flatnonzero(bad)[0])}); drop them first")
    return theta, x


def _check_prior(priors, names, theta: np.ndarray) -> None:
    col = 0
    for name, prior in priors.items():
        cols = theta[:, col:col + prior.size]
        lp = np.asarray(prior.logpdf(cols if prior.size > 1 else cols[:, 0]))
        if not np.all(np.isfinite(lp)):
            row = int(np.flatnonzero(~np.isfinite(lp))[0])
            raise ValueError(f"theta row {row} lies outside the prior of '{name}' (columns "
                             f"{names[col:col + prior.size]}): were the simulations drawn from "
                             "this prior, with the columns in its order?")
        col += prior.size


def train(
    method: str,
    theta: Any,
    x: Any,
    prior: Mapping[str, Any],
    seed: int = 0,
    *,
    options: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> Estimator:
    r"""Train a neural likelihood, posterior or ratio estimator on simulations.

    Args:
        method: ``"nle"`` (conditional flow :math:`q(x\mid\theta)`), ``"npe"`` (conditional
            flow :math:`q(\theta\mid x)`) or ``"nre"`` (classifier :math:`\ln r(x, \theta)`).
        theta: parameters of the simulations, ``(n, D)``, drawn from ``prior``; the columns in
            the prior's order (blocks expanded).
        x: the simulated data (or their compression), ``(n, N)``.
        prior: name → prior spec as in the sampling configs, e.g. ``{"a": {"dist": "norm",
            "loc": 0.0, "scale": 3.0}}``, or a block ``{"t": {"shape": 5, "prior": {...}}}``
            (columns ``t_1 … t_5``).
        seed: seeds the initial weights, the validation splits and the batch orders.
        options: settings of :class:`~cosmoemu.sbi.NetConfig` (``ensemble``, ``flow_layers``,
            ``nn_width``, ``max_epochs``, ``patience``, ...).
        progress: progress bars over epochs.

    Returns:
        :class:`~cosmoemu.sbi.Estimator`.

    Raises:
        ValueError: shapes that disagree, non-finite simulations, ``theta`` outside the prior,
            too few simulations.
        ConfigError: an unknown method, prior kind or option.

    Example:
        >>> import cosmoemu.sbi as sbi
        >>> theta, x = sbi.linear_gaussian_simulations(2000, 2, seed=0)
        >>> est = sbi.train("nle", theta, x, sbi.linear_gaussian_prior(2), seed=0,
        ...                 options={"ensemble": 2})            # doctest: +SKIP
    """
    if method not in METHODS:
        raise ConfigError("method", f"expected one of {', '.join(METHODS)}, got {method!r}")
    config = NetConfig.from_options(method, options)
    theta, x = _check_arrays(theta, x)
    spec = plain_prior(prior)
    priors, names = parse_prior(spec)
    if len(names) != theta.shape[1]:
        raise ValueError(f"the prior names {len(names)} parameters ({', '.join(names)}) but "
                         f"theta has {theta.shape[1]} columns")
    _check_prior(priors, names, theta)
    n = theta.shape[0]
    n_val = max(1, round(config.validation_fraction * n))
    n_train = n - n_val
    batch = min(config.batch_size, n_train)
    if n_train < 2 * batch or n_val < 10:
        need = math.ceil((2 * config.batch_size + 10) / (1 - config.validation_fraction))
        raise ValueError(f"too few simulations: {n}, of which {n_val} validate; give at least "
                         f"{need} or lower options.batch_size")
    start = time.perf_counter()
    tw, xw = fit_whitening(theta), fit_whitening(x)
    t_w = tw.apply(theta).astype(np.float32)
    x_w = xw.apply(x).astype(np.float32)
    linear = method == "nle" and bool(config.linear)
    if linear:
        xw64, tw64 = xw.apply(x), tw.apply(theta)
    regressions = []
    a_all, c_all = (x_w, t_w) if method == "nle" else (t_w, x_w)
    D, N = theta.shape[1], x.shape[1]
    _, static = template(method, config, D, N, seed)
    steps = math.ceil(n_train / batch)
    members, history = [], []
    for k in range(config.ensemble):
        rng = np.random.default_rng([seed, k])
        perm = rng.permutation(n)
        val, tr = perm[:n_val], perm[n_val:]
        if config.bootstrap:
            tr = tr[rng.integers(0, n_train, n_train)]
        if linear:
            # the member's own linear stage, fitted on its own (resampled) simulations
            reg = fit_regression(xw64[tr], tw64[tr])
            regressions.append(reg)
            a_all = reg.apply(xw64, tw64).astype(np.float32)
        a_tr, c_tr = jnp.asarray(a_all[tr]), jnp.asarray(c_all[tr])
        a_val, c_val = jnp.asarray(a_all[val]), jnp.asarray(c_all[val])
        params = build(method, config, D, N, seed, k)
        opt = _optimizer(config.learning_rate)

        def run_epoch(params, opt_state, a_tr=a_tr, c_tr=c_tr, rng=rng):
            need = steps * batch
            order = np.concatenate([rng.permutation(n_train)
                                    for _ in range(-(-need // n_train))])[:need]
            return _epoch(params, static, opt_state, a_tr, c_tr,
                          order.reshape(steps, batch), method, config.learning_rate)

        def val_loss(params, a_val=a_val, c_val=c_val):
            return float(_val(params, static, a_val, c_val, method))

        state = fit(
            FitState.start(params, opt.init(params)), run_epoch, val_loss,
            EarlyStopping(config.max_epochs, config.patience, min_delta=1e-4,
                          on_nonfinite="stop"),
            progress=progress, desc=f"{method} {k + 1}/{config.ensemble}",
        )
        if not np.isfinite(state.best_loss):
            raise ValueError(f"{method} training failed: member {k} never reached a finite "
                             "validation loss")
        members.append(state.best_params)
        history.append({
            "member": k, "epochs": state.n_epochs, "best_epoch": max(state.best_epoch, 0),
            "best_val_loss": float(state.best_loss),
            "train_loss": [float(v) for v in state.history["train_loss"]],
            "val_loss": [float(v) for v in state.history["val_loss"]],
        })
        logger.info("%s member %d: %d epochs, validation loss %.4f", method, k,
                    state.n_epochs, state.best_loss)
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)
    return Estimator(
        method=method, names=names, prior=spec, theta_whitening=tw, x_whitening=xw,
        params=stacked, static=static, config=config, seed=int(seed), n_simulations=int(n),
        history=tuple(history), fit_seconds=time.perf_counter() - start,
        regression=stack_regressions(regressions) if linear else None,
    )
