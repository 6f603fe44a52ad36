"""Survey redshift distributions: a Smail-type parent and equipopulated tomographic bins.

The recipe of the Euclid (IST:F, Blanchard et al. 2020) and LSST DESC SRD forecasts:

* a parent distribution of true redshifts, :func:`smail_nz`,
  n(z) ∝ z² exp[−(z/z₀)^α];
* bin edges in photometric redshift at the quantiles i/n_bins of the parent
  (:func:`equipopulated_edges`), i.e. the parent is taken as the distribution of photo-z's when
  placing the edges;
* each bin's true-redshift distribution is the parent times the probability that a galaxy at
  true z has its photo-z in the bin, for a Gaussian scatter σ(z) = σ₀ (1 + z) with no bias
  (:func:`photometric_bins`):

  .. math::

      n_i(z) \\propto n(z) \\int_{z_i}^{z_{i+1}} dz_{ph}\\, \\mathcal N(z_{ph}; z, σ(z))
      = \\tfrac12 n(z) \\left[\\operatorname{erf}\\frac{z_{i+1} - z}{\\sqrt2 σ(z)}
        - \\operatorname{erf}\\frac{z_i - z}{\\sqrt2 σ(z)}\\right],

  normalised to unit integral over the z grid (trapezoid rule).

With the Euclid-like parent (z₀ = 0.9/√2, α = 1.5) the 10 edges are 0.418, 0.560, 0.677,
0.787, 0.899, 1.018, 1.153, 1.322, 1.574 (IST:F quotes 0.418, 0.560, 0.678, 0.789, 0.900, 1.019,
1.155, 1.324, 1.576).

Survey set-ups used in the project (:data:`SURVEYS`): Euclid-like sources (z₀ = 0.9/√2,
α = 1.5, σ₀ = 0.05, 10 bins), LSST-Y10-like sources (z₀ = 0.11, α = 0.68, σ₀ = 0.05) and
lenses (z₀ = 0.28, α = 0.90, σ₀ = 0.03), Roman-like sources (z₀ = 1/√2, α = 1.5, σ₀ = 0.04).

All functions take numpy or JAX arrays: with any JAX array among the inputs (a tracer under
``jit``/``grad`` included) they compute with ``jax.numpy`` and return JAX arrays, else numpy
float64 arrays. The tables are meant to be built once, in float64 (numpy, or JAX with x64).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import scipy.special as sp
from jax.typing import ArrayLike

__all__ = ["SURVEYS", "equipopulated_edges", "photometric_bins", "smail_nz"]

#: Parent and photo-z parameters of the survey set-ups used in the project.
SURVEYS: dict[str, dict[str, float]] = {
    "euclid": {"z0": 0.9 / math.sqrt(2.0), "alpha": 1.5, "sigma0": 0.05, "n_bins": 10},
    "lsst_y10_sources": {"z0": 0.11, "alpha": 0.68, "sigma0": 0.05, "n_bins": 5},
    "lsst_y10_lenses": {"z0": 0.28, "alpha": 0.90, "sigma0": 0.03, "n_bins": 10},
    "roman": {"z0": 1.0 / math.sqrt(2.0), "alpha": 1.5, "sigma0": 0.04, "n_bins": 10},
}


def _backend(*args: Any) -> tuple[ModuleType, Any]:
    """(array module, erf) — JAX's when any argument is a JAX array, else numpy's."""
    if any(isinstance(a, jax.Array) for a in args):
        return jnp, jsp.erf
    return np, sp.erf


def _trapezoid_cumulative(xp: ModuleType, y: Any, x: Any) -> Any:
    """Cumulative trapezoid integral of y(x) along the last axis, starting at 0."""
    steps = 0.5 * (y[..., 1:] + y[..., :-1]) * (x[1:] - x[:-1])
    zero = xp.zeros(y.shape[:-1] + (1,), dtype=steps.dtype)
    return xp.concatenate([zero, xp.cumsum(steps, axis=-1)], axis=-1)


def smail_nz(z: ArrayLike, z0: ArrayLike, alpha: ArrayLike) -> Any:
    """Smail-type parent distribution n(z) = z² exp[−(z/z₀)^α] / norm, normalised on [0, ∞).

    Args:
        z: redshifts, any shape, ≥ 0.
        z0: scale redshift z₀ (the Euclid convention z_median ≈ √2 z₀ for α = 1.5).
        alpha: shape exponent α > 0.

    Returns:
        n(z), same shape as ``z`` [per unit redshift]; ∫₀^∞ n dz = 1 exactly
        (norm = z₀³ Γ(3/α) / α).
    """
    xp, _ = _backend(z, z0, alpha)
    z = xp.asarray(z, dtype=float) if xp is np else xp.asarray(z)
    lgamma = sp.gammaln if xp is np else jsp.gammaln
    log_norm = 3.0 * xp.log(z0) + lgamma(3.0 / alpha) - xp.log(alpha)
    return z**2 * xp.exp(-((z / z0) ** alpha) - log_norm)


def equipopulated_edges(
    z: ArrayLike, parent: ArrayLike, n_bins: int, z_range: tuple[float, float] | None = None
) -> Any:
    """Edges of ``n_bins`` bins that each hold 1/n_bins of the parent between the outer edges.

    Args:
        z: redshift grid ``(n_z,)``, increasing.
        parent: parent distribution on the grid ``(n_z,)``, any normalisation.
        n_bins: number of bins.
        z_range: outer edges (lo, hi); default the grid's ends (z[0], z[-1]).

    Returns:
        edges ``(n_bins + 1,)``: the outer edges and, in between, where the parent's cumulative
        (trapezoid rule on the grid, linear in between) restricted to ``z_range`` reaches
        i / n_bins.
    """
    xp, _ = _backend(z, parent)
    z = xp.asarray(z, dtype=float) if xp is np else xp.asarray(z)
    parent = xp.asarray(parent, dtype=float) if xp is np else xp.asarray(parent)
    lo, hi = (z[0], z[-1]) if z_range is None else z_range
    cum = _trapezoid_cumulative(xp, parent, z)
    c_lo, c_hi = xp.interp(lo, z, cum), xp.interp(hi, z, cum)
    targets = c_lo + (c_hi - c_lo) * xp.arange(1, n_bins) / n_bins
    # the cumulative is non-decreasing; strictly increasing where the parent is positive
    inner = xp.interp(targets, cum, z)
    return xp.concatenate([xp.asarray([lo], dtype=inner.dtype), inner,
                           xp.asarray([hi], dtype=inner.dtype)])


def photometric_bins(
    z: ArrayLike,
    parent: ArrayLike,
    n_bins: int,
    sigma0: ArrayLike,
    *,
    z_phot_range: tuple[float, float] | None = None,
    edges: ArrayLike | None = None,
    normalise: bool = True,
) -> Any:
    """True-redshift distributions of equipopulated photo-z bins with Gaussian scatter.

    n_i(z) = parent(z) × P(edge_i < z_ph < edge_{i+1} | z), z_ph ~ N(z, σ₀ (1 + z)).

    Args:
        z: redshift grid ``(n_z,)``, increasing (e.g. 0 … 4 with a few hundred points).
        parent: parent (true-z) distribution on the grid ``(n_z,)``, any normalisation.
        n_bins: number of tomographic bins.
        sigma0: photo-z scatter σ₀ (σ(z) = σ₀ (1 + z)); 0 gives top-hat bins in true z.
        z_phot_range: outer photo-z edges; galaxies with z_ph outside are cut. Default: the
            grid's ends (z[0], z[-1]).
        edges: the ``(n_bins + 1,)`` photo-z edges; default :func:`equipopulated_edges` of the
            parent over ``z_phot_range``.
        normalise: normalise each bin to unit integral over the grid (trapezoid rule); with
            ``False`` bin i holds the fraction of the parent (as normalised on the grid) whose
            photo-z falls in it.

    Returns:
        n_i(z) ``(n_bins, n_z)`` [per unit redshift].
    """
    xp, erf = _backend(z, parent, sigma0, edges)
    asarr = (lambda a: np.asarray(a, dtype=float)) if xp is np else jnp.asarray
    z, parent = asarr(z), asarr(parent)
    parent = parent / _trapezoid_cumulative(xp, parent, z)[-1]
    if edges is None:
        edges = equipopulated_edges(z, parent, n_bins, z_phot_range)
    edges = asarr(edges)
    if edges.shape != (n_bins + 1,):
        raise ValueError(f"edges must have shape ({n_bins + 1},), got {edges.shape}")
    sigma = sigma0 * (1.0 + z)
    if xp is np and np.all(sigma == 0):
        inside = (z[None, :] >= edges[:-1, None]) & (z[None, :] < edges[1:, None])
        prob = inside.astype(float)
    else:
        scale = math.sqrt(2.0) * xp.maximum(sigma, 1e-300)
        cdf = 0.5 * erf((edges[:, None] - z[None, :]) / scale[None, :])
        prob = cdf[1:] - cdf[:-1]
    nz = parent[None, :] * prob
    if normalise:
        nz = nz / _trapezoid_cumulative(xp, nz, z)[:, -1:]
    return nz
