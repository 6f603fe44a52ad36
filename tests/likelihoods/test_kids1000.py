"""KiDS-1000 COSEBIs: the shipped data against the public files' layout, the S8 → A_s and
η0(A_bary) parametrisation, the δz prior of the example config against the data files."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import cosmoemu
from cosmoemu.inference._from_config import load_run_config
from cosmoemu.likelihoods import KiDS1000COSEBIs, kids1000_nz, load_kids1000

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "kids1000_cosebis.yaml"


@pytest.fixture(scope="module")
def run():
    return load_run_config(CONFIG)


def test_shipped_data_layout():
    cos = load_kids1000("cosebis")
    assert cos["value"].shape == (300,) and cos["cov"].shape == (300, 300)
    # 15 pairs (i <= j of 5 bins) × 20 modes, each exactly once
    rows = set(zip(cos["bin1"].tolist(), cos["bin2"].tolist(), cos["n"].tolist(), strict=True))
    assert len(rows) == 300 and all(1 <= i <= j <= 5 for i, j, _ in rows)
    assert np.all(np.linalg.eigvalsh(cos["cov"]) > 0)
    xi = load_kids1000("xipm")
    assert xi["cov"].shape == (270, 270) and np.array_equal(xi["cov"], xi["cov"].T)
    z, nz = kids1000_nz()
    assert nz.shape == (5, z.size) and z[0] == 0 and np.all(nz[:, 0] == 0)
    means = (nz * z).sum(1) / nz.sum(1)
    np.testing.assert_allclose(means, [0.26, 0.40, 0.56, 0.79, 0.98], atol=0.01)
    nzd = load_kids1000("nz")
    np.testing.assert_array_equal(nzd["dz_mean"], [0.0, -0.002, -0.013, -0.011, 0.006])


def test_fiducial_selection_is_75_points_in_file_order(run):
    lik = run.posterior.likelihoods[0]
    cos = load_kids1000("cosebis")
    keep = cos["n"] <= 5
    assert lik.data.shape == (75,)
    np.testing.assert_array_equal(lik.data, cos["value"][keep])
    cov = np.linalg.inv(lik.whitening.T @ lik.whitening)
    np.testing.assert_allclose(cov, cos["cov"][np.ix_(keep, keep)], rtol=1e-8)


def test_config_prior_on_dz_is_the_published_one(run):
    nzd = load_kids1000("nz")
    joint = [p for names, p in run.posterior.prior_terms if names[0] == "dz_1"]
    assert joint
    np.testing.assert_allclose(np.asarray(joint[0].mean), nzd["dz_mean"])
    chol = np.asarray(joint[0].chol)
    np.testing.assert_allclose(chol @ chol.T, nzd["dz_cov"], rtol=1e-10)


def test_s8_and_eta0_parametrisation(run):
    lik = run.posterior.likelihoods[0]
    vals = {**run.reference, "S8": 0.78, "c_min": 3.0}
    p = lik.cosmology_params(vals)
    assert float(p["eta_0"]) == pytest.approx(0.98 - 0.12 * 3.0)
    s8 = cosmoemu.S8({k: v for k, v in p.items()})
    assert float(s8) == pytest.approx(0.78, rel=1e-5)


def test_likelihood_prefers_the_published_s8(run):
    """−2 ln L along S8 at the reference point has its minimum near the published 0.76 and
    rises by > 4 at ±0.06 (the published 1σ is 0.022)."""
    post = run.posterior
    x0 = jnp.asarray([run.reference[n] for n in post.sampled])
    i = post.sampled.index("S8")
    grid = np.array([0.64, 0.70, 0.73, 0.76, 0.79, 0.82, 0.88])
    chi2 = np.array([-2 * float(post.loglike(x0.at[i].set(s))) for s in grid])
    best = grid[np.argmin(chi2)]
    assert 0.70 <= best <= 0.82
    assert chi2[grid == 0.70][0] - chi2.min() > 4 or chi2[grid == 0.82][0] - chi2.min() > 4
    assert 60 < chi2.min() < 110  # 75 data points: a good fit is χ² ~ 75 ± 12


def test_outside_the_box_and_bad_options():
    lik = KiDS1000COSEBIs()
    vals = {"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.7, "n_s": 0.97, "S8": 3.0,
            "c_min": 2.5, "A_IA": 0.0, **{f"dz_{i}": 0.0 for i in range(1, 6)}}
    assert np.isnan(float(lik.loglike(vals)))  # S8 = 3 needs ln10^10 A_s > 3.91
    with pytest.raises(ValueError, match="n_max"):
        KiDS1000COSEBIs(n_max=30)
    with pytest.raises(ValueError, match="amplitude"):
        KiDS1000COSEBIs(amplitude="sigma8")
    with pytest.raises(FileNotFoundError, match="kids1000_cosebis.npz"):
        KiDS1000COSEBIs(data_dir="/nonexistent")
