"""cosmoemu.sbi on the linear Gaussian model (analytic ln Z): NLE evidence, model comparison,
NPE/NRE refusals and their posteriors, files, input checks.

D = 2, one NLE per prior (2,000 simulations, 4 networks), two observed data sets; the D = 5,
10 calibration is ``benchmarks/sbi_evidence.py``.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import cosmoemu
from cosmoemu import sbi
from cosmoemu._errors import ConfigError
from cosmoemu.evidence import EvidenceWarning

D = 2
N_SIMS = 2000
FAST = {"ensemble": 4}


def _observed(sigma: float, n: int, seed: int = 123) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return sigma * rng.standard_normal((n, D)) + rng.standard_normal((n, D))


@pytest.fixture(scope="module")
def nle():
    out = {}
    for sigma in (1.0, 10.0):
        theta, x = sbi.linear_gaussian_simulations(N_SIMS, D, sigma, seed=1)
        out[sigma] = sbi.train("nle", theta, x, sbi.linear_gaussian_prior(D, sigma), seed=0,
                               options=FAST)
    return out


@pytest.fixture(scope="module")
def results(nle):
    x_obs = _observed(1.0, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvidenceWarning)  # a passing run raises no warning
        return [(x, {s: sbi.evidence(nle[s], x, seed=i) for s in nle})
                for i, x in enumerate(x_obs)]


def test_nle_ln_z_matches_the_analytic_evidence(results):
    for x, res in results:
        for sigma, r in res.items():
            truth = float(sbi.linear_gaussian_ln_z(x, sigma))
            assert abs(r.ln_z - truth) < 3 * r.ln_z_err, (sigma, r.ln_z, truth, r.ln_z_err)
            assert abs(r.ln_z - truth) < 0.25
            assert 0 < r.ln_z_err < 0.2
            assert r.sampling_err < r.ln_z_err and r.estimator_err > 0
            assert len(r.member_ln_z) == 4 and r.n_simulations == N_SIMS


def test_bayes_factor_matches_the_analytic_one(results):
    """ln B(σ_p = 1 vs 10) from two NLEs, each trained on its own model's simulations."""
    for x, res in results:
        b = cosmoemu.bayes_factor(res[1.0], res[10.0])
        truth = float(sbi.linear_gaussian_ln_z(x, 1.0) - sbi.linear_gaussian_ln_z(x, 10.0))
        assert abs(b.ln_b - truth) < 3 * b.ln_b_err + 1e-9
        assert b.ln_b > 1.5  # data from the σ_p = 1 model: it wins (ln B ≈ 3-4 here)


def test_nle_chains_are_the_posterior(results):
    x, res = results[0]
    chains = res[1.0].sample.chains
    assert chains.names == ("theta_1", "theta_2")
    draws = np.concatenate(chains.samples)
    # exact posterior: N(x/2, 1/2) per coordinate
    np.testing.assert_allclose(draws.mean(0), x / 2, atol=0.1)
    np.testing.assert_allclose(draws.std(0), np.sqrt(0.5), rtol=0.1)
    again = cosmoemu.evidence(chains, seed=0)  # the one entry point, on the chains
    assert again.ln_z == pytest.approx(res[1.0].ln_z, abs=1e-9)


def test_save_load_round_trip(nle, tmp_path):
    est = nle[1.0]
    npz, js = sbi.save_estimator(est, tmp_path / "nle")
    meta = json.loads(js.read_text())
    assert meta["seed"] == 0 and meta["n_simulations"] == N_SIMS and meta["members"] == 4
    assert meta["prior"] == sbi.linear_gaussian_prior(D, 1.0)
    assert meta["config"]["ensemble"] == 4 and meta["theta_dim"] == D == meta["x_dim"]
    # each member has its own linear stage, fitted on its own bootstrap resample
    reg = est.regression
    assert reg.coef.shape == (4, D, D) and reg.log_det.shape == (4,)
    assert np.ptp(reg.log_det) > 0 and np.ptp(reg.coef[:, 0, 0]) > 0
    back = sbi.load_estimator(tmp_path / "nle.json")
    np.testing.assert_array_equal(back.regression.coef, reg.coef)
    theta, x = sbi.linear_gaussian_simulations(50, D, 1.0, seed=5)
    np.testing.assert_array_equal(np.asarray(back.log_prob(theta, x)),
                                  np.asarray(est.log_prob(theta, x)))
    with np.load(npz, allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)
    npz.write_bytes(npz.read_bytes()[:-10] + b"0" * 10)
    with pytest.raises(sbi.EstimatorFileError, match="checksum"):
        sbi.load_estimator(tmp_path / "nle")


@pytest.fixture(scope="module")
def npe_nre():
    theta, x = sbi.linear_gaussian_simulations(N_SIMS, D, 1.0, seed=2)
    prior = sbi.linear_gaussian_prior(D, 1.0)
    return {m: sbi.train(m, theta, x, prior, seed=0, options={"ensemble": 1}) for m in
            ("npe", "nre")}


@pytest.mark.parametrize("method", ["npe", "nre"])
def test_npe_nre_refuse_the_evidence(npe_nre, method):
    with pytest.raises(ValueError, match=r"cannot give the model evidence on its own.*NLE.*q\(x"):
        sbi.evidence(npe_nre[method], np.zeros(D))


def test_npe_posterior(npe_nre):
    x = np.array([1.0, -2.0])
    chains = sbi.posterior(npe_nre["npe"], x, seed=0, n_samples=4000)
    draws = chains.samples[0]
    np.testing.assert_allclose(draws.mean(0), x / 2, atol=0.1)
    np.testing.assert_allclose(draws.std(0), np.sqrt(0.5), rtol=0.15)
    assert np.all(np.isnan(chains.minuslogpost[0]))  # no L·π from a posterior flow


def test_nre_learns_the_ratio(npe_nre):
    """ln r(x, θ) ≈ ln p(x|θ) − ln p(x), around the joint distribution's bulk."""
    theta, x = sbi.linear_gaussian_simulations(400, D, 1.0, seed=7)
    exact = (-0.5 * np.sum((x - theta) ** 2, 1) - D * 0.5 * np.log(2 * np.pi)
             - sbi.linear_gaussian_ln_z(x, 1.0))
    got = np.asarray(npe_nre["nre"].log_prob(theta, x), np.float64)
    assert np.median(np.abs(got - exact)) < 0.25
    assert np.corrcoef(got, exact)[0, 1] > 0.95


def test_input_checks():
    theta, x = sbi.linear_gaussian_simulations(600, D, 1.0, seed=3)
    prior = sbi.linear_gaussian_prior(D, 1.0)
    with pytest.raises(ConfigError, match="method"):
        sbi.train("abc", theta, x, prior)
    with pytest.raises(ValueError, match="3 columns"):
        sbi.train("nle", np.column_stack([theta, theta[:, 0]]), x, prior)
    with pytest.raises(ValueError, match="outside the prior"):
        sbi.train("nle", theta, x, {"a": {"min": 0, "max": 1}, "b": {"min": -9, "max": 9}})
    with pytest.raises(ValueError, match="same n"):
        sbi.train("nle", theta[:-1], x, prior)
    with pytest.raises(ConfigError, match="options"):
        sbi.train("nle", theta, x, prior, options={"wdith": 3})


def test_cli_posterior_then_evidence(nle, tmp_path):
    """`cosmoemu sbi posterior` writes GetDist-readable chains; `cosmoemu evidence` reads them."""
    from click.testing import CliRunner

    from cosmoemu.cli import main

    sbi.save_estimator(nle[1.0], tmp_path / "nle")
    (tmp_path / "nle.yaml").write_text(
        "method: nle\nprior: {theta: {shape: 2, prior: {dist: norm, loc: 0.0, scale: 1.0}}}\n"
        "output: nle\n")
    x = np.array([0.5, -1.0])
    np.savetxt(tmp_path / "obs.txt", x)
    runner = CliRunner()
    out = runner.invoke(main, ["sbi", "posterior", str(tmp_path / "nle.yaml"), "--observed",
                               str(tmp_path / "obs.txt")])
    assert out.exit_code == 0, out.output
    root = tmp_path / "nle.posterior"
    res = runner.invoke(main, ["evidence", str(root), "--no-progress", "--json",
                               str(tmp_path / "z.json")])
    assert res.exit_code == 0, res.output
    ln_z = json.loads((tmp_path / "z.json").read_text())["ln_z"]
    assert abs(ln_z - float(sbi.linear_gaussian_ln_z(x, 1.0))) < 0.25
    from getdist import loadMCSamples

    samples = loadMCSamples(str(root), settings={"ignore_rows": 0})
    np.testing.assert_allclose(samples.getMeans()[:2], x / 2, atol=0.15)
