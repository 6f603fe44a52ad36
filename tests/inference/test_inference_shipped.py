"""The shipped ΛCDM emulators through the theory and Planck lite, against CAMB."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cosmoemu
from cosmoemu.inference import EmulatorTheory, load_run_config, sample_posterior
from cosmoemu.inference._demo import PLANCK2018, demo_config
from cosmoemu.likelihoods import PlanckLite

NAMES = {"cmb_tt": "lcdm_cmb_tt", "cmb_te": "lcdm_cmb_te", "cmb_ee": "lcdm_cmb_ee",
         "derived": "lcdm_derived"}
DCHI2_BOX = 0.1  # |Δχ²| allowed for the whole-box networks at the best fit (measured 0.014)
BEST_FIT = {"omega_b": 0.02237, "omega_cdm": 0.1200, "h": 0.6736, "tau_reio": 0.0544,
            "n_s": 0.9649, "ln10^{10}A_s": 3.044}

pytestmark = pytest.mark.skipif(
    not set(NAMES.values()) <= set(cosmoemu.list_emulators()),
    reason="the shipped CMB emulators are not installed",
)


@pytest.fixture(scope="module")
def camb_at_best_fit():
    """Lensed raw C_ell (TT, TE, EE, ell 2..2508), sigma8 and 100θ* from CAMB run by
    cosmoemu's CAMB backend with the training set's config (examples/generate_lcdm_cmb.yaml)."""
    from pathlib import Path

    from cosmoemu._config import load_yaml
    from cosmoemu.data._genconfig import parse_config

    raw = load_yaml(Path(__file__).parents[2] / "examples" / "generate_lcdm_cmb.yaml")
    raw["quantities"] = ["tt", "te", "ee", "derived"]
    raw["derived"] = ["sigma8", "thetastar"]
    cfg = parse_config(raw)
    out = cfg.backend_class(cfg.request, cfg.settings, cfg.fixed).compute(BEST_FIT)
    ell = np.arange(2, 2509)
    cl = out["spectra"][:, : ell.size]  # raw C_ell, what the theory and plik_lite exchange
    cls = {"cmb_tt": cl[0], "cmb_te": cl[1], "cmb_ee": cl[2]}
    derived = {"sigma8": out["derived"][0], "thetastar": out["derived"][1]}
    return cls, derived


def _dchi2(emulators: dict, dl_camb: dict) -> tuple[float, float]:
    """(χ²_CAMB, χ²_emu − χ²_CAMB) of plik_lite TTTEEE + low-ell TT at the best fit."""
    theory = EmulatorTheory({k: cosmoemu.load_emulator(v) for k, v in emulators.items()})
    with jax.enable_x64(True):
        out = theory.compute({k: jnp.asarray(v) for k, v in BEST_FIT.items()},
                             ("cmb_tt", "cmb_te", "cmb_ee"))
        lik = PlanckLite("TTTEEE", low_ell_bins=True)
        chi2_camb = float(lik.chi2(dl_camb["cmb_tt"], dl_camb["cmb_te"], dl_camb["cmb_ee"]))
        chi2_emu = float(lik.chi2(out["cmb_tt"], out["cmb_te"], out["cmb_ee"]))
    return chi2_camb, chi2_emu - chi2_camb


PLANCK_REGION = {k: f"{v}_planck" for k, v in NAMES.items() if k != "derived"}


@pytest.mark.skipif(not set(PLANCK_REGION.values()) <= set(cosmoemu.list_emulators()),
                    reason="the Planck-region emulators are not installed")
def test_planck_region_emulators_match_camb_in_likelihood_units(camb_at_best_fit):
    """The Planck-region polynomials reproduce CAMB's plik_lite χ² at the best fit to better
    than half the demo issue's 0.1 (measured 0.007); far from the centre they refuse."""
    dl_camb, _ = camb_at_best_fit
    chi2_camb, dchi2 = _dchi2(PLANCK_REGION, dl_camb)
    assert 550 < chi2_camb < 650
    assert abs(dchi2) < 0.05
    emu = cosmoemu.load_emulator("lcdm_cmb_tt_planck")
    assert emu.region is not None and emu.region["radius"] == 6.0
    far = dict(BEST_FIT, omega_cdm=0.1200 + 8 * 0.0013)  # inside the box, 8σ from the centre
    assert bool(cosmoemu.load_emulator("lcdm_cmb_tt").in_box(far))
    assert not bool(emu.in_box(far))
    with pytest.raises(cosmoemu.OutOfBoxError, match="validity ellipsoid"):
        emu.predict(far)


def test_emulator_theory_matches_camb_in_likelihood_units(camb_at_best_fit):
    dl_camb, derived_camb = camb_at_best_fit
    chi2_camb, dchi2 = _dchi2({k: v for k, v in NAMES.items() if k != "derived"}, dl_camb)
    assert 550 < chi2_camb < 650  # the Planck best fit is a good fit of plik_lite
    assert abs(dchi2) < DCHI2_BOX
    theory = EmulatorTheory({k: cosmoemu.load_emulator(v) for k, v in NAMES.items()},
                            names=NAMES)
    with jax.enable_x64(True):
        values = {k: jnp.asarray(v) for k, v in BEST_FIT.items()}
        out = theory.compute(values, ("cmb_tt", "sigma8", "thetastar"))
    # spectra: sub-percent where the signal is (C_ell^TT at the first peak, ell = 220)
    assert float(out["cmb_tt"][218]) == pytest.approx(dl_camb["cmb_tt"][218], rel=3e-3)
    assert float(out["sigma8"]) == pytest.approx(derived_camb["sigma8"], rel=2e-3)
    assert float(out["thetastar"]) == pytest.approx(derived_camb["thetastar"], rel=2e-4)


@pytest.mark.slow
def test_demo_posterior_reproduces_planck_within_0_3_sigma(tmp_path):
    """`cosmoemu demo` (the lowE-alone τ prior, Planck 2018 VI): converged without divergences,
    every mean within 0.3σ of Planck 2018 TT,TE,EE+lowE and every std within 25 % — asserted on
    the printed table and the JSON record of the command itself."""
    import json

    from click.testing import CliRunner

    from cosmoemu.cli import main

    res = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "demo"), "--json",
                                    str(tmp_path / "demo.json"), "--no-plot", "--no-cache"])
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "demo.json").read_text())
    assert rec["tau_prior"] == {"name": "lowE", "mean": 0.0506, "std": 0.0086}
    assert rec["converged"] and rec["divergences"] == 0 and rec["hints"] == []
    table = {line.split()[0]: line for line in res.output.splitlines() if "σ" in line}
    for name, (mean, std) in PLANCK2018.items():
        p = rec["params"][name]
        assert abs(p["shift_sigma"]) <= 0.3, (name, p["mean"], mean)
        assert p["std"] == pytest.approx(std, rel=0.25), name
        assert f"{p['shift_sigma']:+.2f}σ" in table[name]  # the printed shift is the recorded one
    assert "within 0.3 sigma" in res.output


@pytest.mark.slow
def test_demo_posterior_with_the_planck2018_tau_prior():
    """The option kept: τ ~ N(0.0544, 0.0073), Planck's TT,TE,EE+lowE posterior, counts the
    high-ℓ pull on τ twice; τ, A_s and σ8 then sit higher (measured +0.5σ, +0.45σ, +0.35σ) but
    every mean stays within 1σ of Planck 2018 TT,TE,EE+lowE."""
    run = load_run_config(demo_config("planck2018"))
    result = sample_posterior(run.posterior, jax.random.key(0), run.nuts,
                              reference=run.reference, progress=False)
    assert result.converged and result.divergences == 0
    chains = result.chains
    for name, (mean, std) in PLANCK2018.items():
        x = chains.column(name)
        assert abs(x.mean() - mean) < std, (name, x.mean(), mean)
        assert x.std() == pytest.approx(std, rel=0.25)
