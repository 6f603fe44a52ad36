"""Our Cobaya theory against Cobaya's CAMB theory, through the same Cobaya calls (slow: one CAMB
run to ℓ = 2508 with lensing)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cobaya")

from cobaya.model import get_model  # noqa: E402

pytestmark = pytest.mark.slow

POINT = {"ombh2": 0.02237, "omch2": 0.1200, "H0": 67.36, "tau": 0.0544, "ns": 0.9649,
         "logA": 3.044}
CAMB = {"camb": {"extra_args": {"lens_potential_accuracy": 1, "nnu": 3.046,
                                "num_massive_neutrinos": 1, "mnu": 0.06}}}
OURS = {"cosmoemu.cobaya.CosmoEmu": None}
REQUEST = {"Cl": {"tt": 2508, "te": 2508, "ee": 2508, "pp": 2508}}


def _run(theory):
    params = {**{k: v for k, v in POINT.items() if k != "logA"},
              "As": 1e-10 * np.exp(POINT["logA"]), "A_planck": 1.0,
              "sigma8": None, "rdrag": None, "thetastar": None}
    m = get_model({"theory": theory, "likelihood": {"cosmoemu.cobaya.PlanckLite": None,
                                                     "cosmoemu.cobaya.DesiBAO": None},
                   "params": params})
    m.add_requirements(REQUEST)
    loglikes, derived = m.loglikes({}, as_dict=True)
    return m.provider.get_Cl(ell_factor=True, units="muK2"), loglikes, derived


@pytest.fixture(scope="module")
def both():
    return _run(OURS), _run(CAMB)


def test_cl_in_cobaya_conventions_match_camb(both):
    """D_ℓ [μK²] and [ℓ(ℓ+1)]² C_ℓ^φφ/2π from both theories, to the emulators' accuracy."""
    (ours, _, _), (camb, _, _) = both
    ell = slice(2, 2509)
    for key, tol in (("tt", 3e-3), ("pp", 3e-3)):
        np.testing.assert_allclose(ours[key][ell], camb[key][ell], rtol=tol, err_msg=key)
    # EE: 1.2 % at the faint reionisation trough (ℓ ≈ 14), 0.1 % where Planck measures it
    np.testing.assert_allclose(ours["ee"][2:30], camb["ee"][2:30], rtol=2e-2)
    np.testing.assert_allclose(ours["ee"][30:2509], camb["ee"][30:2509], rtol=3e-3)
    scale = np.sqrt(camb["tt"][ell] * camb["ee"][ell])
    # TE in units of sqrt(TT EE): measured 3.2e-3 (largest at low ell)
    assert np.max(np.abs(ours["te"][ell] - camb["te"][ell]) / scale) < 5e-3


def test_likelihoods_and_derived_match_camb(both):
    (_, lik_ours, der_ours), (_, lik_camb, der_camb) = both
    # plik_lite: whole-box emulators are within |Δχ²| 0.39 of CAMB (docs/demo.md)
    assert lik_ours["cosmoemu.cobaya.PlanckLite"] == pytest.approx(
        lik_camb["cosmoemu.cobaya.PlanckLite"], abs=0.1)
    assert lik_ours["cosmoemu.cobaya.DesiBAO"] == pytest.approx(
        lik_camb["cosmoemu.cobaya.DesiBAO"], abs=0.02)
    assert der_ours["sigma8"] == pytest.approx(der_camb["sigma8"], rel=1e-3)
    assert der_ours["thetastar"] == pytest.approx(der_camb["thetastar"], rel=1e-4)
    assert der_ours["rdrag"] == pytest.approx(der_camb["rdrag"], rel=1e-4)
