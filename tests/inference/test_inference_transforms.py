"""Bijections and the posterior's change of variables against autodiff Jacobians."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu.inference import (
    Identity,
    LowerBound,
    Normal,
    Posterior,
    SoftInterval,
    Uniform,
    UpperBound,
)
from cosmoemu.likelihoods import GaussianLikelihood

BIJECTIONS = [Identity(), SoftInterval(-3.0, 5.0), SoftInterval(-3.0, 5.0, 30.0),
              SoftInterval(-3.0, 5.0, 0.2), LowerBound(1.5), UpperBound(-2.0)]


@pytest.mark.parametrize("bij", BIJECTIONS, ids=lambda b: type(b).__name__)
def test_log_det_jacobian_matches_autodiff(bij):
    with jax.enable_x64(True):
        u = jnp.linspace(-3.5, 5.5, 10)
        want = jnp.log(jnp.abs(jax.vmap(jax.grad(bij.forward))(u)))
        np.testing.assert_allclose(bij.log_det_jacobian(u), want, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bij.inverse(bij.forward(u)), u, rtol=1e-9, atol=1e-9)


def test_soft_interval_stays_inside_and_is_identity_inside():
    bij = SoftInterval(0.02, 0.12, 0.002)
    x = bij.forward(jnp.array([-200.0, -30.0, 30.0, 200.0], jnp.float32))
    assert bool(jnp.all((x >= 0.02) & (x <= 0.12)))
    assert bool(jnp.all(jnp.isfinite(bij.log_det_jacobian(jnp.array([-200.0, 200.0])))))
    # far from the walls (in units of the softness) the map is the identity
    u = jnp.array([0.05, 0.07, 0.09])
    np.testing.assert_allclose(bij.forward(u), u, rtol=1e-5)
    np.testing.assert_allclose(bij.log_det_jacobian(u), 0.0, atol=1e-5)
    # large softness: the logistic map of width s, x = lo + (hi-lo)·σ((u - c)/s)
    wide = SoftInterval(0.0, 1.0, 50.0)
    u = jnp.array([-40.0, 0.5, 41.0])
    c = 0.5  # the centre
    want = jax.nn.sigmoid((u - c) / 50.0)
    np.testing.assert_allclose(wide.forward(u), want, atol=0.005)


def test_posterior_jacobian_matches_jax_jacobian():
    with jax.enable_x64(True):
        priors = {"a": Uniform(-1.0, 2.0), "b": Normal(0.0, 1.0, lo=0.0),
                  "c": Normal(1.0, 2.0), "d": Normal(0.0, 1.0, -1.0, 1.0),
                  "e": Normal(0.0, 1.0, hi=3.0)}
        lik = GaussianLikelihood(list(priors), np.zeros(5), np.eye(5))
        post = Posterior(priors, {"g": lik}).with_softness([0.3, 1.0, 1.0, 0.2, 1.0])
        u = jnp.array([0.3, -0.7, 1.2, 0.5, 2.0])
        jac = jax.jacobian(post.constrain)(u)
        assert float(post.log_det_jacobian(u)) == pytest.approx(
            float(jnp.linalg.slogdet(jac)[1]), rel=1e-12)
        x = post.constrain(u)
        want = post.logpost(x) + jnp.linalg.slogdet(jac)[1]
        assert float(post.logdensity(u)) == pytest.approx(float(want), rel=1e-12)
        # bounds respected: b > 0, d in [-1, 1], e < 3
        assert float(x[1]) > 0 and -1 < float(x[3]) < 1 and float(x[4]) < 3
        np.testing.assert_allclose(post.unconstrain(x), u, rtol=1e-9)
        far = jnp.array([30.0, -30.0, 0.0, 30.0, 5.0])
        assert math.isfinite(float(post.logdensity(far)))
        # the posterior's vectorised prior equals the sum of the 1-d priors
        want = sum(float(p.logpdf(x[i])) for i, p in enumerate(priors.values()))
        assert float(post.logprior(x)) == pytest.approx(want, rel=1e-12)
