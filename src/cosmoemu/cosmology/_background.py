"""Background of a flat :class:`Cosmology` in JAX: H(z), distances, densities.

.. math::

    \\left(\\frac{H}{100\\,\\mathrm{km\\,s^{-1}Mpc^{-1}}}\\right)^2 =
      ω_{cb}\\,a^{-3} + (ω_γ + ω_{ur})\\,a^{-4} + ω_{ν,0}\\,a^{-4} R(y a)
      + ω_{DE}\\,a^{-3(1+w_0+w_a)} e^{-3 w_a (1-a)}

with the massive neutrinos' Fermi–Dirac R (:mod:`~cosmoemu.cosmology._neutrinos`) and
ω_DE = h² − ω_m − ω_γ − ω_ur. Comoving distances integrate c/H over x = ln(1+z) with 48-point
Gauss–Legendre quadrature, accurate to < 1e-9 from z = 0 to z ~ 10⁴. Against CAMB 2.0.5 (same
ω_ν, N_eff, w0, wa): H(z) and χ(z) agree to ~1e-6 for z ≤ 4 and ~1e-5 to z = 1100
(tests/cosmology). Every function is pure JAX and jitted (inlined inside an outer ``jit``): grad
and vmap over cosmologies work.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._constants import C_KM_S
from ._cosmology import Cosmology
from ._neutrinos import fd_density, fd_pressure

__all__ = [
    "densities",
    "hubble",
    "comoving_distance",
    "transverse_comoving_distance",
    "angular_diameter_distance",
    "luminosity_distance",
    "hubble_distance",
    "volume_distance",
]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)


def _dtype(cosmo: Cosmology, z: jax.Array):
    return jnp.result_type(z.dtype, cosmo.h.dtype, jnp.float32)


def densities(cosmo: Cosmology, a: ArrayLike) -> dict[str, jax.Array]:
    """Physical densities ω_i(a) = ρ_i(a)/ρ_crit,100 and pressures, at scale factor ``a``.

    Returns:
        dict with ``cb`` (CDM + baryons), ``radiation`` (photons + massless neutrinos), ``nu``
        (massive neutrinos) and ``de`` densities, ``nu_pressure`` and ``de_pressure`` (in the
        same units), and ``total``; each of the shape of ``a``.
    """
    a = jnp.asarray(a)
    cb = cosmo.omega_cb / a**3
    rad = (cosmo.omega_gamma + cosmo.omega_ur) / a**4
    if cosmo.num_massive_nu:
        y = cosmo.nu_mass_ratio * a
        nu0 = cosmo.omega_nu_massless / a**4
        nu, nu_p = nu0 * fd_density(y), nu0 * fd_pressure(y) / 3.0
    else:
        nu = nu_p = jnp.zeros_like(a)
    w0, wa = cosmo.w0, cosmo.wa
    de = cosmo.omega_de * a ** (-3.0 * (1.0 + w0 + wa)) * jnp.exp(-3.0 * wa * (1.0 - a))
    total = cb + rad + nu + de
    return {"cb": cb, "radiation": rad, "nu": nu, "de": de, "nu_pressure": nu_p,
            "de_pressure": (w0 + wa * (1.0 - a)) * de, "total": total}


def _e2(cosmo: Cosmology, a: jax.Array) -> jax.Array:
    return densities(cosmo, a)["total"]


@jax.jit
def hubble(cosmo: Cosmology, z: ArrayLike) -> jax.Array:
    """H(z) [km/s/Mpc], the shape of ``z``."""
    z = jnp.asarray(z)
    z = z.astype(_dtype(cosmo, z))
    return 100.0 * jnp.sqrt(_e2(cosmo, 1.0 / (1.0 + z)))


@jax.jit
def comoving_distance(cosmo: Cosmology, z: ArrayLike) -> jax.Array:
    """Line-of-sight comoving distance χ(z) = ∫₀^z c dz'/H(z') [Mpc], the shape of ``z``."""
    z = jnp.asarray(z)
    dt = _dtype(cosmo, z)
    z = z.astype(dt)
    xmax = jnp.log1p(z)
    x = 0.5 * xmax[..., None] * (jnp.asarray(_NODES, dt) + 1.0)  # (..., 48) in [0, ln(1+z)]
    integrand = jnp.exp(x) * C_KM_S / hubble(cosmo, jnp.expm1(x))
    return 0.5 * xmax * jnp.sum(jnp.asarray(_WEIGHTS, dt) * integrand, axis=-1)


@jax.jit
def transverse_comoving_distance(cosmo: Cosmology, z: ArrayLike) -> jax.Array:
    """D_M(z) [Mpc]; equal to χ(z) (flat)."""
    return comoving_distance(cosmo, z)


@jax.jit
def angular_diameter_distance(cosmo: Cosmology, z: ArrayLike) -> jax.Array:
    """D_A(z) = D_M(z)/(1+z) [Mpc]."""
    z = jnp.asarray(z)
    return transverse_comoving_distance(cosmo, z) / (1.0 + z)


@jax.jit
def luminosity_distance(cosmo: Cosmology, z: ArrayLike) -> jax.Array:
    """D_L(z) = (1+z) D_M(z) [Mpc]."""
    z = jnp.asarray(z)
    return transverse_comoving_distance(cosmo, z) * (1.0 + z)


@jax.jit
def hubble_distance(cosmo: Cosmology, z: ArrayLike) -> jax.Array:
    """D_H(z) = c/H(z) [Mpc]."""
    return C_KM_S / hubble(cosmo, z)


@jax.jit
def volume_distance(cosmo: Cosmology, z: ArrayLike) -> jax.Array:
    """D_V(z) = [z D_M² D_H]^{1/3} [Mpc] (the BAO isotropic distance)."""
    z = jnp.asarray(z)
    dm = transverse_comoving_distance(cosmo, z)
    return jnp.cbrt(z * dm**2 * hubble_distance(cosmo, z))
