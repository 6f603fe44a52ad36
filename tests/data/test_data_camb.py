"""The CAMB backend against CAMB itself: the shared training set, P(k) and its nuisance inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cosmoemu.data import CambBackend, Request, load_config, make_design
from cosmoemu.data._tasks import ChunkTask, run_chunk

camb = pytest.importorskip("camb")

REPO = Path(__file__).parents[2]
SHARED = Path(__file__).parent / "fixtures" / "cmb_lcdm_camb_2rows"
PLANCK = {"omega_b": 0.02237, "omega_cdm": 0.1200, "h": 0.6736, "tau_reio": 0.0544,
          "n_s": 0.9649, "ln10^{10}A_s": 3.044}


def test_example_config_regenerates_shared_cosmologies_to_1e5():
    """Rows 0 and 5999 of the shared set, recomputed through the sandbox with the example
    config's full settings (lmax 2508, lens_potential_accuracy 1), match to 1e-5 relative."""
    cfg = load_config(REPO / "examples" / "generate_lcdm_cmb.yaml")
    params, _ = make_design(cfg.box, cfg.designs)
    rows = np.array([0, 5999])
    task = ChunkTask(start=0, rows=rows, params=params[rows], names=cfg.box.names,
                     target=cfg.target, request=cfg.request, settings=cfg.settings,
                     fixed=cfg.fixed, timeout=300)
    result = run_chunk(task)
    assert result.ok.all(), result.errors
    for i, row in enumerate(rows):
        with np.load(SHARED / f"chunk_{row:05d}.npz", allow_pickle=False) as f:
            assert tuple(f["order"]) == cfg.request.cmb
            assert tuple(f["derived_names"]) == cfg.request.derived
            ref_spectra, ref_derived = f["spectra"][0].astype(np.float64), f["derived"][0]
        np.testing.assert_allclose(result.values["spectra"][i], ref_spectra, rtol=1e-5, atol=0)
        np.testing.assert_allclose(result.values["derived"][i], ref_derived, rtol=1e-5, atol=0)


@pytest.fixture(scope="module")
def pk_planck():
    k = np.geomspace(1e-4, 2.0, 400)
    req = Request(derived=("sigma8", "S8", "H0", "Omega_m"), pk=("pk_lin", "pk_nonlin"),
                  k=tuple(k), z=(0.0, 1.0))
    return k, CambBackend(req, CambBackend.default_settings, {}).compute(PLANCK)


def test_sigma8_from_stored_linear_pk(pk_planck):
    """sigma8 integrated from our P_lin(k, z=0) [Mpc^3, k in 1/Mpc] equals CAMB's sigma8."""
    k, out = pk_planck
    sigma8, s8, h0, omega_m = out["derived"]
    x = k * 8.0 / (h0 / 100.0)
    window = 3 * (np.sin(x) - x * np.cos(x)) / x**3
    integrand = k**3 * out["pk_lin"][0] / (2 * np.pi**2) * window**2
    ours = np.sqrt(np.trapezoid(integrand, np.log(k)))
    assert ours == pytest.approx(sigma8, rel=2e-3)
    assert s8 == pytest.approx(sigma8 * np.sqrt(omega_m / 0.3), rel=1e-12)
    assert omega_m == pytest.approx((0.02237 + 0.1200 + 0.06 / 93.14) / 0.6736**2, rel=2e-3)


def test_linear_and_nonlinear_pk_agree_on_large_scales(pk_planck):
    k, out = pk_planck
    ratio = out["pk_nonlin"] / out["pk_lin"]
    assert np.all(np.abs(ratio[:, k < 0.01] - 1) < 2e-3)
    assert ratio[0, np.argmin(np.abs(k - 1.0))] > 1.5  # the halo-model boost at k = 1/Mpc


@pytest.mark.parametrize(
    ("nonlinear", "nuisance", "camb_kwargs"),
    [
        ("hmcode2016", {"c_min": 2.0, "eta_0": 0.7},
         {"halofit_version": "mead2016", "HMCode_A_baryon": 2.0, "HMCode_eta_baryon": 0.7}),
        ("hmcode2020_feedback", {"logT_AGN": 8.3},
         {"halofit_version": "mead2020_feedback", "HMCode_logT_AGN": 8.3}),
    ],
)
def test_baryonic_parameters_translate_to_camb(nonlinear, nuisance, camb_kwargs):
    """Our names (c_min, eta_0, logT_AGN) give CAMB's own HMcode P(k) for its names."""
    k = np.geomspace(1e-3, 1.0, 30)
    req = Request(pk=("pk_nonlin",), k=tuple(k), z=(0.5,), nonlinear=nonlinear)
    backend = CambBackend(req, CambBackend.default_settings, {})
    ours = backend.compute({**PLANCK, **nuisance})["pk_nonlin"]
    default = backend.compute(PLANCK)["pk_nonlin"]

    pars = camb.CAMBparams()
    pars.set_cosmology(H0=67.36, ombh2=0.02237, omch2=0.12, mnu=0.06, nnu=3.046, tau=0.0544)
    pars.InitPower.set_params(As=np.exp(3.044) * 1e-10, ns=0.9649)
    pars.NonLinearModel.set_params(**camb_kwargs)
    pars.set_matter_power(redshifts=[0.5, 0.0], kmax=2.0, nonlinear=True, silent=True)
    interp = camb.get_results(pars).get_matter_power_interpolator(
        nonlinear=True, hubble_units=False, k_hunit=False)
    np.testing.assert_allclose(ours, interp.P([0.5], k), rtol=2e-3)
    assert np.max(np.abs(ours / default - 1)) > 0.02  # the parameters do act


def test_transfer_reuse_is_bit_identical_to_fresh_runs():
    """A group sharing (omega_b, omega_cdm, h), run through one backend, reuses the transfer
    functions; each row equals a fresh backend's run of that row, bit for bit (P_lin, P_nl,
    sigma8), and a new transfer key is a fresh run again."""
    k = np.geomspace(1e-3, 5.0, 60)
    req = Request(derived=("sigma8",), pk=("pk_lin", "pk_nonlin"), k=tuple(k), z=(0.0, 2.0),
                  nonlinear="hmcode2016")
    settings = {**CambBackend.default_settings, "sigma8_kmax": 6.0}
    rows = [
        {**PLANCK, "c_min": 3.13, "eta_0": 0.603},
        {**PLANCK, "n_s": 0.9, "ln10^{10}A_s": 2.5, "c_min": 2.2, "eta_0": 0.9},
        {**PLANCK, "omega_cdm": 0.14, "c_min": 2.5, "eta_0": 0.7},
    ]
    shared = CambBackend(req, settings, {})
    grouped = [shared.compute(row) for row in rows]
    for row, out in zip(rows, grouped, strict=True):
        fresh = CambBackend(req, settings, {}).compute(row)
        for key in ("pk_lin", "pk_nonlin", "derived"):
            np.testing.assert_array_equal(out[key], fresh[key])
    assert abs(grouped[1]["derived"][0] / grouped[0]["derived"][0] - 1) > 0.1
    assert np.max(np.abs(grouped[1]["pk_nonlin"] / grouped[0]["pk_nonlin"] - 1)) > 0.1
