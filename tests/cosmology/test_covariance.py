"""Gaussian covariance of tomographic C_ell: exact cases and a Monte-Carlo of Gaussian a_lm."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cosmoemu.cosmology import (
    ARCMIN2_PER_SR,
    gaussian_cl_covariance,
    matrix_to_pairs,
    pairs_to_matrix,
    shape_noise,
    tomographic_pairs,
)

FIXTURE = Path(__file__).parent / "fixtures" / "ccl_shear_euclid.npz"


def test_layouts_round_trip():
    rng = np.random.default_rng(0)
    assert tomographic_pairs(3) == [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    pairs = rng.normal(size=(6, 4))
    mat = pairs_to_matrix(pairs)
    assert mat.shape == (3, 3, 4)
    for p, (i, j) in enumerate(tomographic_pairs(3)):
        np.testing.assert_array_equal(mat[i, j], pairs[p])
        np.testing.assert_array_equal(mat[j, i], pairs[p])
    np.testing.assert_array_equal(matrix_to_pairs(mat), pairs)
    with pytest.raises(ValueError, match="n \\(n \\+ 1\\) / 2"):
        pairs_to_matrix(np.zeros((5, 2)))


def test_shape_noise_numbers():
    # sigma_e = 0.30 per component, 30 gal/arcmin^2 in 10 bins: 3 gal/arcmin^2 per bin
    assert ARCMIN2_PER_SR == pytest.approx(11_818_102.86, rel=1e-9)
    noise = shape_noise(0.30, 30.0, 10)
    np.testing.assert_allclose(noise, 0.09 / (3.0 * ARCMIN2_PER_SR), rtol=1e-14)
    assert noise[0] == pytest.approx(2.5384e-9, rel=1e-4)


def test_one_bin_exact():
    """One field: C_hat (2l+1)/(C+N) ~ chi^2 with sum(2l+1) f_sky dof -> variance 2(C+N)^2/dof;
    half-integer edges make (2 l_c + 1) dl the exact sum over the integer multipoles."""
    cl, noise, f_sky = 3.0e-9, 1.0e-9, 0.4
    edges = np.array([9.5, 10.5, 20.5, 100.5])  # l = 10; 11..20; 21..100
    cov = gaussian_cl_covariance(np.full((1, 3), cl), edges, np.array([noise]), f_sky)
    dof = np.array([2 * 10 + 1, sum(2 * ell + 1 for ell in range(11, 21)),
                    sum(2 * ell + 1 for ell in range(21, 101))]) * f_sky
    np.testing.assert_allclose(np.diag(cov), 2 * (cl + noise) ** 2 / dof, rtol=1e-14)
    np.testing.assert_array_equal(cov - np.diag(np.diag(cov)), 0.0)


def test_ordering_pair_major_ell_fastest():
    """Index p * n_ell + b, matrix and pairs inputs agree, the formula per element."""
    rng = np.random.default_rng(1)
    n_bins, n_ell = 3, 4
    edges = np.array([10.0, 20.0, 40.0, 80.0, 160.0])
    a = rng.normal(size=(n_ell, n_bins, n_bins))
    mat = np.einsum("bik,bjk->ijb", a, a)  # positive definite per ell
    noise = np.array([0.1, 0.2, 0.3])
    cov = gaussian_cl_covariance(matrix_to_pairs(mat), edges, noise, 0.5)
    np.testing.assert_array_equal(cov, gaussian_cl_covariance(mat, edges, noise, 0.5))
    tot = mat + np.diag(noise)[:, :, None]
    pairs = tomographic_pairs(n_bins)
    centre, width = 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)
    for p, (i, j) in enumerate(pairs):
        for q, (k, l) in enumerate(pairs):
            for b in range(n_ell):
                expect = ((tot[i, k, b] * tot[j, l, b] + tot[i, l, b] * tot[j, k, b])
                          / ((2 * centre[b] + 1) * width[b] * 0.5))
                assert cov[p * n_ell + b, q * n_ell + b] == pytest.approx(expect, rel=1e-13)
                other = (b + 1) % n_ell
                assert cov[p * n_ell + b, q * n_ell + other] == 0.0
    np.testing.assert_allclose(cov, cov.T, rtol=1e-14)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_monte_carlo_two_bins():
    """Gaussian a_lm realisations of two correlated fields + noise, C_hat binned over the modes:
    the sample covariance of (C_00, C_01, C_11) x 3 ell-bins matches the formula within MC error,
    and ell-bins are uncorrelated."""
    rng = np.random.default_rng(12)
    edges = np.array([1.5, 2.5, 4.5, 7.5, 19.5, 23.5])  # l = 2 | 3, 4 | 5..7 | 8..19 | 20..23
    n_ell = len(edges) - 1
    signal = np.array([[1.0, 0.6], [0.6, 1.5]])
    scales = np.array([1.0, 0.7, 0.5, 0.3, 0.2])
    noise = np.array([0.3, 0.2])
    n_mc, n_batch = 40_000, 40
    dof = [int(sum(2 * ell + 1 for ell in range(round(lo + 0.5), round(hi + 0.5))))
           for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    pairs = tomographic_pairs(2)
    est = np.empty((n_mc, len(pairs), n_ell))
    for b in range(n_ell):
        chol = np.linalg.cholesky(signal * scales[b] + np.diag(noise))
        # the 2l+1 real degrees of freedom of each a_lm (m = 0 real; Re, Im for m > 0 count
        # for +-m), pooled over the multipoles of the bin
        x = rng.standard_normal((n_mc, dof[b], 2)) @ chol.T
        for p, (i, j) in enumerate(pairs):
            est[:, p, b] = np.mean(x[..., i] * x[..., j], axis=1) - (noise[i] if i == j else 0)
    vec = est.reshape(n_mc, -1)
    model = gaussian_cl_covariance(
        np.stack([matrix_to_pairs(signal * s) for s in scales], axis=-1), edges, noise, 1.0)
    batches = np.array([np.cov(v, rowvar=False) for v in np.split(vec, n_batch)])
    mc, err = batches.mean(0), batches.std(0, ddof=1) / math.sqrt(n_batch)
    np.testing.assert_allclose(vec.mean(0), matrix_to_pairs(
        np.stack([signal * s for s in scales], axis=-1)).reshape(-1), atol=0.03)
    pull = (mc - model) / err
    assert np.abs(pull).max() < 5.0
    # the ell-diagonal blocks are clearly non-zero and measured to a few per cent
    diag = np.diag(model)
    np.testing.assert_allclose(np.diag(mc), diag, rtol=0.05)


def test_fixture_covariance_is_this_formula():
    """The CCL fixture's stored covariance blocks are gaussian_cl_covariance of its fiducial."""
    d = np.load(FIXTURE)
    cl = d["cl"][0]
    noise = shape_noise(float(d["sigma_e"]), float(d["n_gal_arcmin2"]), d["nz"].shape[0])
    np.testing.assert_allclose(d["noise"], noise, rtol=1e-14)
    cov = gaussian_cl_covariance(cl, d["ell_edges"], noise, float(d["f_sky"]))
    n_pairs, n_ell = cl.shape
    cov4 = cov.reshape(n_pairs, n_ell, n_pairs, n_ell)
    blocks = np.stack([cov4[:, b, :, b] for b in range(n_ell)])
    np.testing.assert_allclose(d["cov_blocks"], blocks, rtol=1e-6)
    # chi^2 of another cosmology against the fiducial is large; the full matrix is usable
    diff = (d["cl"][1] - cl).reshape(-1)
    chi2 = diff @ np.linalg.solve(cov, diff)
    assert chi2 > 100.0
