"""The harmonic-mean estimator and its error, with an exact (not learnt) density phi.

No flow here: these tests check the log-space sums, the block-scatter error and the blocks
against direct float64 formulas and a Monte Carlo calibration.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from cosmoemu.evidence._chains import make_blocks
from cosmoemu.evidence._estimator import harmonic_estimate


def test_equal_blocks_match_direct_formula():
    """Equal blocks: ln rho = ln mean(e^l) and the error = std of block means / sqrt(B) / mean."""
    rng = np.random.default_rng(1)
    ell = rng.normal(0.0, 0.5, 4000)
    block = np.repeat(np.arange(40), 100)
    est = harmonic_estimate(ell, np.ones(4000, dtype=int), block)
    w = np.exp(ell)
    means = w.reshape(40, 100).mean(axis=1)
    assert est.ln_inv_z == pytest.approx(math.log(w.mean()), abs=1e-12)
    assert est.ln_z_err == pytest.approx(means.std(ddof=1) / math.sqrt(40) / w.mean(), rel=1e-10)
    assert est.n_blocks == 40 and est.n_samples == 4000
    assert est.ratio_ess == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-10)
    assert est.max_weight_fraction == pytest.approx(w.max() / w.sum(), rel=1e-10)


def test_log_space_offset_of_800_is_exact():
    """ln(1/Z) ~ 800: exp would overflow, the log-space estimate shifts by exactly 800."""
    rng = np.random.default_rng(2)
    ell = rng.normal(0.0, 0.3, 3000)
    block = np.repeat(np.arange(30), 100)
    counts = rng.integers(1, 4, 3000)
    base = harmonic_estimate(ell, counts, block)
    shifted = harmonic_estimate(ell + 800.0, counts, block)
    with np.errstate(over="ignore"):
        assert math.isinf(np.exp(800.0 + ell).sum())  # the naive sum overflows
    assert shifted.ln_inv_z - base.ln_inv_z == pytest.approx(800.0, abs=1e-9)
    assert shifted.ln_z_err == pytest.approx(base.ln_z_err, rel=1e-9)
    assert shifted.kurtosis == pytest.approx(base.kurtosis, rel=1e-9)


def test_counts_equal_repeated_rows():
    """Integer weights give the same sum as repeating the rows."""
    rng = np.random.default_rng(3)
    ell = rng.normal(0.0, 0.4, 500)
    counts = rng.integers(1, 5, 500)
    block = np.repeat(np.arange(5), 100)
    a = harmonic_estimate(ell, counts, block)
    ones = np.ones(counts.sum(), int)
    b = harmonic_estimate(np.repeat(ell, counts), ones, np.repeat(block, counts))
    assert a.ln_inv_z == pytest.approx(b.ln_inv_z, abs=1e-12)
    assert a.ln_z_err == pytest.approx(b.ln_z_err, rel=1e-10)
    assert a.n_samples == b.n_samples == counts.sum()


def test_error_is_calibrated_with_exact_phi():
    """Exact phi = N(mu, T Sigma) on exact posterior samples: (ln Z_hat - ln Z) / sigma ~ N(0, 1).

    300 independent repetitions: the mean z is 0 within 4 standard errors and the variance
    of z is 1 within the 4-sigma range of a chi^2 with 300 degrees of freedom.
    """
    rng = np.random.default_rng(4)
    dim, n, temperature, ln_z = 5, 2000, 0.8, -3.7
    cov = np.diag(np.linspace(0.5, 2.0, dim))
    mean = np.linspace(-1, 1, dim)
    post = multivariate_normal(mean, cov)
    phi = multivariate_normal(mean, temperature * cov)
    z = []
    for _ in range(300):
        theta = post.rvs(n, random_state=rng)
        ell = phi.logpdf(theta) - (post.logpdf(theta) + ln_z)
        est = harmonic_estimate(ell, np.ones(n, int), np.repeat(np.arange(20), n // 20))
        z.append((-est.ln_inv_z - ln_z) / est.ln_z_err)
    z = np.array(z)
    assert abs(z.mean()) < 4 / math.sqrt(len(z))
    assert 1 - 4 * math.sqrt(2 / len(z)) < z.var() < 1 + 4 * math.sqrt(2 / len(z))


def test_blocks_cut_chains_never_span_them():
    counts = [np.ones(1000, int), np.ones(250, int), np.full(300, 2)]
    block = make_blocks(counts, min_blocks=12, min_block_size=100)
    edges = np.cumsum([0] + [len(c) for c in counts])
    # each chain's rows have their own block ids, in increasing runs
    ids = [set(block[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    assert all(not (ids[i] & ids[j]) for i in range(3) for j in range(i + 1, 3))
    assert np.all(np.diff(block) >= 0)
    # 4 per chain asked; the 250-sample chain allows only 2 of >= 100
    assert [len(s) for s in ids] == [4, 2, 4]
    weights = np.bincount(block, weights=np.concatenate(counts))
    assert weights.min() >= 100
    # enough chains: one block each
    assert np.array_equal(make_blocks(counts, min_blocks=3), np.repeat([0, 1, 2], [1000, 250, 300]))
