"""Massive neutrinos: Fermi–Dirac energy density and pressure, and the mass from ω_ν.

A massive eigenstate with degeneracy g (CAMB: N_eff,standard/3 = 1.01467) and mass ratio
y = m c²/(k_B T_ν) at a = 1 has, at scale factor a,

.. math::

    ρ_ν(a) = g\\,ρ_{ν,1}(a)\\,R(y a),\\qquad
    R(y) = \\frac{\\int_0^∞ x^2\\sqrt{x^2+y^2}\\,/(e^x+1)\\,dx}{\\int_0^∞ x^3/(e^x+1)\\,dx},

with ρ_ν,1 ∝ a⁻⁴ the density of one massless species; the pressure uses
x⁴/(3√(x²+y²)). Both integrals are 32-point Gauss–Laguerre sums (relative error < 1e-7 for
every y ≥ 0, checked against scipy's ``quad``). R(0) = 1 (radiation) and
R(y) → y·180ζ(3)/(7π⁴) for y ≫ 1 (matter).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._constants import FD_NONREL

__all__ = ["fd_density", "fd_pressure", "mass_ratio_from_density"]

_X, _W = np.polynomial.laguerre.laggauss(32)
_WFD = _W / (1.0 + np.exp(-_X)) / (7.0 * math.pi**4 / 120.0)  # weight e^-x/(1+e^-x), normalised


def _quad(y: jax.Array, kernel) -> jax.Array:
    x = jnp.asarray(_X, y.dtype)
    w = jnp.asarray(_WFD, y.dtype)
    return jnp.sum(w * kernel(x, y[..., None]), axis=-1)


def fd_density(y: ArrayLike) -> jax.Array:
    """R(y): massive-neutrino density over the massless one, at mass ratio ``y`` (any shape)."""
    y = jnp.asarray(y)
    return _quad(y, lambda x, yy: x * x * jnp.sqrt(x * x + yy * yy))


def fd_pressure(y: ArrayLike) -> jax.Array:
    """3P/ρ_massless at mass ratio ``y``: 1 at y = 0, → 0 for y ≫ 1 (any shape)."""
    y = jnp.asarray(y)
    return _quad(y, lambda x, yy: x**4 / jnp.sqrt(x * x + yy * yy))


def _density_slope(y: jax.Array) -> jax.Array:
    return _quad(y, lambda x, yy: x * x * yy / jnp.sqrt(x * x + yy * yy))


def mass_ratio_from_density(ratio: ArrayLike) -> jax.Array:
    """The y with R(y) = ``ratio`` (ratio ≥ 1; ρ_ν today over its massless value).

    Newton's method from the non-relativistic guess, which lies above the root (R is convex
    and R(y) ≥ y·180ζ(3)/(7π⁴)), so it converges monotonically; 12 steps reach float64
    precision for every ratio ≥ 1. Differentiable: the derivative comes from one final Newton
    step on the converged root (the implicit-function derivative).
    """
    ratio = jnp.asarray(ratio)
    target = jax.lax.stop_gradient(jnp.maximum(ratio, 1.0))
    y = target / FD_NONREL

    def step(y, _):
        y = y - (fd_density(y) - target) / jnp.maximum(_density_slope(y), 1e-30)
        return jnp.maximum(y, 0.0), None

    y, _ = jax.lax.scan(step, y, None, length=12)
    y = jax.lax.stop_gradient(y)
    slope = _density_slope(y)
    return y - (fd_density(y) - ratio) / jnp.where(slope > 0, slope, 1.0)
