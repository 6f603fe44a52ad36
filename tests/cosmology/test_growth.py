"""Linear growth D(z), f(z) of CDM + baryons against CAMB's linear transfer functions."""

from __future__ import annotations

import camb
import jax
import numpy as np
import pytest

from cosmoemu.cosmology import Cosmology, growth_factor, growth_rate

Z = [0.0, 0.5, 1.0, 2.0, 4.0]
# (omega_b, omega_cdm, h, w0, wa, m_nu [eV])
CASES = {
    "lcdm_massless": (0.02237, 0.12, 0.6736, -1.0, 0.0, 0.0),
    "w0wa_massless": (0.0220, 0.11, 0.70, -0.8, -0.6, 0.0),
    "lcdm_nu": (0.02237, 0.12, 0.6736, -1.0, 0.0, 0.06),
    "w0wa_nu": (0.0220, 0.11, 0.70, -0.8, -0.6, 0.06),
}


def _camb(ob, oc, h, w0, wa, mnu):
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=100 * h, ombh2=ob, omch2=oc, mnu=mnu, nnu=3.046,
                       num_massive_neutrinos=1 if mnu else 0)
    pars.set_dark_energy(w=w0, wa=wa, dark_energy_model="ppf")
    pars.InitPower.set_params(As=2.1e-9, ns=0.965)
    pars.set_matter_power(redshifts=Z[::-1], kmax=2.0)
    res = camb.get_results(pars)
    k, z, pk = res.get_linear_matter_power_spectrum(
        var1="delta_nonu", var2="delta_nonu", hubble_units=False, k_hunit=False)
    i = int(np.argmin(np.abs(k - 1.0)))  # k = 1/Mpc: far above the free-streaming scale
    ratio = np.sqrt(pk[:, i] / pk[0, i])  # z ascending, z[0] = 0
    f = (res.get_fsigma8() / res.get_sigma8())[::-1]  # total matter: CDM + baryons if massless
    return np.asarray(z), ratio, f


@pytest.fixture(scope="module")
def camb_growth():
    return {name: _camb(*case) for name, case in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_growth_matches_camb(camb_growth, name, x64):
    """D(z)/D(0) against CAMB's CDM+baryon transfer ratio at k = 1/Mpc: 1e-4 (measured ≤ 2e-5
    for z ≤ 4); f(z) against CAMB's fσ8/σ8 where that is CDM + baryons (massless ν): 2e-4."""
    ob, oc, h, w0, wa, mnu = CASES[name]
    c = Cosmology.from_params({"omega_b": ob, "omega_cdm": oc, "h": h, "w0": w0, "wa": wa,
                               "m_nu": mnu, "num_massive_nu": 1 if mnu else 0})
    z, ratio, f_camb = camb_growth[name]
    d = np.asarray(growth_factor(c, z))
    assert d[0] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(d, ratio, rtol=1e-4)
    if not mnu:
        np.testing.assert_allclose(growth_rate(c, z), f_camb, rtol=2e-4)


def test_growth_rate_is_the_log_derivative_and_grad_works(x64):
    c = Cosmology.from_params({"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.68, "w0": -0.9,
                               "wa": -0.2})
    z = np.array([0.3, 1.7])
    eps = 1e-4
    lnd = [np.log(growth_factor(c, (1 + z) * np.exp(s) - 1)) for s in (-eps, eps)]
    f_fd = -(lnd[1] - lnd[0]) / (2 * eps)
    np.testing.assert_allclose(growth_rate(c, z), f_fd, rtol=1e-6)

    def d_at_1(oc):
        return growth_factor(Cosmology.from_params({"omega_b": 0.0224, "omega_cdm": oc,
                                                    "h": 0.68}), 1.0)

    g = jax.jit(jax.jacfwd(d_at_1))(0.12)  # forward mode: compiles faster than reverse
    fd = (d_at_1(0.12 + 1e-5) - d_at_1(0.12 - 1e-5)) / 2e-5
    assert float(g) == pytest.approx(float(fd), rel=1e-5)
