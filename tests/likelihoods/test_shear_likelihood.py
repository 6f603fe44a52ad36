"""The tomographic shear C_ℓ likelihood: the Euclid-like config (37 parameters), its χ² against
a direct computation with the CCL fixture's covariance, box and config errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cosmoemu
from cosmoemu._errors import ConfigError
from cosmoemu.inference._from_config import load_run_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "euclid_like_shear.yaml"
FIXTURE = ROOT / "tests" / "cosmology" / "fixtures" / "ccl_shear_euclid.npz"


@pytest.fixture(scope="module")
def run():
    return load_run_config(CONFIG)


def test_euclid_like_config_has_37_parameters(run):
    post = run.posterior
    assert post.ndim == 37
    assert {f"A_IA_{i}" for i in range(1, 11)} <= set(post.sampled)
    assert post.derived == ("Omega_m",)


def test_chi2_against_the_fixture_covariance(run):
    """−2 ln L at a shifted point equals the χ² of (model − mock) with the fixture's covariance
    blocks (computed from CCL's spectra at the same fiducial: agree to 1 %)."""
    post = run.posterior
    lik = post.likelihoods[0]
    fx = np.load(FIXTURE)
    np.testing.assert_allclose(lik.shear.ell, fx["ell"], rtol=1e-12)
    np.testing.assert_allclose(lik.shear.nz_table, fx["nz"], rtol=1e-10, atol=1e-12)
    point = dict(run.reference)
    point.update({"omega_cdm": 0.1215, "ln10^{10}A_s": 3.04, "A_IA_3": 0.9, "m_2": 0.015})
    x = jnp.asarray([point[n] for n in post.sampled])
    ours = -2.0 * float(post.loglike(x))
    model = np.asarray(lik.model(point), np.float64)
    d = model - lik.data
    blocks = fx["cov_blocks"].astype(np.float64)
    chi2 = sum(d[:, b] @ np.linalg.solve(blocks[b], d[:, b]) for b in range(d.shape[1]))
    assert chi2 > 10  # the shift is detectable
    assert ours == pytest.approx(chi2, rel=1e-2)
    assert float(post.loglike(jnp.asarray([run.reference[n] for n in post.sampled]))) > -1e-3


def test_w0wa_config_has_39_parameters_and_its_lcdm_limit_is_the_lcdm_likelihood(run):
    """examples/euclid_like_shear_w0wa.yaml: 39 parameters; its mock is the ΛCDM one, so at
    w0 = −1, wa = 0 the two likelihoods agree to the emulators' accuracy (χ² ≪ 1)."""
    w0wa = load_run_config(ROOT / "examples" / "euclid_like_shear_w0wa.yaml")
    post = w0wa.posterior
    assert post.ndim == 39
    assert {"w0", "wa"} <= set(post.sampled)
    point = dict(run.reference)
    point.update({"omega_cdm": 0.1215, "ln10^{10}A_s": 3.04})
    chi2_lcdm = -2.0 * float(run.posterior.loglike(
        jnp.asarray([point[n] for n in run.posterior.sampled])))
    x = jnp.asarray([{**point, "w0": -1.0, "wa": 0.0}[n] for n in post.sampled])
    chi2_w0wa = -2.0 * float(post.loglike(x))
    assert chi2_lcdm > 10
    assert abs(chi2_w0wa - chi2_lcdm) < 1.0
    # w0 moves the spectra: a detectable shift
    x_far = jnp.asarray([{**point, "w0": -0.9, "wa": 0.0}[n] for n in post.sampled])
    assert -2.0 * float(post.loglike(x_far)) > chi2_w0wa + 10


def test_outside_the_emulator_box_is_minus_inf(run):
    post = run.posterior
    lik = post.likelihoods[0]
    point = {**run.reference, "c_min": 4.5}
    assert np.all(np.isnan(np.asarray(lik.model(point))))
    grad = jax.grad(lambda v: lik.loglike({**run.reference, "omega_cdm": v}))(0.12)
    assert np.isfinite(float(grad))


def test_config_errors_name_the_field():
    base = cosmoemu._config.load_yaml(CONFIG)
    bad = {**base, "likelihood": {"shear_cl": {**base["likelihood"]["shear_cl"],
                                               "survey": "nope"}}}
    with pytest.raises(ConfigError, match="survey.*unknown survey 'nope'"):
        load_run_config(bad)
    mock = dict(base["likelihood"]["shear_cl"]["mock"])
    mock.pop("eta_0")
    bad = {**base, "likelihood": {"shear_cl": {**base["likelihood"]["shear_cl"], "mock": mock}}}
    with pytest.raises(ConfigError, match="mock parameters missing: eta_0"):
        load_run_config(bad)
