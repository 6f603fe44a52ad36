"""Vector parameter blocks: names, labels, the values likelihoods see, the joint log-prior,
config files and errors, and NUTS recovering a correlated multivariate-normal prior block."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from scipy import stats

from cosmoemu._errors import ConfigError
from cosmoemu.inference import (
    Independent,
    LogUniform,
    MvNormal,
    Normal,
    Posterior,
    Uniform,
    block_names,
    effective_sample_size,
    load_run_config,
    read_chains,
    sample_posterior,
    write_chains,
)
from cosmoemu.likelihoods import GaussianLikelihood

DZ_MEAN = np.array([0.01, -0.02, 0.0])
DZ_COV = np.array([[4.0, 1.5, 0.3], [1.5, 2.0, -0.4], [0.3, -0.4, 1.0]]) * 1e-4


class Probe(eqx.Module):
    """A likelihood reading a whole block, one element of another and a fixed block."""

    inputs: tuple[str, ...] = eqx.field(static=True, default=("dz", "m_2", "f", "a"))

    def from_values(self, values):
        w = jnp.asarray([1.0, 2.0, 3.0], values["dz"].dtype)
        return (jnp.sum(w * values["dz"]) + 10 * values["m_2"] + jnp.sum(values["f"] ** 2)
                - values["a"] ** 2)


def mixed_posterior(**kwargs) -> Posterior:
    priors = {
        "a": Normal(0.0, 1.0, lo=-2.0, hi=3.0),
        "dz": MvNormal(DZ_MEAN, DZ_COV),
        "s": LogUniform(1e-3, 1.0),
        "m": Independent.iid(Normal(0.0, 0.02), 2),
        "b": Uniform(-1.0, 1.0),
    }
    lik = GaussianLikelihood(["s", "b", "m_1"], [0.1, 0.0, 0.0], [1.0, 1.0, 1.0])
    return Posterior(priors, {"probe": Probe(), "g": lik}, fixed={"f": [1.0, 2.0]},
                     labels={"dz": r"\delta z", "m_2": r"m_\mathrm{two}", "m": "m"}, **kwargs)


def test_block_names_labels_and_values():
    assert block_names("dz", 3) == ("dz_1", "dz_2", "dz_3")
    post = mixed_posterior()
    assert post.sampled == ("a", "dz_1", "dz_2", "dz_3", "s", "m_1", "m_2", "b")
    assert post.blocks == (("dz", ("dz_1", "dz_2", "dz_3")), ("m", ("m_1", "m_2")),
                           ("f", ("f_1", "f_2")))
    assert dict(post.fixed) == {"f_1": 1.0, "f_2": 2.0}
    labels = dict(post.labels)
    assert labels["dz_2"] == r"\delta z_{2}"
    assert labels["m_1"] == "m_{1}" and labels["m_2"] == r"m_\mathrm{two}"
    assert post.label("s") == r"\mathrm{s}"
    # the likelihood reads the block as a vector and its elements by name
    with jax.enable_x64(True):
        x = np.array([0.5, 0.01, 0.02, 0.03, 0.2, 0.01, -0.01, 0.3])
        probe = 0.01 + 2 * 0.02 + 3 * 0.03 + 10 * (-0.01) + 1.0 + 4.0 - 0.25
        gauss = stats.multivariate_normal([0.1, 0.0, 0.0], np.eye(3)).logpdf([0.2, 0.3, 0.01])
        assert float(post.loglike(jnp.asarray(x))) == pytest.approx(probe + gauss, rel=1e-12)


def test_joint_log_prior_of_mixed_kinds_matches_scipy():
    """Scalar kinds (interleaved with the block) and the mvnorm block sum to scipy's value."""
    post = mixed_posterior()
    rng = np.random.default_rng(2)
    n = 40
    x = np.column_stack([
        rng.uniform(-2.5, 3.5, n), rng.multivariate_normal(DZ_MEAN, 4 * DZ_COV, n),
        rng.uniform(-0.1, 1.1, n), rng.normal(0, 0.03, (n, 2)), rng.uniform(-1.2, 1.2, n),
    ])
    want = (stats.truncnorm(-2.0, 3.0).logpdf(x[:, 0])
            + stats.multivariate_normal(DZ_MEAN, DZ_COV).logpdf(x[:, 1:4])
            + stats.loguniform(1e-3, 1.0).logpdf(x[:, 4])
            + stats.norm(0, 0.02).logpdf(x[:, 5:7]).sum(-1)
            + stats.uniform(-1.0, 2.0).logpdf(x[:, 7]))
    assert np.isfinite(want).sum() > 10 and (~np.isfinite(want)).sum() > 10
    with jax.enable_x64(True):
        got = np.asarray(post.logprior(jnp.asarray(x)))
        np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-10)
        assert np.all(got[~np.isfinite(want)] == -np.inf)
        # the mvnorm block is unbounded (identity map), its marginals give centre and scale
        assert [p.support for p in post.priors[1:4]] == [(-math.inf, math.inf)] * 3
        np.testing.assert_allclose(post.reference_point()[1:4], DZ_MEAN)
        np.testing.assert_allclose(post.coordinate_scale()[1:4], np.sqrt(np.diag(DZ_COV)))
        u = jnp.asarray(rng.normal(size=8))
        np.testing.assert_allclose(post.constrain(u)[1:4], u[1:4], rtol=1e-15)
    draws = np.asarray(post.sample_prior(jax.random.key(0), 20000))
    d = draws[:, 1:4] - DZ_MEAN
    prod = d[:, :, None] * d[:, None, :]
    assert np.all(np.abs((prod.mean(0) - DZ_COV) / (prod.std(0) / np.sqrt(20000))) < 4.5)
    assert np.all(np.isfinite(np.asarray(jax.vmap(post.logprior)(jnp.asarray(draws)))))


def write_block_config(tmp_path, **extra) -> dict:
    (tmp_path / "data").mkdir(exist_ok=True)
    np.savetxt(tmp_path / "data" / "dz_cov.txt", DZ_COV)
    cfg = {
        "likelihood": {"g": {"type": "gaussian",
                             "params": ["dz_1", "dz_2", "dz_3", "m_1", "m_2", "f_1", "f_2"],
                             "mean": [0.0] * 7, "cov": [1.0] * 7}},
        "params": {
            "dz": {"shape": 3, "prior": {"dist": "mvnorm", "mean": DZ_MEAN.tolist(),
                                         "cov": "data/dz_cov.txt"},
                   "latex": r"\delta z", "ref": [0.0, 0.0, 0.001]},
            "m": {"shape": 2, "prior": {"dist": "norm", "loc": 0.0, "scale": 0.02},
                  "ref": 0.001},
            "f": {"shape": 2, "value": 0.5},  # a fixed block, the number broadcast
        },
    }
    for key, value in extra.items():
        cfg["params"][key] = value
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    return cfg


def test_block_config_reads_files_relative_to_the_config(tmp_path, monkeypatch):
    write_block_config(tmp_path)
    monkeypatch.chdir("/")  # relative paths are read from the config's directory, not the cwd
    run = load_run_config(tmp_path / "run.yaml")
    post = run.posterior
    assert post.sampled == ("dz_1", "dz_2", "dz_3", "m_1", "m_2")
    assert run.reference == {"dz_1": 0.0, "dz_2": 0.0, "dz_3": 0.001, "m_1": 0.001,
                             "m_2": 0.001}
    assert dict(post.labels)["dz_3"] == r"\delta z_{3}"
    with jax.enable_x64(True):
        x = np.array([0.01, 0.0, -0.01, 0.02, 0.01])
        want = (stats.multivariate_normal(DZ_MEAN, DZ_COV).logpdf(x[:3])
                + stats.norm(0, 0.02).logpdf(x[3:]).sum())
        assert float(post.logprior(jnp.asarray(x))) == pytest.approx(want, rel=1e-12)
        like = stats.multivariate_normal(np.zeros(7)).logpdf(np.append(x, [0.5, 0.5]))
        assert float(post.loglike(jnp.asarray(x))) == pytest.approx(like, rel=1e-12)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"dz": {"shape": 4, "prior": {"dist": "mvnorm", "mean": [0, 0, 0],
                                       "cov": "data/dz_cov.txt"}}},
         r"params\.dz\.prior\.mean.*3 values for a block of shape 4"),
        ({"dz": {"shape": 3, "prior": {"dist": "mvnorm", "mean": [0, 0, 0],
                                       "cov": "data/other.txt"}}},
         r"params\.dz\.prior\.cov.*other\.txt' does not exist"),
        ({"dz": {"shape": 0, "prior": {"min": 0, "max": 1}}}, r"params\.dz\.shape.*positive"),
        ({"dz": {"shape": [2, 3], "prior": {"min": 0, "max": 1}}}, r"params\.dz\.shape"),
        ({"f": {"shape": 2, "value": [1.0, 2.0, 3.0]}}, r"params\.f\.value.*2 numbers"),
        ({"m": {"shape": 2, "prior": {"min": -1, "max": 1}, "ref": [0.0]}},
         r"params\.m\.ref.*2 numbers"),
        ({"m": {"shape": 2, "prior": {"min": -1, "max": 1}, "ref": [0.0, 2.0]}},
         r"params\.m\.ref.*2\.0 \(m_2\) is outside the prior"),
        ({"dz_1": {"prior": {"min": -1, "max": 1}}}, r"params\.dz.*'dz_1' clashes"),
        ({"dz": {"shape": 3, "prior": {"dist": "mvnorm", "mean": [0, 0, 0],
                                       "cov": [[1, 0, 0], [0, 1, 0], [0, 0, -1]]}}},
         r"params\.dz\.prior\.cov.*not positive definite"),
    ],
)
def test_block_config_errors_name_the_field(tmp_path, extra, match):
    write_block_config(tmp_path, **extra)
    with pytest.raises(ConfigError, match=match):
        load_run_config(tmp_path / "run.yaml")


# --------------------------------------------------------------------------- sampling
CORR_MEAN = np.array([0.3, -1.0])
CORR_COV = np.array([[0.04, 0.054], [0.054, 0.09]])  # correlation 0.9
WIDE = 1e4  # the likelihood's variance relative to the prior's: (nearly) flat


@pytest.fixture(scope="module")
def mvn_run(tmp_path_factory):
    """NUTS, through a YAML config, on a 2-d posterior whose information is the mvnorm block."""
    tmp = tmp_path_factory.mktemp("mvn")
    np.save(tmp / "mean.npy", CORR_MEAN)
    np.savetxt(tmp / "cov.txt", CORR_COV)
    cfg = {
        "likelihood": {"flat": {"type": "gaussian", "params": ["dz_1", "dz_2"],
                                "mean": [0.0, 0.0], "cov": (WIDE * np.diag(CORR_COV)).tolist()}},
        "params": {"dz": {"shape": 2, "latex": r"\delta z",
                          "prior": {"dist": "mvnorm", "mean": "mean.npy", "cov": "cov.txt"}}},
        "sampler": {"nuts": {"chains": 4, "seed": 3, "target_ess": 1000}},
    }
    (tmp / "mvn.yaml").write_text(yaml.safe_dump(cfg))
    run = load_run_config(tmp / "mvn.yaml")
    result = sample_posterior(run.posterior, jax.random.key(run.seed), run.nuts, progress=False)
    return run, result


def exact_moments():
    """Prior N(m, C) times the wide likelihood N(0; x, L): precision C⁻¹ + L⁻¹."""
    prec_l = np.linalg.inv(WIDE * np.diag(np.diag(CORR_COV)))
    cov = np.linalg.inv(np.linalg.inv(CORR_COV) + prec_l)
    return cov @ np.linalg.solve(CORR_COV, CORR_MEAN), cov


def test_nuts_recovers_the_mvnorm_prior_block(mvn_run):
    _, result = mvn_run
    assert result.converged, result.nuts.stop_reason
    assert result.divergences == 0
    mean, cov = exact_moments()
    assert np.allclose(cov, CORR_COV, rtol=1e-3)  # the posterior is the prior to 0.1 %
    x = np.stack(result.chains.samples)  # (chains, draws, 2): NUTS chains have equal length
    for i in range(2):
        ess = effective_sample_size(x[..., i])
        assert ess >= 1000
        z = (x[..., i].mean() - mean[i]) / math.sqrt(cov[i, i] / ess)
        assert abs(z) < 4.5, (i, z)
    # every covariance entry: the mean of (x_i − μ_i)(x_j − μ_j), with its own ESS
    for i, j in ((0, 0), (1, 1), (0, 1)):
        y = (x[..., i] - mean[i]) * (x[..., j] - mean[j])
        ess = effective_sample_size(y)
        z = (y.mean() - cov[i, j]) / (y.std() / math.sqrt(ess))
        assert abs(z) < 4.5, ((i, j), y.mean(), cov[i, j], z)


def test_block_chains_have_element_names_and_getdist_reads_them(mvn_run, tmp_path):
    from getdist import loadMCSamples

    run, result = mvn_run
    root = tmp_path / "mvn"
    write_chains(root, result.chains, run.config)
    lines = (tmp_path / "mvn.paramnames").read_text().splitlines()
    assert lines == [r"dz_1	\delta z_{1}", r"dz_2	\delta z_{2}"]
    assert read_chains(root).names == ("dz_1", "dz_2")
    gd = loadMCSamples(str(root), settings={"ignore_rows": 0})
    names = gd.getParamNames()
    assert [p.name for p in names.names] == ["dz_1", "dz_2"]
    assert names.parWithName("dz_2").label == r"\delta z_{2}"
    corr = gd.getCorrelationMatrix()[0, 1]
    assert corr == pytest.approx(0.9, abs=0.03)
