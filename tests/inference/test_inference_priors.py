"""Priors are normalised densities (checked against scipy and by quadrature)."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from scipy import integrate, stats

from cosmoemu._errors import ConfigError
from cosmoemu.inference import Normal, Uniform, prior_from_config


def test_truncated_normal_matches_scipy_and_integrates_to_one():
    with jax.enable_x64(True):
        prior = Normal(0.0544, 0.0073, 0.02, 0.12)
        x = np.linspace(0.021, 0.119, 7)
        a, b = (0.02 - 0.0544) / 0.0073, (0.12 - 0.0544) / 0.0073
        want = stats.truncnorm(a, b, loc=0.0544, scale=0.0073).logpdf(x)
        np.testing.assert_allclose(prior.logpdf(x), want, rtol=1e-10)
        total, _ = integrate.quad(lambda t: math.exp(float(prior.logpdf(t))), 0.02, 0.12,
                                  points=[0.0544])
        assert total == pytest.approx(1.0, abs=1e-8)
        assert float(prior.logpdf(0.019)) == -math.inf


def test_far_tail_truncation_is_normalised():
    """Truncation far in a tail: log(Φ(b) − Φ(a)) without cancellation."""
    with jax.enable_x64(True):
        prior = Normal(0.0, 1.0, 9.0, 10.0)
        total, _ = integrate.quad(lambda t: math.exp(float(prior.logpdf(t))), 9.0, 10.0)
        assert total == pytest.approx(1.0, rel=1e-6)


def test_uniform():
    prior = Uniform(2.7, 3.3)
    assert float(prior.logpdf(3.0)) == pytest.approx(-math.log(0.6), rel=1e-6)
    assert float(prior.logpdf(3.31)) == -math.inf
    assert prior.centre == pytest.approx(3.0)


def test_prior_from_config_and_errors():
    assert isinstance(prior_from_config({"min": 0, "max": 1}, "params.x.prior"), Uniform)
    p = prior_from_config({"dist": "norm", "loc": 1.0, "scale": 0.0025}, "params.A.prior")
    assert isinstance(p, Normal) and p.support == (-math.inf, math.inf)
    with pytest.raises(ConfigError, match=r"params\.x\.prior\.dist.*'gauss'.*allowed values"):
        prior_from_config({"dist": "gauss", "loc": 0, "scale": 1}, "params.x.prior")
    with pytest.raises(ConfigError, match=r"params\.x\.prior\.max.*finite min and max"):
        prior_from_config({"min": 0}, "params.x.prior")
    with pytest.raises(ConfigError, match=r"params\.x\.prior\.scale.*required"):
        prior_from_config({"dist": "norm", "loc": 0}, "params.x.prior")
    with pytest.raises(ConfigError, match=r"params\.x\.prior.*scale > 0"):
        prior_from_config({"dist": "norm", "loc": 0, "scale": -1}, "params.x.prior")
    with pytest.raises(ConfigError, match=r"params\.x\.prior\.mx.*did you mean 'max'"):
        prior_from_config({"min": 0, "mx": 1}, "params.x.prior")
