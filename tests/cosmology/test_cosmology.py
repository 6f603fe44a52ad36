"""The Cosmology pytree: defaults, aliases, derived densities, neutrinos against scipy and CAMB."""

from __future__ import annotations

import math

import camb
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from cosmoemu.cosmology import (
    COSMOLOGY_DEFAULTS,
    OMEGA_GAMMA,
    OMEGA_NU_DEFAULT,
    Cosmology,
    omega_gamma,
    omega_nu_from_mass,
)
from cosmoemu.cosmology._neutrinos import fd_density, fd_pressure, mass_ratio_from_density

BASE = {"omega_b": 0.02237, "omega_cdm": 0.12, "h": 0.6736}


def test_defaults_and_camb_densities(x64):
    c = Cosmology.from_params(BASE)
    assert float(c.omega_nu) == OMEGA_NU_DEFAULT == COSMOLOGY_DEFAULTS["omega_nu"]
    assert float(c.N_eff) == 3.046 and float(c.w0) == -1.0 and float(c.wa) == 0.0
    assert float(c.ln10As) == pytest.approx(3.044, rel=1e-14)
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=67.36, ombh2=0.02237, omch2=0.12, mnu=0.06, nnu=3.046)
    res = camb.get_background(pars)
    assert float(c.Omega_m) == pytest.approx(pars.omegam, rel=1e-6)
    assert float(c.omega_gamma) == pytest.approx(res.get_Omega("photon", z=0) * 0.6736**2,
                                                 rel=1e-12)
    assert float(c.omega_ur) == pytest.approx(res.get_Omega("neutrino", z=0) * 0.6736**2,
                                              rel=1e-12)
    assert float(c.N_ur) == pytest.approx(pars.num_nu_massless, rel=1e-12)
    assert float(c.m_nu) == pytest.approx(0.06, rel=1e-5)  # ω_ν is CAMB's 0.06 eV to 6 digits


def test_aliases_and_errors(x64):
    c = Cosmology.from_params({"omega_b": 0.0224, "omega_cdm": 0.12, "H0": 70.0, "A_s": 2.1e-9,
                               "m_nu": 0.06, "tau_reio": 0.05, "A_planck": 1.0})
    assert float(c.h) == pytest.approx(0.7) and float(c.A_s) == pytest.approx(2.1e-9, rel=1e-12)
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=70, ombh2=0.0224, omch2=0.12, mnu=0.06, nnu=3.046)
    assert float(c.omega_nu) == pytest.approx(pars.omnuh2, rel=1e-9)
    assert float(omega_nu_from_mass(0.06)) == pytest.approx(pars.omnuh2, rel=1e-9)
    with pytest.raises(KeyError, match="needs omega_cdm"):
        Cosmology.from_params({"omega_b": 0.0224, "h": 0.7})
    both = Cosmology.from_params({**BASE, "H0": 50.0, "omega_nu": 0.001, "m_nu": 0.1})
    assert float(both.h) == 0.6736 and float(both.omega_nu) == 0.001  # the canonical name wins
    # values override defaults; an alias in values overrides the defaults' canonical name
    d = Cosmology.from_params({**BASE, "m_nu": 0.6}, defaults={"omega_nu": 0.001})
    assert float(d.m_nu) == pytest.approx(0.6, rel=1e-9)
    massless = Cosmology.from_params({**BASE, "num_massive_nu": 0})
    assert float(massless.omega_nu) == 0.0 and float(massless.N_ur) == pytest.approx(3.046)


def test_photon_density_from_constants():
    """ω_γ = (π²/15)(k_B T)⁴/(ħ³c⁵) / ρ_crit,100, written with scipy's CODATA constants."""
    from scipy import constants as k

    rho = math.pi**2 / 15 * (k.k * 2.7255) ** 4 / (k.hbar**3 * k.c**5)
    crit = 3 * (1e5 / (k.parsec * 1e6)) ** 2 / (8 * math.pi * k.G)
    assert OMEGA_GAMMA == pytest.approx(rho / crit, rel=1e-6)
    assert omega_gamma(2.0) == pytest.approx(OMEGA_GAMMA * (2.0 / 2.7255) ** 4, rel=1e-14)


@pytest.mark.parametrize("y", [0.0, 0.01, 0.3, 1.0, 3.0, 30.0, 357.0, 3e4])
def test_fermi_dirac_integrals_against_scipy(y, x64):
    norm = 7 * math.pi**4 / 120

    def quad(f):
        return integrate.quad(f, 0, 60, epsabs=0, epsrel=1e-12, limit=200)[0] / norm

    rho = quad(lambda x: x * x * math.sqrt(x * x + y * y) / (math.exp(x) + 1))
    p = quad(lambda x: x**4 / math.sqrt(x * x + y * y) / (math.exp(x) + 1) if x > 0 else 0.0)
    assert float(fd_density(y)) == pytest.approx(rho, rel=2e-7)
    assert float(fd_pressure(y)) == pytest.approx(p, rel=2e-7)
    if y >= 0.3:  # below, R(y) = 1 + O(y²) leaves y ill-determined (and physically moot)
        back = mass_ratio_from_density(fd_density(y))  # the inverse of our R
        assert float(back) == pytest.approx(y, rel=1e-9)
        g = jax.grad(mass_ratio_from_density)(jnp.asarray(rho))
        fd = (mass_ratio_from_density(rho * (1 + 1e-6)) - mass_ratio_from_density(
            rho * (1 - 1e-6))) / (2e-6 * rho)
        assert float(g) == pytest.approx(float(fd), rel=1e-4)


def test_cosmology_is_a_pytree():
    c = Cosmology.from_params(BASE)
    leaves = jax.tree_util.tree_leaves(c)
    assert len(leaves) == 10
    doubled = jax.tree_util.tree_map(lambda v: 2 * v, c)
    assert float(doubled.h) == pytest.approx(2 * 0.6736)
    om = jax.jit(lambda cc: cc.Omega_m)(c)
    assert float(om) == pytest.approx(float(c.Omega_m), rel=1e-6)
    batch = jax.vmap(lambda h: Cosmology.from_params({**BASE, "h": h}).Omega_m)(
        jnp.array([0.6, 0.7]))
    np.testing.assert_allclose(batch, (0.02237 + 0.12 + OMEGA_NU_DEFAULT) / np.array(
        [0.36, 0.49]), rtol=1e-6)
