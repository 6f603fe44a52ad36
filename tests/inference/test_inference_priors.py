"""Priors are normalised densities (checked against scipy and by quadrature); the open set."""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from cosmoemu._config import get
from cosmoemu._errors import ConfigError
from cosmoemu.inference import (
    PRIORS,
    Independent,
    LogUniform,
    MvNormal,
    Normal,
    ScalarPrior,
    Uniform,
    load_run_config,
    prior_from_config,
    register_prior,
)


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


# --------------------------------------------------------------------------- the open set
X64_POINTS = np.linspace(-3.0, 12.0, 301)


@pytest.mark.parametrize(
    ("prior", "ref"),
    [
        (Uniform(-1.5, 4.0), stats.uniform(-1.5, 5.5)),
        (Normal(0.3, 1.7), stats.norm(0.3, 1.7)),
        (Normal(0.3, 1.7, lo=-1.0, hi=2.5),
         stats.truncnorm((-1.0 - 0.3) / 1.7, (2.5 - 0.3) / 1.7, loc=0.3, scale=1.7)),
        (Normal(0.3, 1.7, lo=1.0), stats.truncnorm((1.0 - 0.3) / 1.7, np.inf, loc=0.3, scale=1.7)),
        (Normal(0.3, 1.7, hi=-2.0),
         stats.truncnorm(-np.inf, (-2.0 - 0.3) / 1.7, loc=0.3, scale=1.7)),
        (LogUniform(0.01, 10.0), stats.loguniform(0.01, 10.0)),
    ],
    ids=["uniform", "norm", "truncnorm", "truncnorm-lower", "truncnorm-upper", "loguniform"],
)
def test_scalar_priors_match_scipy(prior, ref):
    """logpdf at many points, inside and outside the support (−inf there); normalised; the
    width and the sampler against scipy's moments."""
    with jax.enable_x64(True):
        got = np.asarray(prior.logpdf(X64_POINTS))
        want = ref.logpdf(X64_POINTS)
        inside = np.isfinite(want)
        lo, hi = prior.support
        assert inside.sum() > 15 and (~inside).any() == (math.isfinite(lo) or math.isfinite(hi))
        np.testing.assert_allclose(got[inside], want[inside], rtol=1e-10, atol=1e-12)
        assert np.all(got[~inside] == -np.inf)
        assert (lo, hi) == pytest.approx(tuple(ref.support()), rel=1e-12)
        assert prior.width == pytest.approx(ref.std(), rel=1e-10)
        assert lo <= prior.centre <= hi
        # gradients stay finite, also outside the support
        assert np.all(np.isfinite(np.asarray(jax.vmap(jax.grad(prior.logpdf))(X64_POINTS))))
        # normalised (for the finite intervals; the others are covered by scipy's logpdf)
        if math.isfinite(lo) and math.isfinite(hi):
            total, _ = integrate.quad(lambda t: math.exp(float(prior.logpdf(t))), lo, hi,
                                      limit=200)
            assert total == pytest.approx(1.0, abs=1e-8)
        draws = np.asarray(prior.sample(jax.random.key(3), (4000,)))
        assert np.all((draws >= lo) & (draws <= hi))
        assert stats.kstest(draws, ref.cdf).pvalue > 1e-3


def test_mvnorm_matches_scipy_and_samples_its_covariance():
    mean = np.array([0.1, -0.3, 2.0])
    a = np.array([[1.0, 0.4, -0.2], [0.0, 0.5, 0.3], [0.0, 0.0, 0.2]])
    cov = a @ a.T
    with jax.enable_x64(True):
        prior = MvNormal(mean, cov)
        x = np.random.default_rng(0).normal(size=(50, 3)) * 2 + mean
        np.testing.assert_allclose(prior.logpdf(x), stats.multivariate_normal(mean, cov).logpdf(x),
                                   rtol=1e-10)
        assert prior.size == 3 and prior.centre == pytest.approx(mean)
        np.testing.assert_allclose(prior.width, np.sqrt(np.diag(cov)), rtol=1e-12)
        marg = prior.marginals()
        assert [m.support for m in marg] == [(-math.inf, math.inf)] * 3
        n = 20000
        draws = np.asarray(prior.sample(jax.random.key(1), (n,)))
        assert draws.shape == (n, 3)
        # z-scores of the sample mean and covariance (independent draws)
        z_mean = (draws.mean(0) - mean) / np.sqrt(np.diag(cov) / n)
        assert np.all(np.abs(z_mean) < 4.5)
        d = draws - mean
        prod = d[:, :, None] * d[:, None, :]
        z_cov = (prod.mean(0) - cov) / (prod.std(0) / np.sqrt(n))
        assert np.all(np.abs(z_cov) < 4.5)


def test_iid_block_is_a_product():
    with jax.enable_x64(True):
        block = Independent.iid(Normal(0.0, 0.02, lo=-0.05), 4)
        x = np.random.default_rng(1).normal(0, 0.03, size=(20, 4))
        want = stats.truncnorm(-2.5, np.inf, scale=0.02).logpdf(x).sum(-1)
        np.testing.assert_allclose(block.logpdf(x), want, rtol=1e-10)
        assert block.sample(jax.random.key(0), (7,)).shape == (7, 4)


def test_prior_from_config_new_kinds_and_blocks(tmp_path):
    p = prior_from_config({"dist": "loguniform", "min": 1e-3, "max": 1.0}, "params.x.prior")
    assert isinstance(p, LogUniform) and p.support == (1e-3, 1.0)
    p = prior_from_config({"dist": "norm", "loc": 0.0, "scale": 0.02}, "params.m.prior", size=5)
    assert isinstance(p, Independent) and p.size == 5 and p.priors[0] == Normal(0.0, 0.02)
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    np.savetxt(tmp_path / "cov.txt", cov)
    np.save(tmp_path / "mean.npy", np.array([1.0, 2.0]))
    for mean, c in (([1.0, 2.0], cov.tolist()), ("mean.npy", "cov.txt"),
                    (str(tmp_path / "mean.npy"), str(tmp_path / "cov.txt"))):
        p = prior_from_config({"dist": "mvnorm", "mean": mean, "cov": c}, "params.dz.prior",
                              size=2, base_dir=tmp_path)
        assert isinstance(p, MvNormal)
        np.testing.assert_allclose(p.cov, cov, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(p.mean), [1.0, 2.0])
    p = prior_from_config({"dist": "mvnorm", "mean": 0, "cov": "cov.txt"}, "params.dz.prior",
                          size=2, base_dir=tmp_path)
    assert np.all(np.asarray(p.mean) == 0)


@pytest.mark.parametrize(
    ("cfg", "size", "match"),
    [
        ({"dist": "loguniform", "min": 0.0, "max": 1.0}, None, r"prior\.min.*min > 0"),
        ({"dist": "loguniform", "min": 0.1}, None, r"prior\.max.*finite min and max"),
        ({"dist": "mvnorm", "mean": [0, 0, 0], "cov": [[1, 0], [0, 1]]}, 3,
         r"prior\.cov.*shape \(2, 2\), expected \(3, 3\)"),
        ({"dist": "mvnorm", "mean": [0, 0], "cov": [[1, 0], [0, 1]]}, 3,
         r"prior\.mean.*2 values for a block of shape 3"),
        ({"dist": "mvnorm", "mean": [0, 0], "cov": [[1, 0.5], [0.4, 1]]}, 2,
         r"prior\.cov.*not symmetric"),
        ({"dist": "mvnorm", "mean": [0, 0], "cov": [[1, 2], [2, 1]]}, 2,
         r"prior\.cov.*not positive definite"),
        ({"dist": "mvnorm", "mean": [0, 0], "cov": "nope.txt"}, 2,
         r"prior\.cov.*nope\.txt' does not exist"),
        ({"dist": "mvnorm", "mean": [0, 0]}, 2, r"prior\.cov.*required"),
        ({"dist": "mvnorm", "mean": [0, 0], "cov": [1, 1]}, 2, r"prior\.cov.*2-d array"),
        ({"dist": "mvnorm", "mean": [0, 0], "cov": [[1, 0], [0, 1]], "loc": 0}, 2,
         r"prior\.loc.*unknown field"),
        ({"dist": "mvnorm", "mean": [0, 0], "cov": [[1, 0], [0, 1]]}, 3,
         r"prior\.mean.*2 values for a block of shape 3"),
        ({"dist": "mvnormal", "mean": [0], "cov": [[1]]}, 1, r"prior\.dist.*did you mean 'mvnorm'"),
    ],
)
def test_prior_config_errors_name_the_field(cfg, size, match, tmp_path):
    with pytest.raises(ConfigError, match=r"params\.dz\." + match):
        prior_from_config(cfg, "params.dz.prior", size=size, base_dir=tmp_path)


def test_a_new_kind_plugs_in_through_the_registry():
    """A Laplace prior registered from outside works in a config and in the posterior's sum."""

    class Laplace(ScalarPrior):
        loc: float = eqx.field(static=True)
        b: float = eqx.field(static=True)
        table: ClassVar[tuple[str, ...]] = ("loc", "b")

        @staticmethod
        def density(t, x):
            return -jnp.abs(x - t["loc"]) / t["b"] - jnp.log(2 * t["b"])

        support = (-math.inf, math.inf)
        centre = property(lambda self: self.loc)
        width = property(lambda self: math.sqrt(2) * self.b)

        @classmethod
        def from_config(cls, cfg, where, *, size=None, base_dir=None):
            return cls(get(cfg, "loc", float, where=where), get(cfg, "b", float, where=where))

    register_prior("laplace_test")(Laplace)
    try:
        with jax.enable_x64(True):
            cfg = {
                "likelihood": {"g": {"type": "gaussian", "params": ["a", "c_1", "c_2"],
                                     "mean": [0.0, 0.0, 0.0], "cov": [1.0, 1.0, 1.0]}},
                "params": {"a": {"prior": {"dist": "laplace_test", "loc": 0.5, "b": 2.0}},
                           "c": {"shape": 2, "prior": {"dist": "laplace_test", "loc": -1.0,
                                                       "b": 0.5}}},
            }
            post = load_run_config(cfg).posterior
            x = np.array([[0.1, -0.7, 3.0], [4.0, 0.0, -2.0]])
            want = (stats.laplace(0.5, 2.0).logpdf(x[:, 0])
                    + stats.laplace(-1.0, 0.5).logpdf(x[:, 1:]).sum(-1))
            np.testing.assert_allclose(post.logprior(x), want, rtol=1e-12)
            np.testing.assert_allclose(post.coordinate_scale(), [2.0**1.5, 0.5**0.5, 0.5**0.5])
    finally:
        PRIORS.pop("laplace_test")
