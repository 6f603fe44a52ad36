"""One source of truth: change ω_ν once and Ω_m, every distance and the BAO likelihood move
together, each equal to CAMB run at that ω_ν."""

from __future__ import annotations

import camb
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu.cosmology import (
    angular_diameter_distance,
    comoving_distance,
    hubble_distance,
    volume_distance,
)
from cosmoemu.inference import posterior_from_config
from cosmoemu.likelihoods import DesiBAO

X = np.array([0.0224, 0.12, 0.67])  # the stand-in derived emulator's fiducial point
RDRAG = 147.1  # its r_drag there
Z = np.array([0.295, 0.51, 0.706, 0.934, 1.321, 1.484, 2.33])


def _config(omega_nu: float, PARAMS, BOX) -> dict:  # noqa: N803
    return {
        "theory": {"cosmology": {"omega_nu": omega_nu}},
        "likelihood": {"desi": {"type": "desi_dr2_bao"}},
        "params": {**{p: {"prior": {"min": BOX[p][0], "max": BOX[p][1]}} for p in PARAMS},
                   "Omega_m": {"derived": True}, "omega_m": {"derived": True},
                   "rdrag": {"derived": True}},
    }


def _camb_truth(omega_nu: float) -> dict:
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=100 * X[2], ombh2=X[0], omch2=X[1], mnu=None, omnuh2_active=omega_nu,
                       nnu=3.046, num_massive_neutrinos=1)
    res = camb.get_background(pars)
    chi = res.comoving_radial_distance(Z, tol=1e-10)
    dh = 299792.458 / res.hubble_parameter(Z)
    dv = np.cbrt(Z * chi**2 * dh)
    lik = DesiBAO()
    zb, kinds = np.asarray(lik.z), np.asarray(lik.kinds)  # 13 points at 7 redshifts
    chi_b = res.comoving_radial_distance(zb, tol=1e-10)
    dh_b = 299792.458 / res.hubble_parameter(zb)
    model = np.select([kinds == 0, kinds == 1], [np.cbrt(zb * chi_b**2 * dh_b), chi_b],
                      dh_b) / RDRAG
    cov = np.linalg.inv(np.asarray(lik.whitening).T @ np.asarray(lik.whitening))
    r = model - np.asarray(lik.data)
    return {"Omega_m": pars.omegam, "chi": chi, "dh": dh, "dv": dv,
            "da": res.angular_diameter_distance(Z), "bao": -0.5 * r @ np.linalg.solve(cov, r)}


@pytest.mark.parametrize("pair", [(0.000645, 0.0064)])
def test_changing_omega_nu_moves_omega_m_bao_and_distances_together(pair, kit, x64):
    PARAMS = kit.PARAMS  # noqa: N806
    got = {}
    for onu in pair:
        post = posterior_from_config(_config(onu, kit.PARAMS, kit.BOX),
                                    emulators={"derived": kit.derived()})
        x = jnp.asarray(X)
        d = dict(zip(post.derived, np.asarray(post.derived_values(x)), strict=True))
        assert d["rdrag"] == pytest.approx(RDRAG, rel=1e-12)
        cosmo = post.theory.cosmology(dict(zip(PARAMS, x, strict=True)))
        truth = _camb_truth(onu)
        assert d["Omega_m"] == pytest.approx(truth["Omega_m"], rel=1e-9)
        assert d["omega_m"] == pytest.approx(truth["Omega_m"] * X[2] ** 2, rel=1e-9)
        np.testing.assert_allclose(comoving_distance(cosmo, Z), truth["chi"], rtol=1e-6)
        np.testing.assert_allclose(hubble_distance(cosmo, Z), truth["dh"], rtol=1e-6)
        np.testing.assert_allclose(volume_distance(cosmo, Z), truth["dv"], rtol=1e-6)
        np.testing.assert_allclose(angular_diameter_distance(cosmo, Z), truth["da"], rtol=1e-6)
        bao = float(post.loglikes(x)[0])
        assert bao == pytest.approx(truth["bao"], rel=1e-5)
        got[onu] = (d["Omega_m"], bao, np.asarray(comoving_distance(cosmo, Z)))
    (om0, bao0, chi0), (om1, bao1, chi1) = got[pair[0]], got[pair[1]]
    assert om1 - om0 == pytest.approx((pair[1] - pair[0]) / X[2] ** 2, rel=1e-9)
    assert abs(bao1 - bao0) > 1.0  # the BAO likelihood moves with ω_ν (it used to stay put)
    assert np.all(chi1 < chi0 * (1 - 1e-3))  # more matter: shorter distances at every z
    assert jax.numpy.isfinite(bao1)
