"""Designs: the shared Latin hypercube reproduced bit for bit; the defining properties of each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cosmoemu.data import DesignSpec, ParameterBox, load_config, make_design

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parents[2]
BOX = ParameterBox(("x", "y", "z"), (0.0, -1.0, 10.0), (1.0, 1.0, 20.0))


def test_example_config_reproduces_shared_design():
    """examples/generate_lcdm_cmb.yaml gives exactly the shared set's rows 0 and 5999."""
    cfg = load_config(REPO / "examples" / "generate_lcdm_cmb.yaml")
    params, region = make_design(cfg.box, cfg.designs)
    assert params.shape == (6000, 6) and np.all(region == 0)
    for row in (0, 5999):
        with np.load(FIXTURES / "cmb_lcdm_camb_2rows" / f"chunk_{row:05d}.npz") as f:
            assert tuple(f["names"]) == cfg.box.names
            np.testing.assert_array_equal(params[row], f["params"][0])


def _strata_filled(unit: np.ndarray) -> bool:
    """Each 1-d projection has exactly one point in each of the n equal strata."""
    n = len(unit)
    return all(np.array_equal(np.sort(np.floor(unit[:, j] * n)), np.arange(n))
               for j in range(unit.shape[1]))


@pytest.mark.parametrize("kind", ["lhs", "sobol"])
def test_lhs_and_sobol_stratify_every_axis(kind):
    # LHS by construction; scrambled Sobol with n = 2^m is a (0, m, 1)-net in each axis
    params, _ = make_design(BOX, [DesignSpec(kind, n=64, seed=5)])
    lo, hi = np.array(BOX.low), np.array(BOX.high)
    assert _strata_filled((params - lo) / (hi - lo))


def test_uniform_mean_within_monte_carlo_error():
    n = 4000
    params, _ = make_design(BOX, [DesignSpec("uniform", n=n, seed=1)])
    lo, hi = np.array(BOX.low), np.array(BOX.high)
    z = (params.mean(0) - (lo + hi) / 2) / ((hi - lo) / np.sqrt(12 * n))
    assert np.all(np.abs(z) < 4)
    assert np.all((params >= lo) & (params <= hi))


def test_gaussian_moments_within_monte_carlo_error():
    n = 20000
    cov = np.array([[0.01, 0.004, 0.0], [0.004, 0.04, -0.01], [0.0, -0.01, 0.25]])
    spec = DesignSpec("gaussian", n=n, seed=2, fiducial=(0.5, 0.0, 15.0),
                      covariance=tuple(map(tuple, cov)), truncate=False)
    params, _ = make_design(BOX, [spec])
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(params.mean(0) - spec.fiducial) < 4 * sd / np.sqrt(n))
    # sample covariance: standard error of cov_ij ~ sqrt((s_ii s_jj + s_ij^2) / n)
    err = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(params.T) - cov) < 4 * err)


def test_truncated_gaussian_stays_in_box():
    spec = DesignSpec("gaussian", n=500, seed=3, fiducial=(0.9, 0.9, 19.0), sigma=(0.2, 0.2, 2.0))
    params, _ = make_design(BOX, [spec])
    assert len(params) == 500
    assert np.all((params >= BOX.low) & (params <= BOX.high))


def test_ellipsoid_is_uniform_inside_radius():
    n, d, radius = 8000, 3, 2.0
    sigma = (0.05, 0.1, 1.0)
    spec = DesignSpec("ellipsoid", n=n, seed=4, fiducial=(0.5, 0.0, 15.0), sigma=sigma,
                      radius=radius, truncate=False)
    params, _ = make_design(BOX, [spec])
    r = np.linalg.norm((params - spec.fiducial) / sigma, axis=1)
    assert r.max() <= radius
    # uniform in a d-ball: P(r < radius / 2) = 2^-d
    p, frac = 0.5**d, np.mean(r < radius / 2)
    assert abs(frac - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_union_is_seeded_and_labels_regions():
    specs = [DesignSpec("lhs", n=10, seed=1), DesignSpec("sobol", n=8, seed=1),
             DesignSpec("uniform", n=5, seed=9)]
    a, region = make_design(BOX, specs)
    b, _ = make_design(BOX, specs)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(region, [0] * 10 + [1] * 8 + [2] * 5)
    np.testing.assert_array_equal(a[:10], make_design(BOX, specs[:1])[0])
    c, _ = make_design(BOX, [DesignSpec("lhs", n=10, seed=2)])
    assert not np.allclose(a[:10], c)


def test_grouped_design_shares_parameters_within_groups():
    """group/shared: ceil(n/group) Latin-hypercube points of the shared parameters, each
    repeated over `group` consecutive rows; the other parameters stratify all n rows."""
    box = ParameterBox(("a", "b", "c"), (0.0, 10.0, -1.0), (1.0, 20.0, 1.0))
    spec = DesignSpec("lhs", 100, seed=3, group=8, shared=("a", "c"))
    pts, _ = make_design(box, [spec])
    assert pts.shape == (100, 3)
    groups = [pts[i:i + 8] for i in range(0, 100, 8)]
    assert len(groups) == 13
    for g in groups:
        assert np.all(g[:, [0, 2]] == g[0, [0, 2]])
    outer = np.array([g[0, [0, 2]] for g in groups])
    # the 13 group points stratify each shared axis: one per 1/13 bin
    for j, (lo, hi) in enumerate([(0.0, 1.0), (-1.0, 1.0)]):
        bins = np.floor((outer[:, j] - lo) / (hi - lo) * 13).astype(int)
        assert sorted(bins) == list(range(13))
    bins_b = np.floor((pts[:, 1] - 10.0) / 10.0 * 100).astype(int)
    assert sorted(bins_b) == list(range(100))
    again, _ = make_design(box, [spec])
    np.testing.assert_array_equal(pts, again)
    assert spec.to_json()["group"] == 8 and spec.to_json()["shared"] == ["a", "c"]
