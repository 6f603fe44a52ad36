"""Survey n(z): Smail parent, equipopulated edges, photo-z bins — against analytic truths."""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy.special import erf, gammainc, gammaincinv

from cosmoemu.cosmology import (
    SURVEYS,
    equipopulated_edges,
    photometric_bins,
    smail_nz,
)

FIXTURE = Path(__file__).parent / "fixtures" / "ccl_shear_euclid.npz"
EUCLID = SURVEYS["euclid"]


def smail_quantile(q, z0, alpha):
    """Analytic inverse CDF of the Smail parent: CDF(z) = P(3/alpha, (z/z0)^alpha)."""
    return z0 * gammaincinv(3.0 / alpha, q) ** (1.0 / alpha)


def smail_cdf(z, z0, alpha):
    return gammainc(3.0 / alpha, (z / z0) ** alpha)


@pytest.fixture(scope="module")
def grid():
    return np.linspace(0.0, 4.0, 2001)


@pytest.mark.parametrize("survey", sorted(SURVEYS))
def test_smail_normalised(survey):
    s = SURVEYS[survey]
    total, _ = integrate.quad(lambda z: smail_nz(z, s["z0"], s["alpha"]), 0, np.inf,
                              epsabs=0, epsrel=1e-11, limit=200)
    assert total == pytest.approx(1.0, abs=1e-9)
    # the shape: z^2 exp(-(z/z0)^alpha)
    z = np.array([0.3, 1.0, 2.0])
    ratio = smail_nz(z, s["z0"], s["alpha"]) / (z**2 * np.exp(-((z / s["z0"]) ** s["alpha"])))
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-13)


@pytest.mark.parametrize("survey", sorted(SURVEYS))
def test_edges_are_analytic_quantiles(grid, survey):
    s = SURVEYS[survey]
    n = int(s["n_bins"])
    lo, hi = 0.0, 4.0
    edges = equipopulated_edges(grid, smail_nz(grid, s["z0"], s["alpha"]), n)
    # truth: quantiles of the parent truncated to [lo, hi], via the incomplete gamma function
    f_lo, f_hi = smail_cdf(lo, s["z0"], s["alpha"]), smail_cdf(hi, s["z0"], s["alpha"])
    truth = smail_quantile(f_lo + (f_hi - f_lo) * np.arange(n + 1) / n, s["z0"], s["alpha"])
    truth[0], truth[-1] = lo, hi
    np.testing.assert_allclose(edges, truth, atol=2e-5)


def test_euclid_edges_match_ist_f():
    """Blanchard et al. (2020) quote 0.418, 0.560, 0.678, 0.789, 0.900, 1.019, 1.155, 1.324,
    1.576 for the Euclid parent (rounded from a coarser computation: within 2.5e-3)."""
    z = np.linspace(0.0, 4.0, 4001)
    edges = equipopulated_edges(z, smail_nz(z, EUCLID["z0"], EUCLID["alpha"]), 10)
    ist_f = [0.418, 0.560, 0.678, 0.789, 0.900, 1.019, 1.155, 1.324, 1.576]
    np.testing.assert_allclose(edges[1:-1], ist_f, atol=2.5e-3)


def test_each_bin_holds_its_share(grid):
    """Unnormalised bins = fraction of the parent with z_ph in the bin: against a quad of
    parent(z) x [Phi(hi) - Phi(lo)] at the analytic edges, and 1/n each for sigma0 -> 0."""
    z0, alpha, sigma0, n = EUCLID["z0"], EUCLID["alpha"], EUCLID["sigma0"], 10
    parent = smail_nz(grid, z0, alpha)
    frac = np.trapezoid(photometric_bins(grid, parent, n, sigma0, normalise=False), grid, axis=1)
    f_hi = smail_cdf(4.0, z0, alpha)
    edges = smail_quantile(f_hi * np.arange(n + 1) / n, z0, alpha)
    edges[-1] = 4.0

    def share(i):
        def integrand(z):
            s = math.sqrt(2.0) * sigma0 * (1.0 + z)
            prob = 0.5 * (erf((edges[i + 1] - z) / s) - erf((edges[i] - z) / s))
            return smail_nz(z, z0, alpha) * prob
        return integrate.quad(integrand, 0.0, 4.0, epsabs=1e-12, limit=200)[0] / f_hi

    truth = np.array([share(i) for i in range(n)])
    np.testing.assert_allclose(frac, truth, atol=2e-5)
    # galaxies scattered out of [0, 4] in z_ph are cut: mostly from the first bin
    assert frac.sum() == pytest.approx(truth.sum(), abs=1e-5)
    assert 0.97 < frac.sum() < 1.0
    # with little scatter (still resolved by the grid) each bin holds 1/n of the parent
    thin = np.trapezoid(photometric_bins(grid, parent, n, 3e-3, normalise=False), grid, axis=1)
    np.testing.assert_allclose(thin, 1.0 / n, atol=2e-4)


@pytest.mark.parametrize("survey", sorted(SURVEYS))
def test_normalised_and_ordered(grid, survey):
    s = SURVEYS[survey]
    nz = photometric_bins(grid, smail_nz(grid, s["z0"], s["alpha"]), int(s["n_bins"]),
                          s["sigma0"])
    assert nz.shape == (int(s["n_bins"]), grid.size)
    assert np.all(nz >= 0)
    np.testing.assert_allclose(np.trapezoid(nz, grid, axis=1), 1.0, atol=1e-12)
    means = np.trapezoid(nz * grid, grid, axis=1)
    assert np.all(np.diff(means) > 0)


def test_bin_mean_against_quad(grid):
    """Mean redshift of the 3rd Euclid bin against an independent quad at the analytic edges."""
    z0, alpha, sigma0 = EUCLID["z0"], EUCLID["alpha"], EUCLID["sigma0"]
    nz = photometric_bins(grid, smail_nz(grid, z0, alpha), 10, sigma0)
    f_hi = smail_cdf(4.0, z0, alpha)
    lo, hi = smail_quantile(f_hi * np.array([0.2, 0.3]), z0, alpha)

    def weight(z):
        s = math.sqrt(2.0) * sigma0 * (1.0 + z)
        return smail_nz(z, z0, alpha) * 0.5 * (erf((hi - z) / s) - erf((lo - z) / s))

    norm = integrate.quad(weight, 0, 4, epsabs=1e-13, limit=200)[0]
    mean = integrate.quad(lambda z: z * weight(z), 0, 4, epsabs=1e-13, limit=200)[0] / norm
    assert np.trapezoid(nz[2] * grid, grid) == pytest.approx(mean, abs=2e-5)


def test_jax_path_matches_numpy_and_differentiates(x64):
    z = np.linspace(0.0, 4.0, 401)
    parent = smail_nz(z, EUCLID["z0"], EUCLID["alpha"])
    ref = photometric_bins(z, parent, 10, 0.05)

    @jax.jit
    def bins(sigma0, z0):
        return photometric_bins(jnp.asarray(z), smail_nz(jnp.asarray(z), z0, 1.5), 10, sigma0)

    out = bins(0.05, EUCLID["z0"])
    assert isinstance(out, jax.Array) and out.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-10, atol=1e-12)
    mean_1 = jax.grad(lambda s: jnp.trapezoid(bins(s, EUCLID["z0"])[0] * z, z))(0.05)
    assert np.isfinite(mean_1) and mean_1 > 0  # more scatter pulls the first bin's mean up


def test_fixture_nz_is_photometric_bins():
    """The CCL fixture's n(z) is this module's Euclid set-up (guards against silent drift)."""
    d = np.load(FIXTURE)
    z = d["z"]
    parent = smail_nz(z, EUCLID["z0"], EUCLID["alpha"])
    np.testing.assert_allclose(d["nz"], photometric_bins(z, parent, 10, 0.05), rtol=1e-12)
    np.testing.assert_allclose(d["z_edges"], equipopulated_edges(z, parent, 10), rtol=1e-12)
