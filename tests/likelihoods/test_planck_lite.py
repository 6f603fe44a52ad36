"""Planck 2018 plik_lite against the published reference log-likelihoods."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu.likelihoods import PlanckLite, cl_from_dl, load_plik_lite_data, planck_lite_loglike

DATA = Path(__file__).parent / "data" / "Dl_planck2015fit.dat"

# Reference values shipped with plik_lite at Dl_planck2015fit.dat, A_planck = 1.
REFERENCE = {
    ("TTTEEE", False): -291.33481235418026,
    ("TTTEEE", True): -293.95586501795134,
    ("TT", False): -101.58123068722583,
    ("TT", True): -104.20228335099686,
}


@pytest.fixture(scope="module")
def spectra() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw dimensionless C_ell (what the likelihood reads) of the shipped D_ell [μK²]."""
    ref = np.loadtxt(DATA)
    assert ref[0, 0] == 2 and ref[-1, 0] == 2508
    ell = ref[:, 0]
    to_cl = 2 * np.pi / (ell * (ell + 1)) / (2.7255e6) ** 2  # written out: an independent check
    np.testing.assert_allclose(cl_from_dl(ref[:, 1]), ref[:, 1] * to_cl, rtol=1e-14)
    return ref[:, 1] * to_cl, ref[:, 2] * to_cl, ref[:, 3] * to_cl


@pytest.mark.parametrize(("kind", "low"), list(REFERENCE))
def test_reference_loglike_float64(spectra, kind, low):
    with jax.enable_x64(True):
        got = float(planck_lite_loglike(*spectra, 1.0, spectra=kind, low_ell_bins=low))
    assert got == pytest.approx(REFERENCE[(kind, low)], abs=1e-6)


@pytest.mark.parametrize(("kind", "low"), list(REFERENCE))
def test_reference_loglike_float32_jit(spectra, kind, low):
    """float32 (the default) keeps the absolute error ~1e-5 on |ln L| ~ 300."""
    lik = PlanckLite(kind, low_ell_bins=low)
    args = [jnp.asarray(s, jnp.float32) for s in spectra]
    got = jax.jit(lambda *a: lik(*a))(*args, jnp.float32(1.0))
    assert got.dtype == jnp.float32
    # float32 spacing at 300 is 3e-5; allow a few ulps of accumulated rounding
    assert abs(float(got) - REFERENCE[(kind, low)]) < 2e-4


def test_calibration_divides_model_by_a_squared(spectra):
    """ln L(A² D, A) = ln L(D, 1): the calibration is a rescaling of the model bandpowers."""
    with jax.enable_x64(True):
        lik = PlanckLite("TTTEEE", low_ell_bins=True)
        a = 1.0031
        scaled = [s * a**2 for s in spectra]
        assert float(lik(*scaled, a)) == pytest.approx(REFERENCE[("TTTEEE", True)], abs=1e-8)
        assert float(lik(*spectra, a)) < REFERENCE[("TTTEEE", True)] - 1.0


def test_gradient_matches_finite_differences(spectra):
    with jax.enable_x64(True):
        lik = PlanckLite("TTTEEE", low_ell_bins=True)
        args = tuple(jnp.asarray(s) for s in spectra) + (jnp.asarray(1.0),)
        grads = jax.jit(jax.grad(lik, argnums=(0, 1, 2, 3)))(*args)
        rng = np.random.default_rng(3)
        one_muk2 = cl_from_dl(np.ones_like(spectra[0]))  # D_ell = 1 μK² as raw C_ell
        direction = [rng.normal(size=s.shape) * 0.01 * (np.abs(s) + one_muk2) for s in spectra]
        direction.append(np.array(0.003))
        h = 1e-3
        plus = lik(*[a + h * d for a, d in zip(args, direction, strict=True)])
        minus = lik(*[a - h * d for a, d in zip(args, direction, strict=True)])
        fd = (plus - minus) / (2 * h)
        ad = sum(jnp.vdot(g, d) for g, d in zip(grads, direction, strict=True))
        assert float(ad) == pytest.approx(float(fd), rel=1e-6)
        # A_planck alone
        g_a = float(grads[3])
        fd_a = (lik(*args[:3], 1.0 + 1e-6) - lik(*args[:3], 1.0 - 1e-6)) / 2e-6
        assert g_a == pytest.approx(float(fd_a), rel=1e-6)


def test_tt_only_needs_no_polarisation(spectra):
    with jax.enable_x64(True):
        got = float(planck_lite_loglike(spectra[0], spectra=("TT")))
    assert got == pytest.approx(REFERENCE[("TT", False)], abs=1e-6)


def test_jit_does_not_retrace(spectra):
    lik = PlanckLite("TTTEEE")
    traces = []

    @jax.jit
    def f(tt, te, ee, a):
        traces.append(1)
        return lik(tt, te, ee, a)

    args = [jnp.asarray(s, jnp.float32) for s in spectra]
    f(*args, 1.0)
    f(*[a * 1.01 for a in args], 1.001)
    assert len(traces) == 1


def test_likelihood_as_pytree_argument(spectra):
    """The likelihood is a pytree: it can be a traced argument of jit and vmap over spectra."""
    lik = PlanckLite("TT", low_ell_bins=True)
    tt = jnp.asarray(spectra[0], jnp.float32)
    batch = jnp.stack([tt, tt * 1.01])
    out = jax.jit(lambda l, b: jax.vmap(lambda s: l(s, None, None, 1.0))(b))(lik, batch)
    assert out.shape == (2,)
    assert float(out[0]) == pytest.approx(REFERENCE[("TT", True)], abs=2e-4)
    assert float(out[1]) < float(out[0])


def test_bad_inputs_name_the_problem(spectra):
    with pytest.raises(ValueError, match="spectra choice 'TTEE'"):
        PlanckLite("TTEE")
    lik = PlanckLite("TTTEEE")
    with pytest.raises(ValueError, match=r"cl_tt must be 1-d raw C_ell from ell=2 to at least "
                       r"2508"):
        lik(spectra[0][:2000], spectra[1], spectra[2])
    with pytest.raises(ValueError, match="needs cl_te"):
        lik(spectra[0], None, spectra[2])


def test_data_file_layout_and_missing_file(tmp_path):
    data = load_plik_lite_data()
    assert data.n_bins == (215, 199, 199)
    assert data.ell_ranges[0][0, 0] == 30 and data.ell_ranges[0][-1, 1] == 2508
    assert data.ell_ranges[1][-1, 1] == 1996 and data.ell_ranges[2][-1, 1] == 1996
    assert [tuple(r) for r in data.low_ell_ranges] == [(2, 15), (16, 29)]
    assert np.allclose(data.cov, data.cov.T)
    assert np.all(np.linalg.eigvalsh(data.cov) > 0)
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        load_plik_lite_data(tmp_path / "nothere.npz")
