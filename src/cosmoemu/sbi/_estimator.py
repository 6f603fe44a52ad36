r"""A trained SBI estimator: the networks of an ensemble, their whitening, prior and record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from ..evidence._whiten import Whitening, fit_whitening
from ._nets import NetConfig, log_q, logit
from ._prior import parse_prior

__all__ = ["Estimator", "EnsembleLikelihood", "Regression", "fit_regression"]


@dataclass(frozen=True)
class Regression:
    r"""NLE preconditioning: the linear-Gaussian part of :math:`x` given :math:`\theta`.

    In whitened variables, :math:`x_r = M\,(x_w - B\,\theta_w - c)`, with :math:`B, c` the
    least-squares fit over the simulations and :math:`M` whitening the residuals; the flow
    models :math:`q(x_r\mid\theta_w)` and :math:`\ln\lvert\det M\rvert` is added. For data
    linear in the parameters with Gaussian noise the flow has only the identity left to learn;
    otherwise it learns what the linear model misses.

    Attributes:
        coef: :math:`B`, ``(N, D)``.
        intercept: :math:`c`, ``(N,)``.
        inv_chol: :math:`M`, ``(N, N)`` lower triangular.
        log_det: :math:`\ln\lvert\det M\rvert`.
    """

    coef: np.ndarray
    intercept: np.ndarray
    inv_chol: np.ndarray
    log_det: float

    def apply(self, xw, th):
        """Residual coordinates of whitened ``xw`` ``(..., N)`` given ``th`` ``(..., D)``
        (NumPy or JAX)."""
        dt = getattr(xw, "dtype", np.float64)
        coef, c, m = (jnp.asarray(a, dt) if isinstance(xw, jax.Array) else a
                      for a in (self.coef, self.intercept, self.inv_chol))
        return (xw - th @ coef.T - c) @ m.T


def fit_regression(xw: np.ndarray, th: np.ndarray) -> Regression:
    """Least-squares :math:`x_w \approx B\theta_w + c` and the residuals' whitening."""
    design = np.column_stack([th, np.ones(len(th))])
    sol, *_ = np.linalg.lstsq(design, xw, rcond=None)
    coef, intercept = sol[:-1].T, sol[-1]
    w = fit_whitening(xw - th @ coef.T - intercept)
    # the residuals have mean ~0 (least squares with an intercept); fold the rest into c
    return Regression(coef=coef, intercept=intercept + w.mean, inv_chol=w.inv_chol,
                      log_det=w.log_det)


def _whiten(w: Whitening, v: jax.Array) -> jax.Array:
    dt = v.dtype
    return (v - jnp.asarray(w.mean, dt)) @ jnp.asarray(w.inv_chol, dt).T


@dataclass(frozen=True)
class Estimator:
    r"""A neural likelihood (``"nle"``), posterior (``"npe"``) or ratio (``"nre"``) estimator.

    Attributes:
        method: ``"nle"``, ``"npe"`` or ``"nre"``.
        names: parameter names, the columns of ``theta`` ``(D,)``.
        prior: the prior mapping (name → prior spec) the simulations were drawn from.
        theta_whitening, x_whitening: the affine maps the networks see their inputs through.
        params: the ensemble's trainable parameters, every leaf stacked ``(K, ...)``.
        static: the shared non-trainable part (functions, coupling permutations).
        config: architecture and training settings.
        seed: seed of the initial weights, splits and batch orders.
        n_simulations: simulations given to :func:`~cosmoemu.sbi.train`.
        history: per member: epochs, best epoch, train and validation losses.
        fit_seconds: wall time of the training.
        regression: NLE only: the linear-Gaussian preconditioning (None: the flow sees
            :math:`x_w` itself).
    """

    method: str
    names: tuple[str, ...]
    prior: dict[str, Any]
    theta_whitening: Whitening
    x_whitening: Whitening
    params: Any = field(repr=False)
    static: Any = field(repr=False)
    config: NetConfig = field(default_factory=NetConfig)
    seed: int = 0
    n_simulations: int = 0
    history: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    fit_seconds: float = 0.0
    regression: Regression | None = None

    @property
    def theta_dim(self) -> int:
        """Number of parameters :math:`D`."""
        return self.theta_whitening.dim

    @property
    def x_dim(self) -> int:
        """Number of data values :math:`N`."""
        return self.x_whitening.dim

    @property
    def n_members(self) -> int:
        """Networks in the ensemble :math:`K`."""
        return int(jax.tree.leaves(self.params)[0].shape[0])

    def priors(self):
        """``(priors by block name, parameter names)`` of the prior (inference priors)."""
        return parse_prior(self.prior)

    def _check(self, theta, x):
        theta = jnp.asarray(theta)
        x = jnp.asarray(x)
        if theta.shape[-1:] != (self.theta_dim,) or x.shape[-1:] != (self.x_dim,):
            raise ValueError(f"theta (..., {self.theta_dim}) and x (..., {self.x_dim}) expected, "
                             f"got {theta.shape} and {x.shape}")
        dt = jnp.result_type(theta.dtype, x.dtype, jnp.float32)
        return theta.astype(dt), x.astype(dt)

    def member_log_prob(self, theta: jax.Array, x: jax.Array) -> jax.Array:
        r"""Each member's output at ``theta`` ``(..., D)``, ``x`` ``(..., N)``: ``(K, ...)``.

        NLE: :math:`\ln q_k(x\mid\theta)` (normalised over :math:`x`); NPE:
        :math:`\ln q_k(\theta\mid x)` (normalised over :math:`\theta`); NRE: the classifier's
        :math:`\ln r_k(x, \theta) \approx \ln p(x\mid\theta) - \ln p(x)`.
        """
        theta, x = self._check(theta, x)
        shape = jnp.broadcast_shapes(theta.shape[:-1], x.shape[:-1])
        th = _whiten(self.theta_whitening, jnp.broadcast_to(theta, (*shape, self.theta_dim)))
        xw = _whiten(self.x_whitening, jnp.broadcast_to(x, (*shape, self.x_dim)))
        th, xw = th.reshape(-1, self.theta_dim), xw.reshape(-1, self.x_dim)
        static = self.static

        def one(p):
            if self.method == "nle":
                if self.regression is None:
                    return log_q(p, static, xw, th) + self.x_whitening.log_det
                return (log_q(p, static, self.regression.apply(xw, th), th)
                        + self.x_whitening.log_det + self.regression.log_det)
            if self.method == "npe":
                return log_q(p, static, th, xw) + self.theta_whitening.log_det
            return jax.vmap(logit, in_axes=(None, None, 0, 0))(p, static, th, xw)

        out = jax.vmap(one)(self.params)
        return out.reshape(self.n_members, *shape)

    def log_prob(self, theta: jax.Array, x: jax.Array) -> jax.Array:
        r"""The ensemble's density: the mixture :math:`\ln\frac1K\sum_k q_k` (normalised like
        every member) for NLE and NPE; the mean logit for NRE. Shape ``(...)``."""
        out = self.member_log_prob(theta, x)
        if self.method == "nre":
            return jnp.mean(out, axis=0)
        return logsumexp(out, axis=0) - math.log(self.n_members)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (no arrays)."""
        return {
            "method": self.method, "names": list(self.names), "prior": self.prior,
            "theta_dim": self.theta_dim, "x_dim": self.x_dim, "members": self.n_members,
            "config": self.config.__dict__, "seed": self.seed,
            "n_simulations": self.n_simulations, "history": list(self.history),
            "fit_seconds": self.fit_seconds, "regression": self.regression is not None,
        }


class EnsembleLikelihood(eqx.Module):
    r"""An NLE or NRE ensemble at one observation, as a likelihood of the named parameters.

    NLE: :math:`\ln L(\theta) = \ln\frac1K\sum_k q_k(x_o\mid\theta)`, normalised over the
    data like each member, so the evidence of ``prior × L`` is the model's :math:`p(x_o)`.
    NRE: the mean logit :math:`\frac1K\sum_k \ln r_k(x_o, \theta)`, which is
    :math:`\ln p(x_o\mid\theta) - \ln p(x_o)`: the right posterior, but its evidence is
    :math:`\int r\pi\,d\theta \approx 1` whatever the model. It follows the likelihood
    protocol of :class:`~cosmoemu.inference.Posterior` (``inputs``, ``from_values``); the
    networks and ``x_obs`` are traced leaves.
    """

    method: str = eqx.field(static=True)
    inputs: tuple[str, ...] = eqx.field(static=True)
    params: Any
    static: Any  # functions and ints (static under eqx.filter_jit), permutations (traced)
    x_obs: np.ndarray
    theta_mean: np.ndarray
    theta_inv_chol: np.ndarray
    x_log_det: float = eqx.field(static=True)
    regression: tuple[np.ndarray, ...] | None

    def __init__(self, est: Estimator, x_obs: Any) -> None:
        if est.method not in ("nle", "nre"):
            raise ValueError(f"EnsembleLikelihood needs an NLE or NRE, got {est.method!r}")
        x = np.asarray(x_obs, dtype=np.float64)
        if x.shape != (est.x_dim,):
            raise ValueError(f"x_obs must have shape ({est.x_dim},), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("x_obs has non-finite values")
        self.method = est.method
        self.inputs = tuple(est.names)
        self.params = est.params
        self.static = est.static
        self.x_obs = np.asarray(est.x_whitening.apply(x), np.float32)
        self.theta_mean = np.asarray(est.theta_whitening.mean, np.float32)
        self.theta_inv_chol = np.asarray(est.theta_whitening.inv_chol, np.float32)
        self.x_log_det = float(est.x_whitening.log_det)
        self.regression = None
        if est.method == "nle" and est.regression is not None:
            r = est.regression
            self.x_log_det += float(r.log_det)
            self.regression = tuple(np.asarray(a, np.float32)
                                    for a in (r.coef, r.intercept, r.inv_chol))

    def members(self, theta: jax.Array) -> jax.Array:
        r"""Each member at ``theta`` ``(D,)`` → ``(K,)``: :math:`\ln q_k(x_o\mid\theta)`
        (NLE) or :math:`\ln r_k(x_o, \theta)` (NRE)."""
        dt = theta.dtype
        th = (theta - jnp.asarray(self.theta_mean, dt)) @ jnp.asarray(self.theta_inv_chol, dt).T
        x = jnp.asarray(self.x_obs, dt)
        if self.method == "nre":
            return jax.vmap(lambda p: logit(p, self.static, th, x))(self.params).astype(dt)
        if self.regression is not None:
            coef, c, m = (jnp.asarray(a, dt) for a in self.regression)
            x = (x - coef @ th - c) @ m.T
        out = jax.vmap(lambda p: log_q(p, self.static, x, th))(self.params)
        return out.astype(dt) + jnp.asarray(self.x_log_det, dt)

    def __call__(self, theta: jax.Array) -> jax.Array:
        out = self.members(theta)
        if self.method == "nre":
            return jnp.mean(out)
        return logsumexp(out) - jnp.log(jnp.asarray(out.shape[0], out.dtype))

    def from_values(self, values) -> jax.Array:
        """The likelihood protocol: ``values`` holds every parameter by name."""
        theta = jnp.stack([jnp.asarray(values[n]) for n in self.inputs])
        return self(theta)
