"""A short Cobaya MCMC with our theory and likelihood, read back by cosmoemu.read_chains.

Truth for the numbers in the chain: our own posterior (EmulatorTheory + PlanckLite + the
priors, written out) at the same points.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

pytest.importorskip("cobaya")

from cobaya.run import run  # noqa: E402

from cosmoemu.inference import read_chains  # noqa: E402
from cosmoemu.likelihoods import PlanckLite  # noqa: E402
from cosmoemu.theory import load_theory  # noqa: E402

EMUS = {"cmb_tt": "lcdm_cmb_tt", "cmb_te": "lcdm_cmb_te", "cmb_ee": "lcdm_cmb_ee",
        "derived": "lcdm_derived"}
PRIORS = {"omch2": (0.10, 0.14), "H0": (60.0, 75.0), "logA": (2.9, 3.2)}
PROPOSAL = {"omch2": 0.0004, "H0": 0.1, "logA": 0.003}  # ~conditional widths
REF = {"omch2": 0.12, "H0": 67.4, "logA": 3.044}
FIXED = {"ombh2": 0.02237, "tau": 0.0544, "ns": 0.9649, "A_planck": 1.0}


@pytest.fixture(scope="module")
def chains_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cobaya_run") / "lite"
    params = {name: {"prior": {"min": lo, "max": hi}, "ref": REF[name],
                     "proposal": PROPOSAL[name]} for name, (lo, hi) in PRIORS.items()}
    info = {
        "theory": {"cosmoemu.cobaya.CosmoEmu": {"emulators": EMUS}},
        "likelihood": {"cosmoemu.cobaya.PlanckLite": None},
        "params": {**params, **FIXED, "sigma8": {"latex": r"\sigma_8"}, "thetastar": None},
        "sampler": {"mcmc": {"max_samples": 150, "Rminus1_stop": 100, "learn_proposal": False,
                             "burn_in": 0, "seed": 1}},
        "output": str(root),
        "force": True,
    }
    run(info)
    return root


def test_cobaya_chains_read_with_the_right_names(chains_root):
    chains = read_chains(chains_root)
    assert chains.names == ("omch2", "H0", "logA")
    assert {"sigma8", "thetastar"} <= set(chains.derived_names)
    assert chains.labels["sigma8"] == r"\sigma_8"
    n = sum(chains.lengths)
    assert n >= 100
    for i, name in enumerate(chains.names):
        lo, hi = PRIORS[name]
        col = np.concatenate([s[:, i] for s in chains.samples])
        assert lo <= col.min() and col.max() <= hi
        assert np.unique(col).size > 10  # it moved


def test_cobaya_minuslogpost_is_our_posterior(chains_root):
    """Cobaya's minuslogpost = −(ln L + ln π), normalised prior: recompute it ourselves."""
    chains = read_chains(chains_root)
    theory = load_theory(EMUS)
    lik = PlanckLite("TTTEEE")
    log_prior = -sum(math.log(hi - lo) for lo, hi in PRIORS.values())
    rows = np.concatenate(chains.samples)[::17]
    want = np.concatenate(chains.minuslogpost)[::17]
    sig8 = np.concatenate([d[:, chains.derived_names.index("sigma8")]
                           for d in chains.derived])[::17]
    with jax.enable_x64(True):
        for (omch2, h0, loga), mlp, s8 in zip(rows, want, sig8, strict=True):
            x = {"omega_b": FIXED["ombh2"], "omega_cdm": omch2, "h": h0 / 100.0,
                 "tau_reio": FIXED["tau"], "n_s": FIXED["ns"], "ln10^{10}A_s": loga}
            out = theory.compute({k: np.float64(v) for k, v in x.items()},
                                 ("cmb_tt", "cmb_te", "cmb_ee", "sigma8"))
            lnl = float(lik(out["cmb_tt"], out["cmb_te"], out["cmb_ee"], 1.0))
            # chains hold 6-7 significant digits (%.10g-like text); minuslogpost ~ 300
            assert mlp == pytest.approx(-(lnl + log_prior), abs=2e-4)
            assert s8 == pytest.approx(float(out["sigma8"]), rel=1e-6)


def test_example_yaml_builds_and_evaluates():
    """examples/cobaya_planck_lite.yaml: Cobaya builds it; at the reference point the log-
    posterior is our plik_lite (+ low-ell bins) plus its priors."""
    from pathlib import Path

    from cobaya.model import get_model
    from cobaya.yaml import yaml_load_file

    info = yaml_load_file(str(Path(__file__).parents[2] / "examples" / "cobaya_planck_lite.yaml"))
    info.pop("output"), info.pop("sampler")
    model = get_model(info)
    assert set(model.parameterization.sampled_params()) == {
        "ombh2", "omch2", "H0", "tau", "ns", "logA", "A_planck"}
    point = {"ombh2": 0.02237, "omch2": 0.12, "H0": 67.36, "tau": 0.0544, "ns": 0.9649,
             "logA": 3.044, "A_planck": 1.0}
    got = model.loglikes(point, as_dict=True)[0]["cosmoemu.cobaya.PlanckLite"]
    theory = load_theory(EMUS)
    x = {"omega_b": 0.02237, "omega_cdm": 0.12, "h": 0.6736, "tau_reio": 0.0544,
         "n_s": 0.9649, "ln10^{10}A_s": 3.044}
    with jax.enable_x64(True):
        out = theory.compute({k: np.float64(v) for k, v in x.items()},
                             ("cmb_tt", "cmb_te", "cmb_ee"))
        want = float(PlanckLite("TTTEEE", low_ell_bins=True)(
            out["cmb_tt"], out["cmb_te"], out["cmb_ee"], 1.0))
    assert got == pytest.approx(want, abs=1e-6)
