"""Bijections from the real line onto a parameter's support, with log-Jacobians.

Sampling happens in unconstrained coordinates ``u``; the physical value is ``x = f(u)``, and the
density of ``u`` is ``p(f(u)) |f'(u)|``. With these maps a bounded parameter can never leave its
bounds, so a gradient sampler never meets a −inf wall.

Each map is elementwise: ``forward(u) -> x``, ``inverse(x) -> u``, ``log_det_jacobian(u) ->
log|dx/du|``. Bounds may be scalars or arrays (one map acting on a vector of parameters, which
keeps jitted graphs small); float32 or float64.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["Bijection", "Identity", "SoftInterval", "LowerBound", "UpperBound", "bijection_for"]


def _bound(value: ArrayLike, name: str) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


class Bijection(eqx.Module):
    """Interface: an elementwise bijection ℝ → support."""

    def forward(self, u: ArrayLike) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError

    def inverse(self, x: ArrayLike) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError

    def log_det_jacobian(self, u: ArrayLike) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError


class Identity(Bijection):
    """x = u (unbounded parameters)."""

    def forward(self, u: ArrayLike) -> jax.Array:
        return jnp.asarray(u)

    def inverse(self, x: ArrayLike) -> jax.Array:
        return jnp.asarray(x)

    def log_det_jacobian(self, u: ArrayLike) -> jax.Array:
        return jnp.zeros_like(jnp.asarray(u))


class SoftInterval(Bijection):
    r"""Soft walls: x = lo + s[softplus((u−lo)/s) − softplus((u−hi)/s)], onto (lo, hi).

    Monotone and smooth for any softness ``s > 0``. For ``s ≪ hi − lo`` it is the identity
    (x ≈ u) away from the ends, bending only within a few ``s`` of them, so a narrow posterior
    far from the walls keeps its (near-)Gaussian shape in ``u``; for ``s ≳ hi − lo`` it becomes
    the logistic map of width ``s``, which suits wide (prior-dominated) posteriors (a logit map
    bends a narrow, strongly degenerate posterior). Default ``s = (hi − lo)/4``. ``lo``, ``hi``
    and ``s`` are array leaves: changing them does not retrace jitted code.

    .. math:: \ln|dx/du| = \ln σ(a) + \ln σ(Δ - a) + \ln(1 - e^{-Δ}),
              \quad a = (u - lo)/s,\ Δ = (hi - lo)/s
    """

    lo: np.ndarray
    hi: np.ndarray
    softness: jax.Array | np.ndarray

    def __init__(self, lo: ArrayLike, hi: ArrayLike, softness: ArrayLike | None = None) -> None:
        lo, hi = _bound(lo, "SoftInterval lo"), _bound(hi, "SoftInterval hi")
        if not np.all(hi > lo):
            raise ValueError(f"SoftInterval needs lo < hi, got ({lo}, {hi})")
        self.lo, self.hi = lo, hi
        self.softness = 0.25 * (hi - lo) if softness is None else softness

    def _parts(self, dtype):
        lo, hi = jnp.asarray(self.lo, dtype), jnp.asarray(self.hi, dtype)
        s = jnp.asarray(self.softness, dtype)
        return lo, hi, s, (hi - lo) / s

    def forward(self, u: ArrayLike) -> jax.Array:
        u = jnp.asarray(u)
        lo, hi, s, delta = self._parts(u.dtype)
        a = (u - lo) / s
        x = lo + s * (jax.nn.softplus(a) - jax.nn.softplus(a - delta))
        return jnp.clip(x, lo, hi)  # rounding could step a hair outside at extreme u

    def inverse(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        lo, _, s, delta = self._parts(x.dtype)
        y = (x - lo) / s
        # softplus(a) − softplus(a − Δ) = y  ⇔  a = log(e^y − 1) − log(1 − e^{y−Δ})
        return lo + s * (jnp.log(jnp.expm1(y)) - jnp.log(-jnp.expm1(y - delta)))

    def log_det_jacobian(self, u: ArrayLike) -> jax.Array:
        u = jnp.asarray(u)
        lo, _, s, delta = self._parts(u.dtype)
        a = (u - lo) / s
        return (jax.nn.log_sigmoid(a) + jax.nn.log_sigmoid(delta - a)
                + jnp.log(-jnp.expm1(-delta)))


class LowerBound(Bijection):
    """x = lo + exp(u), onto (lo, ∞)."""

    lo: np.ndarray

    def __init__(self, lo: ArrayLike) -> None:
        self.lo = _bound(lo, "LowerBound lo")

    def forward(self, u: ArrayLike) -> jax.Array:
        u = jnp.asarray(u)
        return jnp.asarray(self.lo, u.dtype) + jnp.exp(u)

    def inverse(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.log(x - jnp.asarray(self.lo, x.dtype))

    def log_det_jacobian(self, u: ArrayLike) -> jax.Array:
        return jnp.asarray(u)


class UpperBound(Bijection):
    """x = hi − exp(u), onto (−∞, hi)."""

    hi: np.ndarray

    def __init__(self, hi: ArrayLike) -> None:
        self.hi = _bound(hi, "UpperBound hi")

    def forward(self, u: ArrayLike) -> jax.Array:
        u = jnp.asarray(u)
        return jnp.asarray(self.hi, u.dtype) - jnp.exp(u)

    def inverse(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.log(jnp.asarray(self.hi, x.dtype) - x)

    def log_det_jacobian(self, u: ArrayLike) -> jax.Array:
        return jnp.asarray(u)


def bijection_for(lo: float, hi: float, softness: ArrayLike | None = None) -> Bijection:
    """The map onto ``(lo, hi)``, either end possibly infinite (soft walls for an interval)."""
    lo_f, hi_f = bool(np.isfinite(lo)), bool(np.isfinite(hi))
    if lo_f and hi_f:
        return SoftInterval(lo, hi, softness)
    if lo_f:
        return LowerBound(lo)
    if hi_f:
        return UpperBound(hi)
    return Identity()
