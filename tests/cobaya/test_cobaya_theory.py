"""cosmoemu inside a real Cobaya: the theory's conventions, our likelihoods, Cobaya's plik_lite.

Truths: the published plik_lite reference log-likelihood, Cobaya's own (NumPy) plik_lite
implementation, our JAX EmulatorTheory and likelihoods called directly, CAMB's background.
"""

from __future__ import annotations

import math
from pathlib import Path

import camb
import jax
import numpy as np
import pytest

pytest.importorskip("cobaya")

from cobaya.log import LoggedError  # noqa: E402
from cobaya.model import get_model  # noqa: E402
from cobaya.theory import Theory  # noqa: E402

import cosmoemu.cobaya as cc  # noqa: E402
from cosmoemu.likelihoods import DesiBAO, PlanckLite  # noqa: E402
from cosmoemu.theory import load_theory  # noqa: E402

REF_DL = Path(__file__).parents[1] / "likelihoods" / "data" / "Dl_planck2015fit.dat"
REF_TTTEEE = -291.33481235418026  # plik_lite's own value at Dl_planck2015fit, A_planck = 1
NATIVE = "planck_2018_highl_plik.TTTEEE_lite_native"
EMUS = {"cmb_tt": "lcdm_cmb_tt", "cmb_te": "lcdm_cmb_te", "cmb_ee": "lcdm_cmb_ee",
        "cmb_pp": "lcdm_cmb_pp", "derived": "lcdm_derived"}
# Planck 2018 TT,TE,EE+lowE+lensing best fit, in Cobaya's names and ours
COBAYA_POINT = {"ombh2": 0.02237, "omch2": 0.1200, "H0": 67.36, "tau": 0.0544, "ns": 0.9649,
                "logA": 3.044}
OUR_POINT = {"omega_b": 0.02237, "omega_cdm": 0.1200, "h": 0.6736, "tau_reio": 0.0544,
             "n_s": 0.9649, "ln10^{10}A_s": 3.044}
Z = [0.1, 0.51, 1.0, 2.33]


class FixedCl(Theory):
    """A theory giving the plik_lite reference spectrum (D_ℓ in FIRAS μK², ℓ = 2..2508)."""

    params = {"unused": None}  # Cobaya wants every component to depend on some parameter

    def initialize(self):
        ref = np.loadtxt(REF_DL)
        self.dl = {k: np.concatenate([np.zeros(2), ref[:, i]])
                   for k, i in (("tt", 1), ("te", 2), ("ee", 3))}

    def get_Cl(self, ell_factor=False, units="FIRASmuK2"):
        ell = np.arange(len(self.dl["tt"]))
        if units == "FIRASmuK2" and ell_factor:
            return {"ell": ell, **self.dl}
        assert units == "1" and not ell_factor
        conv = np.zeros(len(ell))
        conv[2:] = 2 * np.pi / (ell[2:] * (ell[2:] + 1)) / 2.7255e6**2
        return {"ell": ell, **{k: v * conv for k, v in self.dl.items()}}


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cobaya_packages")
    cc.write_plik_lite_dataset(path)
    return path


@pytest.fixture(scope="module")
def model(packages):
    """Our theory, Cobaya's plik_lite, ours and DESI BAO, with every product requested."""
    info = {
        "packages_path": str(packages),
        "theory": {"cosmoemu.cobaya.CosmoEmu": {"emulators": EMUS}},
        "likelihood": {NATIVE: None, "cosmoemu.cobaya.PlanckLite": None,
                       "cosmoemu.cobaya.DesiBAO": None},
        "params": {**COBAYA_POINT, "A_planck": 1.0012, "sigma8": None, "thetastar": None,
                   "rdrag": None, "H0_out": None},
    }
    info["params"]["H0_out"] = {"derived": "lambda H0: H0"}
    m = get_model(info)
    m.add_requirements({"Cl": {"tt": 2508, "te": 2508, "ee": 2508, "pp": 2508},
                        "Hubble": {"z": Z}, "angular_diameter_distance": {"z": Z},
                        "comoving_radial_distance": {"z": Z}, "Omega_b": {"z": Z},
                        "Omega_cdm": {"z": Z}, "Omega_nu_massive": {"z": Z},
                        "angular_diameter_distance_2": {"z_pairs": [(0.5, 1.0), (1.0, 2.33)]}})
    loglikes, derived = m.loglikes({}, as_dict=True)
    return m, loglikes, derived


@pytest.fixture(scope="module")
def direct():
    """Our EmulatorTheory at the same point, float64: C_ℓ and scalars."""
    theory = load_theory(EMUS)
    with jax.enable_x64(True):
        out = theory.compute({k: np.float64(v) for k, v in OUR_POINT.items()},
                             (*EMUS, *theory.scalars))
        return theory, {k: np.asarray(v) for k, v in out.items()}


def test_native_plik_lite_on_our_data_gives_the_reference(packages):
    """Cobaya's own plik_lite, reading our exported data, and ours: the published −291.33481."""
    info = {"packages_path": str(packages), "theory": {"fixed": {"external": FixedCl}},
            "likelihood": {NATIVE: None, "cosmoemu.cobaya.PlanckLite": None},
            "params": {"A_planck": 1.0, "unused": 0.0}}
    got = get_model(info).loglikes({}, as_dict=True)[0]
    assert got[NATIVE] == pytest.approx(REF_TTTEEE, abs=1e-6)
    assert got["cosmoemu.cobaya.PlanckLite"] == pytest.approx(REF_TTTEEE, abs=1e-6)


def test_native_and_ours_agree_on_emulated_spectra(model, direct):
    _, loglikes, _ = model
    theory, out = direct
    with jax.enable_x64(True):
        ours = float(PlanckLite("TTTEEE")(out["cmb_tt"], out["cmb_te"], out["cmb_ee"], 1.0012))
    assert loglikes[NATIVE] == pytest.approx(ours, abs=1e-6)
    assert loglikes["cosmoemu.cobaya.PlanckLite"] == pytest.approx(ours, abs=1e-6)
    assert -300 < ours < -285  # the best fit: a sane plik_lite value


def test_cl_units_and_ell_factors(model, direct):
    m, _, _ = model
    _, out = direct
    ell = np.arange(2509.0)
    ll1 = ell * (ell + 1)
    t = 2.7255
    dl = ll1[2:] / (2 * np.pi)
    cases = [(False, "1", 1.0, 1.0), (False, "FIRASmuK2", 2.7255e6**2, 1.0),
             (True, "muK2", (t * 1e6) ** 2, dl), (True, "K2", t**2, dl)]
    for ell_factor, units, factor, lf in cases:
        cls = m.provider.get_Cl(ell_factor=ell_factor, units=units)
        np.testing.assert_array_equal(cls["ell"], np.arange(2509))
        for key in ("tt", "te", "ee"):
            assert cls[key][0] == cls[key][1] == 0.0
            np.testing.assert_allclose(cls[key][2:], out[f"cmb_{key}"] * factor * lf,
                                       rtol=1e-12)
        np.testing.assert_array_equal(cls["et"], cls["te"])
        # pp: never a temperature unit; ell_factor is [l(l+1)]^2/2pi (CAMB's raw_cl=False)
        pp = out["cmb_pp"] * (ll1[2:] ** 2 / (2 * np.pi) if ell_factor else 1.0)
        np.testing.assert_allclose(cls["pp"][2:], pp, rtol=1e-12)
    dl = m.provider.get_Cl(ell_factor=True, units="muK2")
    assert 5000 < dl["tt"][220] < 6500  # the first peak, μK²
    assert 0.8e-7 < dl["pp"][60] < 1.6e-7  # [L(L+1)]² C_L^φφ/2π near its peak


def test_background_and_derived_against_camb(model, direct):
    m, _, derived = model
    _, out = direct
    pars = camb.set_params(H0=67.36, ombh2=0.02237, omch2=0.12, mnu=0.06, nnu=3.046,
                           num_massive_neutrinos=1, tau=0.0544, ns=0.9649,
                           As=1e-10 * math.exp(3.044))
    bg = camb.get_background(pars)
    z = np.asarray(Z)
    p = m.provider
    np.testing.assert_allclose(p.get_Hubble(Z), bg.hubble_parameter(z), rtol=1e-5)
    np.testing.assert_allclose(p.get_Hubble(Z, units="1/Mpc"), bg.h_of_z(z), rtol=1e-5)
    np.testing.assert_allclose(p.get_angular_diameter_distance(Z),
                               bg.angular_diameter_distance(z), rtol=1e-5)
    np.testing.assert_allclose(p.get_comoving_radial_distance(Z),
                               bg.comoving_radial_distance(z), rtol=1e-5)
    for ours, var in (("Omega_b", "baryon"), ("Omega_cdm", "cdm"), ("Omega_nu_massive", "nu")):
        np.testing.assert_allclose(getattr(p, f"get_{ours}")(Z), bg.get_Omega(var, z=z),
                                   rtol=1e-4)
    np.testing.assert_allclose(
        p.get_angular_diameter_distance_2([(0.5, 1.0), (1.0, 2.33), (2.0, 1.0)]),
        [*bg.angular_diameter_distance2([0.5, 1.0], [1.0, 2.33]), 0.0], rtol=1e-5)
    camb_derived = bg.get_derived_params()
    # emulated scalars: exactly the EmulatorTheory's, and CAMB's to the emulator's accuracy
    for name in ("sigma8", "thetastar", "rdrag"):
        assert derived[name] == pytest.approx(float(out[name]), rel=1e-12)
    assert derived["thetastar"] == pytest.approx(camb_derived["thetastar"], rel=1e-4)
    assert derived["rdrag"] == pytest.approx(camb_derived["rdrag"], rel=1e-4)
    assert derived["H0_out"] == 67.36


def test_desi_bao_as_cobaya_likelihood_equals_ours(model, direct):
    _, loglikes, _ = model
    theory, out = direct
    with jax.enable_x64(True):
        cosmo = theory.cosmology({k: np.float64(v) for k, v in OUR_POINT.items()})
        ours = float(DesiBAO().loglike(cosmo, out["rdrag"]))
    assert loglikes["cosmoemu.cobaya.DesiBAO"] == pytest.approx(ours, abs=1e-8)


def _info(params, **theory_opts):
    return {"theory": {"cosmoemu.cobaya.CosmoEmu": {"emulators": {
                "cmb_tt": "lcdm_cmb_tt", "derived": "lcdm_derived"}, **theory_opts}},
            "likelihood": {"one": None}, "params": params}


def test_our_names_and_renames_give_the_same_point():
    ours = {k: v for k, v in OUR_POINT.items() if k != "ln10^{10}A_s"}
    a = get_model(_info({**ours, "As": 1e-10 * math.exp(3.044), "sigma8": None}))
    b = get_model(_info({**COBAYA_POINT, "sigma8": None}))
    c = get_model(_info({**{k: v for k, v in COBAYA_POINT.items() if k != "ombh2"},
                         "omegabh2": 0.02237, "sigma8": None}, renames={"omegabh2": "ombh2"}))
    s = [m.loglikes({}, as_dict=True)[1]["sigma8"] for m in (a, b, c)]
    assert s[0] == pytest.approx(s[1], rel=1e-12) and s[2] == pytest.approx(s[1], rel=1e-12)


@pytest.mark.parametrize(("params", "needs"), [
    ({**COBAYA_POINT, "h": 0.67}, "given twice"),
    ({k: v for k, v in COBAYA_POINT.items() if k != "ns"}, "ns"),
])
def test_parameter_errors_say_what_to_do(params, needs):
    with pytest.raises(LoggedError, match=needs):
        get_model(_info(params))


@pytest.mark.parametrize(("request_", "message"), [
    ({"Pk_interpolator": {"z": [0.0], "k_max": 1.0}}, "issue 11.*Pk_interpolator"),
    ({"Pk_grid": {"z": [0.0], "k_max": 1.0}}, "issue 11.*Pk_grid"),
    ({"Cl": {"tt": 3000}}, "ell = 2..2508"),
    ({"Cl": {"ee": 1000}}, "'cmb_ee' emulator"),
    ({"Cl": {"bb": 1000}}, "no emulator gives Cl 'bb'"),
])
def test_unsupported_products_are_refused_clearly(request_, message):
    m = get_model(_info(dict(COBAYA_POINT)))
    with pytest.raises(LoggedError, match=message):
        m.add_requirements(request_)


def test_point_outside_the_box_has_zero_likelihood():
    m = get_model(_info({**COBAYA_POINT, "H0": 90.0}))  # h = 0.9 > 0.85
    assert m.loglike({}, return_derived=False) == -np.inf
