"""Gaussian covariance of binned tomographic angular power spectra.

Layouts. A set of tomographic spectra is held either as

* **pairs** ``(n_pairs, n_ell)``: the pairs (i, j), i ≤ j, row-major — (0, 0), (0, 1), …,
  (0, n−1), (1, 1), …, (n−1, n−1), n_pairs = n (n + 1) / 2 — the layout of
  :func:`cosmoemu.cosmology.shear_cl`; or
* **matrix** ``(n_bins, n_bins, n_ell)``, symmetric in the first two axes.

:func:`pairs_to_matrix` and :func:`matrix_to_pairs` convert; :func:`tomographic_pairs` lists the
pairs. The data vector is the pairs layout flattened row-major, ``cl.reshape(-1)``: pair-major
with ℓ fastest (index p · n_ell + b), and :func:`gaussian_cl_covariance` returns its covariance
in that order.

Covariance (Knox formula, Gaussian fields, no super-sample or non-Gaussian terms): for ℓ-bin b
with edges [ℓ_lo, ℓ_hi),

.. math::

    \\mathrm{Cov}[C_{ij}(b), C_{kl}(b')] = δ_{bb'}\\,
    \\frac{\\tilde C_{ik} \\tilde C_{jl} + \\tilde C_{il} \\tilde C_{jk}}
         {(2 ℓ_b + 1)\\, Δℓ_b\\, f_{sky}},
    \\qquad \\tilde C_{ij} = C_{ij}(b) + δ_{ij} N_i,

with ℓ_b = (ℓ_lo + ℓ_hi)/2 the **arithmetic** centre and Δℓ_b = ℓ_hi − ℓ_lo, so that
(2ℓ_b + 1) Δℓ_b = ∫ (2ℓ + 1) dℓ over the bin: the number of modes. It is exact for integer
multipoles a … b when the edges are a − ½ and b + ½ (then (2ℓ_b + 1) Δℓ_b = Σ_ℓ (2ℓ + 1)) and
C is constant across the bin. The spectra C_ij(b) are whatever the caller evaluated for the
bin (e.g. at the geometric centre of a logarithmic bin, or a bin average); the covariance only
uses their values.

Shape noise: N_i = σ_e² / n̄_i with σ_e the ellipticity dispersion **per component** (σ_e ≈
0.26–0.30; the total |e| dispersion is √2 σ_e) and n̄_i the source density of bin i in sr⁻¹
(:func:`shape_noise`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ARCMIN2_PER_SR",
    "gaussian_cl_blocks",
    "gaussian_cl_covariance",
    "matrix_to_pairs",
    "pair_indices",
    "pairs_to_matrix",
    "shape_noise",
    "tomographic_pairs",
]

#: Square arcminutes per steradian, (60 · 180 / π)² ≈ 1.1818e7.
ARCMIN2_PER_SR = (60.0 * 180.0 / math.pi) ** 2


def pair_indices(n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin indices (0-based) of the tomographic pairs i ≤ j, row-major: (0,0), (0,1), …, (1,1)…
    — the one pair order of every spectrum, data vector and covariance in the package."""
    i, j = np.triu_indices(n_bins)
    return i, j


def tomographic_pairs(n_bins: int) -> list[tuple[int, int]]:
    """The pairs (i, j), 0 ≤ i ≤ j < n_bins, row-major: (0, 0), (0, 1), …, (n−1, n−1)."""
    return list(zip(*(a.tolist() for a in pair_indices(n_bins)), strict=True))


def _n_bins_from_pairs(n_pairs: int) -> int:
    n = int(round((math.sqrt(8 * n_pairs + 1) - 1) / 2))
    if n * (n + 1) // 2 != n_pairs:
        raise ValueError(f"{n_pairs} is not n (n + 1) / 2 for an integer number of bins n")
    return n


def pairs_to_matrix(cl: ArrayLike) -> np.ndarray:
    """Pairs layout ``(n_pairs, ...)`` → symmetric matrix layout ``(n_bins, n_bins, ...)``."""
    cl = np.asarray(cl, dtype=float)
    n = _n_bins_from_pairs(cl.shape[0])
    i, j = pair_indices(n)
    out = np.empty((n, n) + cl.shape[1:])
    out[i, j] = cl
    out[j, i] = cl
    return out


def matrix_to_pairs(cl: ArrayLike) -> np.ndarray:
    """Matrix layout ``(n_bins, n_bins, ...)`` → pairs layout ``(n_pairs, ...)`` (upper triangle,
    row-major; the lower triangle is not read)."""
    cl = np.asarray(cl, dtype=float)
    if cl.ndim < 2 or cl.shape[0] != cl.shape[1]:
        raise ValueError(f"expected (n_bins, n_bins, ...), got shape {cl.shape}")
    i, j = pair_indices(cl.shape[0])
    return cl[i, j]


def shape_noise(sigma_e: float, n_gal_arcmin2: float, n_bins: int) -> np.ndarray:
    """Shape-noise power N_i = σ_e² / n̄_i for galaxies split equally among equipopulated bins.

    Args:
        sigma_e: ellipticity dispersion per component (e.g. 0.30 for Euclid-like forecasts).
        n_gal_arcmin2: total source density [arcmin⁻²] (e.g. 30).
        n_bins: number of bins; each holds n_gal / n_bins.

    Returns:
        N_i ``(n_bins,)`` [sr], the same for every bin.
    """
    n_per_sr = n_gal_arcmin2 * ARCMIN2_PER_SR / n_bins
    return np.full(n_bins, sigma_e**2 / n_per_sr)


def gaussian_cl_covariance(
    cl: ArrayLike, ell_edges: ArrayLike, noise: ArrayLike, f_sky: float
) -> np.ndarray:
    """Gaussian covariance of the binned tomographic data vector, in pair-major, ℓ-fastest order.

    Args:
        cl: signal spectra per ℓ-bin, pairs layout ``(n_pairs, n_ell)`` (pairs i ≤ j row-major,
            as :func:`cosmoemu.cosmology.shear_cl` returns) or matrix layout
            ``(n_bins, n_bins, n_ell)``; told apart by the number of dimensions.
        ell_edges: ℓ-bin edges ``(n_ell + 1,)``, increasing.
        noise: noise power per bin ``(n_bins,)`` [same units as ``cl``] added to the
            auto-spectra (e.g. :func:`shape_noise`), or a full ``(n_bins, n_bins)`` noise matrix.
        f_sky: observed sky fraction.

    Returns:
        covariance ``(n_pairs · n_ell, n_pairs · n_ell)`` of ``cl_pairs.reshape(-1)``: index
        p · n_ell + b for pair p and ℓ-bin b; block diagonal in ℓ (see the module docstring for
        the formula and the mode count (2ℓ_b + 1) Δℓ_b f_sky with the arithmetic bin centre).
    """
    cl = np.asarray(cl, dtype=float)
    mat = pairs_to_matrix(cl) if cl.ndim == 2 else cl
    if mat.ndim != 3 or mat.shape[0] != mat.shape[1]:
        raise ValueError(f"cl must be (n_pairs, n_ell) or (n_bins, n_bins, n_ell), got {cl.shape}")
    n_bins, _, n_ell = mat.shape
    edges = np.asarray(ell_edges, dtype=float)
    if edges.shape != (n_ell + 1,) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"ell_edges must be increasing with shape ({n_ell + 1},), "
                         f"got {edges.shape}")
    noise = np.asarray(noise, dtype=float)
    noise_mat = np.diag(noise) if noise.ndim == 1 else noise
    if noise_mat.shape != (n_bins, n_bins):
        raise ValueError(f"noise must be ({n_bins},) or ({n_bins}, {n_bins}), got {noise.shape}")
    if not 0.0 < f_sky <= 1.0:
        raise ValueError(f"f_sky must be in (0, 1], got {f_sky}")

    i, j = pair_indices(n_bins)
    block = gaussian_cl_blocks(mat + noise_mat[:, :, None], i, j, edges, f_sky)  # (b, p, q)
    n_pairs = len(i)
    cov = np.einsum("bpq,bc->pbqc", block, np.eye(n_ell))
    return cov.reshape(n_pairs * n_ell, n_pairs * n_ell)


def gaussian_cl_blocks(total: ArrayLike, first: ArrayLike, second: ArrayLike,
                       ell_edges: ArrayLike, f_sky: float) -> np.ndarray:
    """The per-ℓ-bin blocks of the Gaussian covariance of spectra C_{first[p] second[p]}.

    Cov[C_ab(β), C_cd(β)] = (C̃_ac C̃_bd + C̃_ad C̃_bc) / ((2ℓ_β + 1) Δℓ_β f_sky), ℓ_β the
    arithmetic bin centre, C̃ = C + N; zero between ℓ bins.

    Args:
        total: C̃ of every tracer pair, ``(n_tracers, n_tracers, n_ell)`` (symmetric, noise on
            the diagonal included).
        first, second: tracer indices of each spectrum of the data vector ``(n_spectra,)``.
        ell_edges: ``(n_ell + 1,)``.
        f_sky: sky fraction.

    Returns:
        ``(n_ell, n_spectra, n_spectra)``.
    """
    total = np.asarray(total, dtype=float)
    f, s = np.asarray(first)[:, None], np.asarray(second)[:, None]
    a, b = f[:, 0], s[:, 0]
    edges = np.asarray(ell_edges, dtype=float)
    modes = (edges[1:] + edges[:-1] + 1.0) * np.diff(edges) * f_sky  # (2ℓ_β + 1) Δℓ_β f_sky
    block = total[f, a] * total[s, b] + total[f, b] * total[s, a]  # (p, q, n_ell)
    return (block / modes).transpose(2, 0, 1)
