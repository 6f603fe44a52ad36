"""The 3x2pt likelihood: the Stage-IV configs (157 and 57 parameters), zero at the mock, its χ²
against a covariance built element by element, the k_max mask, config errors."""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu._config import load_yaml
from cosmoemu._errors import ConfigError
from cosmoemu.cosmology import TomographicSpectra, shape_noise
from cosmoemu.inference._from_config import load_run_config
from cosmoemu.likelihoods import Tomographic3x2ptLikelihood, survey_nz

ROOT = Path(__file__).resolve().parents[2]
CONFIG_157 = ROOT / "examples" / "stage4_3x2pt_157.yaml"
CONFIG_EUCLID = ROOT / "examples" / "stage4_3x2pt_euclid.yaml"
COSMO = {"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.67, "n_s": 0.965, "ln10^{10}A_s": 3.05,
         "c_min": 2.6, "eta_0": 0.70}


@pytest.fixture(scope="module")
def run157():
    return load_run_config(CONFIG_157)


@pytest.fixture(scope="module")
def run57():
    return load_run_config(CONFIG_EUCLID)


@pytest.fixture(scope="module")
def small():
    """2 source + 2 lens bins (Euclid-like parent), 5 ℓ bins in [20, 2000]."""
    z, nz = survey_nz({"z0": 0.9 / math.sqrt(2.0), "alpha": 1.5, "sigma0": 0.05, "n_bins": 2})
    edges = np.geomspace(20.0, 2000.0, 6)
    mock = {**COSMO, "A_IA_1": 0.9, "A_IA_2": 0.5, "dz_src_1": 0.0, "dz_src_2": 0.0,
            "m_1": 0.01, "m_2": 0.01, "dz_lens_1": 0.0, "dz_lens_2": 0.0}
    n_s, n_l = shape_noise(0.30, 30.0, 2), shape_noise(1.0, 20.0, 2)
    lik = Tomographic3x2ptLikelihood(z, nz, nz, edges, n_s, n_l, 0.3636, mock, prefix="t_")
    return lik, z, nz, edges, n_s, n_l


def test_configs_have_157_and_57_parameters(run157, run57):
    post = run157.posterior
    assert post.ndim == 157
    for s in ("s1_", "s2_", "s3_"):
        for p in ("A_IA", "dz_src", "m", "b", "dz_lens"):
            assert {f"{s}{p}_{i}" for i in range(1, 11)} <= set(post.sampled)
    assert len(post.likelihoods) == 3
    assert run57.posterior.ndim == 57
    assert {f"b_{i}" for i in range(1, 11)} <= set(run57.posterior.sampled)


def test_zero_at_the_mock(run157, run57):
    """float64: −χ²/2 = 0 to rounding for every survey; float32 posterior: ≈ 0."""
    for lik in run157.posterior.likelihoods:
        with jax.enable_x64(True):
            values = {k: jnp.float64(v) for k, v in lik.fiducial.items()}
            assert abs(float(lik.loglike(values))) < 1e-8
        # the mock's b_i = 1 + z̄_i and the config's ref agree to the 4 digits written
        b = [lik.fiducial[f"{lik.prefix}b_{i}"] for i in range(1, 11)]
        assert np.allclose(b, [run157.reference[f"{lik.prefix}b_{i}"] for i in range(1, 11)],
                           atol=6e-5)
    post, lik = run57.posterior, run57.posterior.likelihoods[0]
    x = jnp.asarray([lik.fiducial[n] for n in post.sampled], jnp.float32)
    assert abs(float(post.loglike(x))) < 1e-2


def _covariance(lik, z, nz, edges, n_s, n_l):
    """The Gaussian covariance of the kept points, element by element, from spectra of every
    tracer pair (lens cross-spectra included) evaluated here at the mock."""
    ell = np.sqrt(edges[1:] * edges[:-1])
    tomo = TomographicSpectra(ell, z, nz, nz, clustering_cross=True, source_dz_prefix="dz_src",
                              policy="clip")
    fid = {k.removeprefix("t_"): v for k, v in lik.fiducial.items()}
    with jax.enable_x64(True):
        cls = {k: np.asarray(v) for k, v in tomo({k: jnp.float64(v)
                                                  for k, v in fid.items()}).items()}
    ns, nl = 2, 2
    spec = {}
    for p, (i, j) in enumerate(zip(*tomo.pairs["shear"], strict=True)):
        spec[("s", i), ("s", j)] = spec[("s", j), ("s", i)] = cls["shear"][p]
    for p, (i, j) in enumerate(zip(*tomo.pairs["ggl"], strict=True)):
        spec[("l", i), ("s", j)] = spec[("s", j), ("l", i)] = cls["ggl"][p]
    for p, (i, j) in enumerate(zip(*tomo.pairs["clustering"], strict=True)):
        spec[("l", i), ("l", j)] = spec[("l", j), ("l", i)] = cls["clustering"][p]

    def total(a, b, beta):
        noise = (n_s if a[0] == "s" else n_l)[a[1]] if a == b else 0.0
        return spec[a, b][beta] + noise

    # data order: shear i <= j, ggl lens-major, clustering autos; ℓ fastest
    pairs = ([(("s", i), ("s", j)) for i in range(ns) for j in range(i, ns)]
             + [(("l", i), ("s", j)) for i in range(nl) for j in range(ns)]
             + [(("l", i), ("l", i)) for i in range(nl)])
    points = [(p, beta) for p in range(len(pairs)) for beta in range(ell.size)
              if lik.keep[p, beta]]
    cov = np.zeros((len(points), len(points)))
    for x, (p, beta) in enumerate(points):
        for y, (q, gamma) in enumerate(points):
            if beta != gamma:
                continue
            (a, b), (c, d) = pairs[p], pairs[q]
            lo, hi = edges[beta], edges[beta + 1]
            modes = (2.0 * 0.5 * (lo + hi) + 1.0) * (hi - lo) * 0.3636
            cov[x, y] = (total(a, c, beta) * total(b, d, beta)
                         + total(a, d, beta) * total(b, c, beta)) / modes
    return points, cov


def test_chi2_against_an_elementwise_covariance(small):
    lik = small[0]
    points, cov = _covariance(*small)
    assert len(points) == lik.n_kept < lik.keep.size  # some points are cut
    shifted = {**lik.fiducial, "omega_cdm": 0.1215, "t_A_IA_2": 0.6, "t_b_1": 1.4,
               "t_dz_lens_2": 0.002, "t_m_1": 0.02}
    with jax.enable_x64(True):
        values = {k: jnp.float64(v) for k, v in shifted.items()}
        ours = -2.0 * float(lik.loglike(values))
        model = np.asarray(lik.model(values))
    d = np.array([model[p, b] - lik.data[p, b] for p, b in points])
    chi2 = float(d @ np.linalg.solve(cov, d))
    assert chi2 > 10  # the shift is detectable
    assert ours == pytest.approx(chi2, rel=1e-8)


def test_mask_keeps_ell_below_the_lens_cut(small):
    lik = small[0]
    ell = lik.tomo.ell
    lmax = lik.lens_ell_max
    assert lmax.shape == (2,) and np.all(np.diff(lmax) > 0) and 100 < lmax[0] < 2000
    keep = lik.keep
    assert keep[:3].all()  # shear: every ℓ
    for i in range(2):
        for j in range(2):
            np.testing.assert_array_equal(keep[3 + 2 * i + j], ell <= lmax[i])  # ggl (l_i, s_j)
        np.testing.assert_array_equal(keep[7 + i], ell <= lmax[i])  # clustering (l_i, l_i)
    # the fixed cut: k_max χ(z̄_i) at the mock, z̄_i the mean of the lens n_i(z)
    z, nz = small[1], small[2]
    z_bar = np.trapezoid(z * nz, z, axis=1) / np.trapezoid(nz, z, axis=1)
    np.testing.assert_allclose([lik.fiducial[f"t_b_{i}"] - 1.0 for i in (1, 2)], z_bar,
                               rtol=2e-3)


@pytest.mark.parametrize(("block", "key", "value", "match"), [
    ("sources", "z0", -1.0, r"likelihood\.s1\.sources\.z0': must be > 0"),
    ("lenses", "n_gal", None, r"likelihood\.s1\.lenses\.n_gal': is required"),
    ("lenses", "sigma_z", 0.05, r"likelihood\.s1\.lenses\.sigma_z': unknown field"),
    ("sources", "n_bins", 2.5, r"likelihood\.s1\.sources\.n_bins'"),
])
def test_bad_survey_field_is_named(block, key, value, match):
    cfg = load_yaml(CONFIG_157)
    entry = dict(cfg["likelihood"]["s1"])
    spec = dict(entry[block])
    if value is None:
        spec.pop(key)
    else:
        spec[key] = value
    entry[block] = spec
    with pytest.raises(ConfigError, match=match):
        load_run_config({**cfg, "likelihood": {**cfg["likelihood"], "s1": entry}})
