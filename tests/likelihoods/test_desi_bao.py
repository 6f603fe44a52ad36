"""DESI DR2 BAO and the JAX background against CAMB."""

from __future__ import annotations

import camb
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu.cosmology import Cosmology, comoving_distance, hubble
from cosmoemu.likelihoods import COSMOLOGY, DesiBAO, Likelihood

COSMOLOGIES = [(0.02237, 0.1200, 0.6736), (0.0200, 0.100, 0.60), (0.0250, 0.160, 0.80)]
Z = np.array([0.295, 0.51, 0.706, 0.934, 1.321, 1.484, 2.33])


def camb_background(ob, oc, h):
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=100 * h, ombh2=ob, omch2=oc, mnu=0.06, nnu=3.046)
    return camb.get_background(pars)


@pytest.fixture(scope="module")
def camb_results():
    return [camb_background(*c) for c in COSMOLOGIES]


def test_background_matches_camb(camb_results):
    with jax.enable_x64(True):
        for (ob, oc, h), res in zip(COSMOLOGIES, camb_results, strict=True):
            c = Cosmology.from_params({"omega_b": ob, "omega_cdm": oc, "h": h})
            np.testing.assert_allclose(hubble(c, Z), res.hubble_parameter(Z), rtol=1e-5)
            dm = res.angular_diameter_distance(Z) * (1 + Z)
            np.testing.assert_allclose(comoving_distance(c, Z), dm, rtol=1e-5)


def test_bao_chi2_matches_camb_distances(camb_results):
    """χ² from CAMB's distances and r_drag (numpy) against the JAX likelihood."""
    mean = np.loadtxt(_data_file("mean"), usecols=(0, 1))
    kinds = [line.split()[2] for line in open(_data_file("mean")) if not line.startswith("#")]
    cov = np.loadtxt(_data_file("cov"))
    with jax.enable_x64(True):
        lik = DesiBAO()
        for (ob, oc, h), res in zip(COSMOLOGIES, camb_results, strict=True):
            rd = res.get_derived_params()["rdrag"]
            z = mean[:, 0]
            dm = res.angular_diameter_distance(z) * (1 + z)
            dh = 299792.458 / res.hubble_parameter(z)
            dv = (z * dm**2 * dh) ** (1 / 3)
            model = np.select([np.array(kinds) == "DV_over_rs", np.array(kinds) == "DM_over_rs"],
                              [dv, dm], dh) / rd
            r = model - mean[:, 1]
            chi2 = r @ np.linalg.solve(cov, r)
            assert float(lik(ob, oc, h, rd)) == pytest.approx(-0.5 * chi2, rel=1e-4, abs=1e-3)
            cosmo = Cosmology.from_params({"omega_b": ob, "omega_cdm": oc, "h": h})
            got = float(lik.from_values({COSMOLOGY: cosmo, "rdrag": rd, "other": 1.0}))
            assert got == pytest.approx(-0.5 * chi2, rel=1e-4, abs=1e-3)
        # Planck-like ΛCDM fits DESI DR2 moderately (χ² of order 10-20 for 13 points)
        planck = -2 * float(lik(*COSMOLOGIES[0], camb_results[0].get_derived_params()["rdrag"]))
        assert 5 < planck < 40


def test_bao_gradient_finite_and_inputs():
    lik = DesiBAO()
    g = jax.grad(lambda p: lik(*p))(jnp.array([0.0224, 0.12, 0.67, 147.0]))
    assert bool(jnp.all(jnp.isfinite(g)))
    assert lik.inputs == ("cosmology", "rdrag") and lik.params == ("rdrag",)
    assert isinstance(lik, Likelihood)


def test_missing_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="desi_gaussian_bao_ALL_GCcomb_mean.txt"):
        DesiBAO(tmp_path)


def _data_file(which: str):
    from importlib import resources

    name = f"desi_gaussian_bao_ALL_GCcomb_{which}.txt"
    return str(resources.files("cosmoemu.likelihoods").joinpath("data", "desi_bao_dr2", name))
