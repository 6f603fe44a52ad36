"""The shipped ΛCDM emulators through the theory and Planck lite, against CAMB."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cosmoemu
from cosmoemu.inference import T_CMB, EmulatorTheory, load_run_config, sample_posterior
from cosmoemu.inference._demo import DEMO_CONFIG, PLANCK2018
from cosmoemu.likelihoods import PlanckLite

NAMES = {"cmb_tt": "lcdm_cmb_tt", "cmb_te": "lcdm_cmb_te", "cmb_ee": "lcdm_cmb_ee",
         "derived": "lcdm_derived"}
BEST_FIT = {"omega_b": 0.02237, "omega_cdm": 0.1200, "h": 0.6736, "tau_reio": 0.0544,
            "n_s": 0.9649, "ln10^{10}A_s": 3.044}

pytestmark = pytest.mark.skipif(
    not set(NAMES.values()) <= set(cosmoemu.list_emulators()),
    reason="the shipped CMB emulators are not installed",
)


@pytest.fixture(scope="module")
def camb_at_best_fit():
    """Lensed D_ell [μK²] (TT, TE, EE, ell 2..2508), sigma8 and 100θ* from CAMB with the
    emulators' training settings."""
    import camb

    p = BEST_FIT
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=100 * p["h"], ombh2=p["omega_b"], omch2=p["omega_cdm"], mnu=0.06,
                       nnu=3.046, tau=p["tau_reio"])
    pars.InitPower.set_params(As=np.exp(p["ln10^{10}A_s"]) * 1e-10, ns=p["n_s"])
    pars.set_for_lmax(2508, lens_potential_accuracy=1)
    pars.set_matter_power(redshifts=[0.0], kmax=2.0)
    res = camb.get_results(pars)
    cl = res.get_lensed_scalar_cls(lmax=2508, CMB_unit=None, raw_cl=True)[2:]
    ell = np.arange(2, 2509)
    fac = ell * (ell + 1) / (2 * np.pi) * (T_CMB * 1e6) ** 2
    dl = {"cmb_tt": cl[:, 0] * fac, "cmb_te": cl[:, 3] * fac, "cmb_ee": cl[:, 1] * fac}
    derived = {"sigma8": res.get_sigma8_0(), "thetastar": res.get_derived_params()["thetastar"]}
    return dl, derived


def test_emulator_theory_matches_camb_in_likelihood_units(camb_at_best_fit):
    dl_camb, derived_camb = camb_at_best_fit
    theory = EmulatorTheory({k: cosmoemu.load_emulator(v) for k, v in NAMES.items()},
                            names=NAMES)
    with jax.enable_x64(True):
        values = {k: jnp.asarray(v) for k, v in BEST_FIT.items()}
        out = theory.compute(values, ("cmb_tt", "cmb_te", "cmb_ee", "sigma8", "thetastar"))
        lik = PlanckLite("TTTEEE", low_ell_bins=True)
        chi2_camb = float(lik.chi2(dl_camb["cmb_tt"], dl_camb["cmb_te"], dl_camb["cmb_ee"]))
        chi2_emu = float(lik.chi2(out["cmb_tt"], out["cmb_te"], out["cmb_ee"]))
    assert 550 < chi2_camb < 650  # the Planck best fit is a good fit of plik_lite
    assert abs(chi2_emu - chi2_camb) < 1.0
    # spectra: sub-percent where the signal is (D_ell^TT at the first peak, ell = 220)
    assert float(out["cmb_tt"][218]) == pytest.approx(dl_camb["cmb_tt"][218], rel=3e-3)
    assert float(out["sigma8"]) == pytest.approx(derived_camb["sigma8"], rel=2e-3)
    assert float(out["thetastar"]) == pytest.approx(derived_camb["thetastar"], rel=2e-4)


@pytest.mark.slow
def test_demo_posterior_with_shipped_emulators():
    """The demo's posterior: converged, and within 1σ of Planck 2018 TT,TE,EE+lowE (plik_lite
    with a τ prior instead of lowE shifts τ, A_s and σ8 by about half a σ)."""
    run = load_run_config(DEMO_CONFIG)
    result = sample_posterior(run.posterior, jax.random.key(0), run.nuts,
                              reference=run.reference, progress=False)
    assert result.converged and result.divergences == 0
    chains = result.chains
    for name, (mean, std) in PLANCK2018.items():
        x = chains.column(name)
        assert abs(x.mean() - mean) < std, (name, x.mean(), mean)
        assert x.std() == pytest.approx(std, rel=0.25)


@pytest.mark.slow
def test_demo_posterior_with_lowe_alone_tau_prior():
    """With the lowE-alone τ = 0.0506 ± 0.0086 (Planck 2018 VI) instead of the TT,TE,EE+lowE
    posterior as the τ prior, the high-ℓ pull on τ is no longer counted twice: every mean is
    then within 0.3σ of Planck 2018 TT,TE,EE+lowE (the demo issue's target)."""
    import copy

    cfg = copy.deepcopy(DEMO_CONFIG)
    cfg["params"]["tau_reio"]["prior"] = {"dist": "norm", "loc": 0.0506, "scale": 0.0086}
    run = load_run_config(cfg)
    result = sample_posterior(run.posterior, jax.random.key(0), run.nuts,
                              reference=run.reference, progress=False)
    assert result.converged
    chains = result.chains
    for name, (mean, std) in PLANCK2018.items():
        assert abs(chains.column(name).mean() - mean) < 0.3 * std, name
