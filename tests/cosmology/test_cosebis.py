"""COSEBIs: the logarithmic filters against the KiDS tables and their defining conditions; E_n
from C_ℓ against the independent real-space route with analytic ξ±; JAX transformations."""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, special

from cosmoemu.cosmology import (
    cosebis,
    cosebis_filters,
    cosebis_matrix,
    cosebis_t_minus,
    cosebis_t_plus,
    cosebis_w,
)

FIXTURES = Path(__file__).parent / "fixtures"
ARCMIN = math.pi / 180 / 60
TMIN, TMAX = 0.5, 300.0
ELL = np.geomspace(1.0, 1e5, 100)
N_MAX = 8

# A shear-like C_ℓ whose ξ± are analytic: a sum of exponentials (ℓ²C rises to ℓ ~ 10⁴; the
# part above ℓ = 10⁵, which the matrix drops, is < 1e-10 of every E_n here).
AMP = np.array([3e-9, 1e-9, 1e-10, 1e-11])
LSC = np.array([30.0, 300.0, 3000.0, 8000.0])


def c_exp(ell):
    return (AMP * np.exp(-np.asarray(ell)[..., None] / LSC)).sum(-1)


def xi_exp(theta_rad, nu):
    """∫_0^∞ ℓdℓ/2π e^{-aℓ} J_ν(bℓ) = b^{-ν}(r − a)^ν (a + ν r)/(2π r³), r = √(a² + b²)."""
    a, b = 1.0 / LSC, np.asarray(theta_rad)[..., None]
    r = np.sqrt(a * a + b * b)
    return (AMP * b**-nu * (r - a) ** nu * (a + nu * r) / r**3).sum(-1) / (2 * np.pi)


def _table(name):
    rows = [line.split() for line in (FIXTURES / name).read_text().splitlines() if line.strip()]
    return {int(r[0]): r[1:] for r in rows}


@pytest.fixture(scope="module")
def filters20():
    return cosebis_filters(TMIN, TMAX, 20)


@pytest.fixture(scope="module")
def matrix():
    return cosebis_matrix(ELL, TMIN, TMAX, N_MAX)


def _z_quadrature(n=100):
    """Gauss–Legendre in z = ln(θ/θ_min) on [0, Z]: θ (arcmin) and weights of ∫ dθ θ (rad²)."""
    x, w = np.polynomial.legendre.leggauss(n)
    zmax = math.log(TMAX / TMIN)
    z = 0.5 * zmax * (x + 1)
    theta = TMIN * np.exp(z)
    return theta, 0.5 * zmax * w * (theta * ARCMIN) ** 2


def test_roots_match_kids_table(filters20):
    """Roots r_{n,i} for n = 1..20 agree with the KiDS table to its printed 8 significant
    digits (measured: within the rounding half-unit of the last digit everywhere)."""
    roots, _ = filters20
    table = _table("cosebis_roots_0.50-300.00.table")
    for n in range(1, 21):
        printed = table[n]
        ref = np.array([float(s) for s in printed])
        # half a unit in the last printed digit (8 significant digits, trailing zeros dropped)
        half_ulp = 0.5 * 10.0 ** (np.floor(np.log10(np.abs(ref))) - 7)
        assert roots[n - 1].shape == (n + 1,)
        assert np.all(np.abs(roots[n - 1] - ref) <= half_ulp * 1.001), n


def test_norms_match_kids_table(filters20):
    """N_n for n = 1..20 against the table's 50-digit values: 1 ulp in float64, and < 1e-38
    relative at the mpmath working precision (measured ≤ 1e-39)."""
    from cosmoemu.cosmology._cosebis import _filters

    _, norms = filters20
    table = _table("cosebis_norms_0.50-300.00.table")
    ref = np.array([float(table[n][0]) for n in range(1, 21)])
    np.testing.assert_allclose(norms, ref, rtol=2.5e-16, atol=0)
    # high precision: rebuild N_n from the cached exact monic polynomials
    polys = _filters(TMIN, TMAX, 20)[2]
    with mp.workdps(60):
        zmax = mp.log(mp.mpf(TMAX) / TMIN)
        for n in (1, 5, 12, 20):
            c = polys[n - 1]
            sq = mp.quad(lambda z, c=c: mp.exp(z) * mp.polyval(c[::-1], z) ** 2, [0, zmax])
            norm = mp.sqrt((mp.exp(zmax) - 1) / sq)
            assert abs(norm / mp.mpf(table[n][0]) - 1) < 1e-38, n


def test_filters_defining_conditions(filters20):
    """(θmax − θmin)⁻¹ ∫ dθ T₊ₘ T₊ₙ = δ_mn to 3e-12 (measured ≤ 1.2e-12, at n ~ 18) and
    ∫ dθ θ T₊ₙ = ∫ dθ θ³ T₊ₙ = 0 to 1e-13 of ∫ dθ θ^k |T₊ₙ| (measured ≤ 6e-14, the rounding
    of the quadrature sum), n ≤ 20, by 100-point Gauss–Legendre in z."""
    theta, w_theta = _z_quadrature()
    t = cosebis_t_plus(theta, TMIN, TMAX, 20)  # (20, n_θ)
    w_dtheta = w_theta / (theta * ARCMIN) ** 2 * theta  # dθ in arcmin
    gram = (t * w_dtheta) @ t.T / (TMAX - TMIN)
    np.testing.assert_allclose(gram, np.eye(20), rtol=0, atol=3e-12)
    for k, w in ((1, w_theta), (3, w_theta * (theta * ARCMIN) ** 2)):
        assert np.all(np.abs(t @ w) < 1e-13 * (np.abs(t) @ w)), k


def test_t_minus_against_quad():
    """T₋ₙ against scipy quad of its definition T₋(θ) = T₊(θ) + ∫_{θmin}^θ dϑ ϑ T₊(ϑ)
    (4/θ² − 12ϑ²/θ⁴): 1e-10 absolute (|T₋| ~ 1)."""
    for theta in (0.7, 3.0, 41.0, 299.0):
        tm = cosebis_t_minus(theta, TMIN, TMAX, 5)
        for n in range(5):
            f = lambda v, n=n, th=theta: v * cosebis_t_plus(v, TMIN, TMAX, 5)[n] * (  # noqa: E731
                4 / th**2 - 12 * v**2 / th**4)
            ref = cosebis_t_plus(theta, TMIN, TMAX, 5)[n] + integrate.quad(
                f, TMIN, theta, epsabs=1e-13, limit=200)[0]
            assert tm[n] == pytest.approx(ref, abs=1e-10)


def test_w_against_quad():
    """W_n(ℓ) = ∫ dθ θ T₊ₙ J₀(ℓθ) against scipy quad period by period, ℓ up to 5·10⁴:
    1e-17 of max_θ θ² |T₊ₙ| (measured ≤ 7e-19; relative to W_n itself ≤ 1e-14 for ℓ ≤ 700,
    2e-10 at ℓ = 5·10⁴ where W_n is a 10⁻⁸ remnant of cancellation); and W_n = O(ℓ⁴) at
    small ℓ (the two constraints): W_n(1) = ℓ⁴/64 ∫ dθ θ⁵ T₊ₙ to 1e-3 (the next order is
    (ℓθmax)²/36 ≈ 2e-4)."""
    ell = np.array([30.0, 700.0, 5e4])
    w = cosebis_w(ell, TMIN, TMAX, 3)
    a, b = TMIN * ARCMIN, TMAX * ARCMIN
    scale = b**2 * np.abs(cosebis_t_plus(np.geomspace(TMIN, TMAX, 500), TMIN, TMAX, 3)).max()
    for j, ll in enumerate(ell):
        edges = np.unique(np.clip(np.arange(a, b + 2 * np.pi / ll, 2 * np.pi / ll), a, b))
        edges = np.concatenate([np.geomspace(a, edges[1], 12)[:-1], edges[1:]])
        for n in range(3):
            f = lambda th, n=n, ll=ll: th * cosebis_t_plus(  # noqa: E731
                th / ARCMIN, TMIN, TMAX, 3)[n] * special.j0(ll * th)
            ref = sum(integrate.quad(f, lo, hi, epsabs=1e-13 * scale / edges.size,
                                     epsrel=1e-12)[0]
                      for lo, hi in zip(edges[:-1], edges[1:], strict=True))
            assert abs(w[n, j] - ref) < 1e-17 * scale, (n, ll)
    theta, w_theta = _z_quadrature()
    m5 = cosebis_t_plus(theta, TMIN, TMAX, 3) @ (w_theta * (theta * ARCMIN) ** 4)
    np.testing.assert_allclose(cosebis_w(np.array([1.0]), TMIN, TMAX, 3)[:, 0], m5 / 64,
                               rtol=1e-3)


def test_en_against_real_space_route(matrix, x64):
    """E_n from C_ℓ (100 log nodes in [1, 10⁵]) against ½∫ dθ θ [T₊ξ₊ + T₋ξ₋] with the
    analytic ξ± of the sum of exponentials, n = 1..8: within 1e-6 of the cancellation-free
    size s_n = Σᵢ |M_ni Cᵢ| (measured ≤ 5.3e-7) and 1.5e-5 relative for n ≤ 6 (measured
    ≤ 8.3e-6; E_7 ≈ 0 here). The error is the spline of C between the nodes (e^{-ℓ/L} is steep
    in ln ℓ; 200 nodes: ≤ 1.3e-6 relative). Each half alone gives E_n too (pure E mode)."""
    theta, w_theta = _z_quadrature()
    tp = cosebis_t_plus(theta, TMIN, TMAX, N_MAX)
    tm = cosebis_t_minus(theta, TMIN, TMAX, N_MAX)
    e_plus = tp @ (w_theta * xi_exp(theta * ARCMIN, 0))
    e_minus = tm @ (w_theta * xi_exp(theta * ARCMIN, 4))
    size = np.abs(matrix) @ c_exp(ELL)
    assert np.all(np.abs(e_plus - e_minus) < 1e-12 * size)
    e_ref = 0.5 * (e_plus + e_minus)
    e = np.asarray(cosebis(ELL, jnp.asarray(c_exp(ELL)), TMIN, TMAX, N_MAX))
    assert np.all(np.abs(e - e_ref) < 1e-6 * size)
    np.testing.assert_allclose(e[:6], e_ref[:6], rtol=1.5e-5)
    np.testing.assert_allclose(e, matrix @ c_exp(ELL), rtol=1e-11)


def test_en_float32_close_to_float64(matrix):
    """JAX's default float32: the matrix is cast too; E_n within 1e-6 of s_n = Σᵢ |M_ni Cᵢ|
    of float64 (measured ≤ 1.2e-7; ≤ 1.1e-6 relative except the near-zero E_7 here)."""
    e32 = cosebis(ELL, jnp.asarray(c_exp(ELL), jnp.float32), TMIN, TMAX, N_MAX)
    assert e32.dtype == jnp.float32
    size = np.abs(matrix) @ c_exp(ELL)
    assert np.all(np.abs(np.asarray(e32, np.float64) - matrix @ c_exp(ELL)) < 1e-6 * size)


def test_jit_vmap_grad(matrix, x64):
    """A batch of 15 pairs, jit, vmap, and grad of a sum = the matrix's column sums."""
    rng = np.random.default_rng(3)
    cl = jnp.asarray(c_exp(ELL)[None, :] * rng.uniform(0.5, 2.0, (15, 1)))
    f = jax.jit(lambda c: cosebis(ELL, c, TMIN, TMAX, N_MAX))
    e = f(cl)
    assert e.shape == (15, N_MAX)
    np.testing.assert_allclose(e, np.asarray(cl) @ matrix.T, rtol=1e-11)
    np.testing.assert_allclose(jax.vmap(f)(cl), e, rtol=1e-11)
    g = jax.grad(lambda c: jnp.sum(f(c)))(cl)
    np.testing.assert_allclose(g, np.broadcast_to(matrix.sum(0), (15, ELL.size)), rtol=1e-13)
    g1 = jax.grad(lambda c: f(c)[2])(cl[0])
    np.testing.assert_allclose(g1, matrix[2], rtol=1e-13)


def test_cache_and_checks(matrix):
    assert cosebis_matrix(ELL.copy(), TMIN, TMAX, N_MAX) is matrix  # keyed by the bytes
    assert not matrix.flags.writeable
    with pytest.raises(ValueError):
        cosebis(ELL, jnp.ones(ELL.size - 1), TMIN, TMAX, N_MAX)
    with pytest.raises(ValueError):
        cosebis_filters(3.0, 2.0, 5)
    with pytest.raises(ValueError):
        cosebis_matrix(ELL[::-1])
