"""NUTS on Planck plik_lite with linear stand-in emulators against the closed-form posterior.

With C_ell linear in the parameters, A_planck fixed and flat priors far from the posterior, the
posterior is Gaussian with the generalised-least-squares mean and covariance, computed here in
numpy from the raw plik_lite arrays (independently of the JAX likelihood).
"""

from __future__ import annotations

import copy

import jax
import numpy as np
import pytest

from cosmoemu.inference import T_CMB, NUTSConfig, load_run_config, sample_posterior, summarize
from cosmoemu.inference._demo import DEMO_CONFIG
from cosmoemu.likelihoods import load_plik_lite_data

N_ELL = 2507  # ell = 2..2508


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


def gls_posterior(emus, fid, tau_prior=(0.0544, 0.0073)):
    data = load_plik_lite_data()
    b = binning_matrix(data)
    cov = np.zeros((615, 615))
    cov[:2, :2] = np.diag(data.low_sigma**2)
    cov[2:, 2:] = data.cov
    d = np.concatenate([data.low_cl_binned, data.cl_binned])
    keys = ("cmb_tt", "cmb_te", "cmb_ee")
    names = emus["cmb_tt"].parameters
    width = np.array([emus["cmb_tt"].box[p][1] - emus["cmb_tt"].box[p][0] for p in names])
    cl_fid = np.concatenate([emus[k].base for k in keys]) * (T_CMB * 1e6) ** 2  # μK²
    slopes = np.concatenate([emus[k].slopes for k in keys], axis=1)
    jac = b @ (cl_fid[:, None] * slopes.T / width)
    cinv = np.linalg.inv(cov)
    prec = jac.T @ cinv @ jac
    rhs = jac.T @ cinv @ (d - b @ cl_fid)
    i = names.index("tau_reio")
    prec[i, i] += 1 / tau_prior[1] ** 2
    rhs[i] += (tau_prior[0] - fid[i]) / tau_prior[1] ** 2
    post_cov = np.linalg.inv(prec)
    return dict(zip(names, fid + post_cov @ rhs, strict=True)), dict(
        zip(names, np.sqrt(np.diag(post_cov)), strict=True))


@pytest.fixture(scope="module")
def planck_run(cmb_standins):
    cfg = copy.deepcopy(DEMO_CONFIG)
    del cfg["theory"]
    cfg["params"]["A_planck"] = 1.0  # fixed: keeps the model linear
    cfg["params"]["omega_cdm"]["ref"] = 0.125  # start the mode search off the fiducial point
    run = load_run_config(cfg, emulators=cmb_standins)
    nuts = NUTSConfig(num_chains=4, num_warmup=200, target_ess=400, min_draws=200)
    return sample_posterior(run.posterior, jax.random.key(11), nuts, reference=run.reference,
                            progress=False)


def test_nuts_matches_closed_form_planck_posterior(planck_run, cmb_standins, fid):
    mean, std = gls_posterior(cmb_standins, fid)
    box = cmb_standins["cmb_tt"].box
    for p in mean:  # premise: the flat priors are far from the posterior
        assert box[p][0] + 5 * std[p] < mean[p] < box[p][1] - 5 * std[p]
    assert planck_run.converged and planck_run.divergences == 0
    rows = {s.name: s for s in summarize(planck_run.chains)}
    for p in mean:
        s = rows[p]
        z = (s.mean - mean[p]) / (std[p] / np.sqrt(s.ess_bulk))
        assert abs(z) < 4.5, (p, s.mean, mean[p], z)
        ess = min(s.ess_bulk, s.ess_tail)
        assert abs(s.std / std[p] - 1) < 4.5 / np.sqrt(2 * ess), (p, s.std, std[p])
    h = planck_run.chains.column("h")
    np.testing.assert_allclose(planck_run.chains.column("H0"), 100 * h, rtol=1e-6)
