"""The Gaussian test likelihood against scipy."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy import stats

from cosmoemu.likelihoods import GaussianLikelihood


def test_matches_scipy_multivariate_normal():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + 0.5 * np.eye(3)
    mean = np.array([1.0, -2.0, 0.3])
    x = rng.normal(size=(5, 3))
    with jax.enable_x64(True):
        lik = GaussianLikelihood(["a", "b", "c"], mean, cov)
        got = np.asarray(lik(x))
        named = float(lik.from_values({"a": x[0, 0], "b": x[0, 1], "c": x[0, 2]}))
    want = stats.multivariate_normal(mean, cov).logpdf(x)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert named == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(lik.cov, cov, rtol=1e-10)


def test_diagonal_cov_and_bad_input():
    lik = GaussianLikelihood(["a", "b"], [0.0, 0.0], [1.0, 4.0])
    assert float(lik([1.0, 2.0])) == pytest.approx(
        stats.norm(0, 1).logpdf(1.0) + stats.norm(0, 2).logpdf(2.0), rel=1e-6
    )
    with pytest.raises(ValueError, match="not positive definite"):
        GaussianLikelihood(["a", "b"], [0, 0], [[1, 2], [2, 1]])
    with pytest.raises(ValueError, match="mean has 3 values for 2 params"):
        GaussianLikelihood(["a", "b"], [0, 0, 0], [1, 1])
    with pytest.raises(KeyError, match="needs parameters"):
        lik.from_values({"a": 1.0})
