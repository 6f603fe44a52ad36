"""Shared numerics of the C_ℓ → real-space projections (ξ±, COSEBIs): the ℓ quadrature.

All projections here are linear in C_ℓ and are applied as one precomputed matrix. This module
builds the part every matrix shares: a quadrature in ℓ over ``[ell[0], ell[-1]]`` together with
the (linear) interpolation of the C values given at the nodes ``ell`` onto its points.

* Interpolation: a not-a-knot cubic spline in u = ln ℓ of ℓ·C(ℓ) (ℓ·C of a cosmic-shear
  spectrum is flatter than C, so a spline of it is more accurate on log-spaced nodes), divided
  by ℓ again at the quadrature points. It is linear in the C values: the matrix ``S`` of the
  spline of the unit vectors maps C at the nodes to C at the quadrature points.
* Outside ``[ell[0], ell[-1]]`` C is taken to be zero (no extrapolation).
* Quadrature: Gauss–Legendre in u on panels whose ends are the nodes (where the spline's third
  derivative jumps), each interval cut into equal sub-panels spanning at most
  ``WAVES_PER_PANEL`` periods 2π/θ_osc of the fastest Bessel kernel (θ_osc the largest angle,
  radians), with ``m = M_MIN + ceil(M_PER_PHASE · κ)`` points per sub-panel, κ = half its
  width in ℓ times θ_osc (half its phase range): ~3 points per period at 16 periods a panel
  (Gauss–Legendre with m points integrates cos(κx) on [−1, 1] to rounding once 2m ≳ κ + a few
  κ^{1/3}). Measured: halving the panel widths and doubling M_MIN and M_PER_PHASE changes ξ±
  (points and bins, θ ∈ [0.5′, 300′], ℓ ∈ [1, 10⁵]) and E_1..E_8 by ≤ 7e-13 relative.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.interpolate import CubicSpline

ARCMIN = math.pi / (180.0 * 60.0)  # radians per arcminute
WAVES_PER_PANEL = 16.0
M_MIN = 12
M_PER_PHASE = 0.75
INTERP_POWER = 1.0  # the spline interpolates ell**INTERP_POWER * C in ln ell


@functools.lru_cache(maxsize=64)
def gauss_legendre(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [-1, 1] (cached; read-only arrays)."""
    x, w = np.polynomial.legendre.leggauss(m)
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for the small-by-large products of the matrix builds, without BLAS threads (a
    threaded OpenBLAS on a loaded machine made these 100x slower than one core)."""
    return np.einsum("ij,jk->ik", a, b)


def n_points(kappa: float) -> int:
    """Gauss–Legendre points for a panel whose integrand's phase spans ±κ radians."""
    return M_MIN + math.ceil(M_PER_PHASE * kappa)


def array_key(a: np.ndarray | None) -> tuple | None:
    """A hashable, exact cache key of a float array (its float64 bytes and shape)."""
    if a is None:
        return None
    a = np.ascontiguousarray(a, dtype=np.float64)
    return (a.shape, a.tobytes())


def from_key(key: tuple | None) -> np.ndarray | None:
    if key is None:
        return None
    shape, buf = key
    return np.frombuffer(buf, dtype=np.float64).reshape(shape)


def check_ell(ell: np.ndarray) -> np.ndarray:
    """``ell`` as a 1-D float64 numpy array; it must be concrete, positive and increasing."""
    try:
        ell = np.asarray(ell, dtype=np.float64)
    except Exception as err:  # a tracer: ell has to be static
        raise TypeError("ell must be a concrete (numpy) array, not a traced value") from err
    if ell.ndim != 1 or ell.size < 4:
        raise ValueError(f"ell must be 1-D with at least 4 nodes, got shape {ell.shape}")
    if not (ell[0] > 0 and np.all(np.diff(ell) > 0)):
        raise ValueError("ell must be positive and strictly increasing")
    return ell


def ell_quadrature(ell: np.ndarray, theta_osc: float) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """Quadrature of ∫_{ell[0]}^{ell[-1]} dℓ f(ℓ) C(ℓ) for f oscillating at most like a Bessel
    function of ℓ·θ_osc (θ_osc in radians).

    Returns ``(l, w, S)``: points ``l`` (n_q,), weights ``w`` (n_q,) for ∫ dℓ, and the spline
    matrix ``S`` (n_q, n_ell) with C(l) = S @ C(ell) (C zero outside the nodes' range).
    """
    u_knots = np.log(ell)
    pts, wts = [], []
    for i in range(ell.size - 1):
        u0, u1 = u_knots[i], u_knots[i + 1]
        width_l = ell[i + 1] - ell[i]
        q = max(1, math.ceil(width_l * theta_osc / (2 * math.pi * WAVES_PER_PANEL)))
        # the last sub-panel is the widest in ℓ: size the rule for it
        kappa = 0.5 * ell[i + 1] * (1.0 - math.exp(-(u1 - u0) / q)) * theta_osc
        x, w = gauss_legendre(n_points(kappa))
        edges = np.linspace(u0, u1, q + 1)
        half = 0.5 * np.diff(edges)
        mid = 0.5 * (edges[1:] + edges[:-1])
        pts.append((mid[:, None] + half[:, None] * x[None, :]).ravel())
        wts.append((half[:, None] * w[None, :]).ravel())
    u = np.concatenate(pts)
    l_q = np.exp(u)
    w_l = np.concatenate(wts) * l_q  # dℓ = ℓ du
    spline = CubicSpline(u_knots, np.diag(ell**INTERP_POWER), bc_type="not-a-knot")
    s = spline(u) / l_q[:, None] ** INTERP_POWER
    return l_q, w_l, s
