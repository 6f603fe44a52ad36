"""The demo posterior (Planck plik_lite, τ prior, ΛCDM + A_planck) with linear stand-in emulators.

With C_ell linear in the parameters and flat priors far from the posterior, the posterior is
Gaussian up to A_planck's small non-linearity (the model is divided by A², A = 1 ± 0.0025): its
mean and covariance are the generalised-least-squares answer, computed here in numpy from the
raw plik_lite arrays (independently of the JAX likelihood). NUTS must reproduce them. The same
posterior then runs through ``cosmoemu demo`` (a smoke test of the command's outputs).
"""

from __future__ import annotations

import copy
import json

import jax
import numpy as np
import pytest
from click.testing import CliRunner

from cosmoemu.cli import main
from cosmoemu.inference import (
    T_CMB,
    EmulatorTheory,
    NUTSConfig,
    load_run_config,
    sample_posterior,
    summarize,
)
from cosmoemu.inference import _demo as demo_module
from cosmoemu.inference import _from_config as from_config
from cosmoemu.inference._demo import DEMO_CONFIG, PLANCK2018
from cosmoemu.likelihoods import load_plik_lite_data

N_ELL = 2507  # ell = 2..2508
NAMES = {"cmb_tt": "lcdm_cmb_tt", "cmb_te": "lcdm_cmb_te", "cmb_ee": "lcdm_cmb_ee",
         "derived": "lcdm_derived"}


@pytest.fixture(scope="module")
def standin_loader(cmb_standins):
    """``load_theory`` answering the demo's shipped names with the stand-ins."""
    by_name = {NAMES[k]: v for k, v in cmb_standins.items()}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(from_config, "load_theory",
                   lambda spec: EmulatorTheory({k: by_name[v] for k, v in spec.items()},
                                               names=dict(spec)))
        yield


def binning_matrix(data) -> np.ndarray:
    """(615, 3·2507): low-ell TT bins, TT, TE, EE bins acting on C_ell of TT|TE|EE."""
    rows = []
    for (lo, hi), w in zip(data.low_ell_ranges, data.low_weights, strict=True):
        r = np.zeros(3 * N_ELL)
        r[lo - 2 : hi - 1] = w
        rows.append(r)
    for s in range(3):
        for (lo, hi), w in zip(data.ell_ranges[s], data.weights[s], strict=True):
            r = np.zeros(3 * N_ELL)
            r[s * N_ELL + lo - 2 : s * N_ELL + hi - 1] = w
            rows.append(r)
    return np.array(rows)


def gls_posterior(emus, fid):
    """Mean and std of (6 cosmological parameters, A_planck) by generalised least squares,
    linearising b/A² ≈ b(1 − 2δA) around A = 1; priors: the demo's τ prior, A ~ N(1, 0.0025)."""
    data = load_plik_lite_data()
    b = binning_matrix(data)
    cov = np.zeros((615, 615))
    cov[:2, :2] = np.diag(data.low_sigma**2)
    cov[2:, 2:] = data.cov
    d = np.concatenate([data.low_cl_binned, data.cl_binned])
    keys = ("cmb_tt", "cmb_te", "cmb_ee")
    names = list(emus["cmb_tt"].parameters)
    width = np.array([emus["cmb_tt"].box[p][1] - emus["cmb_tt"].box[p][0] for p in names])
    cl_fid = np.concatenate([emus[k].base for k in keys]) * (T_CMB * 1e6) ** 2  # μK²
    slopes = np.concatenate([emus[k].slopes for k in keys], axis=1)
    b_fid = b @ cl_fid
    jac = np.column_stack([b @ (cl_fid[:, None] * slopes.T / width), -2.0 * b_fid])
    cinv = np.linalg.inv(cov)
    prec = jac.T @ cinv @ jac
    rhs = jac.T @ cinv @ (d - b_fid)
    theta0 = np.append(fid, 1.0)
    tau = DEMO_CONFIG["params"]["tau_reio"]["prior"]
    for i, (mu, sig) in ((3, (tau["loc"], tau["scale"])), (6, (1.0, 0.0025))):
        prec[i, i] += 1 / sig**2
        rhs[i] += (mu - theta0[i]) / sig**2
    post_cov = np.linalg.inv(prec)
    names.append("A_planck")
    mean = dict(zip(names, theta0 + post_cov @ rhs, strict=True))
    return mean, dict(zip(names, np.sqrt(np.diag(post_cov)), strict=True))


@pytest.fixture(scope="module")
def demo_run(standin_loader):
    run = load_run_config(DEMO_CONFIG)
    nuts = NUTSConfig(target_ess=400, min_draws=200)
    return sample_posterior(run.posterior, jax.random.key(11), nuts, reference=run.reference,
                            progress=False)


def test_nuts_matches_closed_form_planck_posterior(demo_run, cmb_standins, fid):
    mean, std = gls_posterior(cmb_standins, fid)
    box = cmb_standins["cmb_tt"].box
    for p in box:  # premise: the flat priors are far from the posterior
        assert box[p][0] + 5 * std[p] < mean[p] < box[p][1] - 5 * std[p]
    assert demo_run.converged and demo_run.divergences == 0
    rows = {s.name: s for s in summarize(demo_run.chains)}
    for p in mean:
        s = rows[p]
        z = (s.mean - mean[p]) / (std[p] / np.sqrt(s.ess_bulk))
        assert abs(z) < 4.5, (p, s.mean, mean[p], z)
        ess = min(s.ess_bulk, s.ess_tail)
        assert abs(s.std / std[p] - 1) < 4.5 / np.sqrt(2 * ess), (p, s.std, std[p])
    h = demo_run.chains.column("h")
    np.testing.assert_allclose(demo_run.chains.column("H0"), 100 * h, rtol=1e-6)


def test_demo_cli_smoke_with_standin_emulators(standin_loader, tmp_path, monkeypatch):
    """Smoke test of ``cosmoemu demo``'s outputs (stand-in emulators: not Planck's numbers)."""
    quick = copy.deepcopy(DEMO_CONFIG)  # a smaller ESS target keeps the test short
    quick["sampler"]["nuts"]["target_ess"] = 400
    monkeypatch.setattr(demo_module, "DEMO_CONFIG", quick)
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "--json",
                                    str(tmp_path / "demo.json"), "--seed", "3", "--no-cache"])
    assert res.exit_code == 0, res.output
    assert "Planck18 TTTEEE+lowE" in res.output and "σ" in res.output
    rec = json.loads((tmp_path / "demo.json").read_text())
    assert rec["seed"] == 3 and rec["num_chains"] == 4
    for name in ("omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s", "A_planck",
                 "H0", "sigma8", "S8", "thetastar", "Omega_m"):
        p = rec["params"][name]
        assert {"mean", "std", "rhat", "ess_bulk", "ess_tail"} <= set(p)
    for name in PLANCK2018:
        assert "shift_sigma" in rec["params"][name]
    assert rec["converged"] is True and rec["divergences"] == 0
    assert rec["wall_time_s"] > 0
    for suffix in (".1.txt", ".paramnames", ".input.yaml", ".summary.txt", ".triangle.png"):
        assert (out / f"planck_lite_lcdm{suffix}").stat().st_size > 0
