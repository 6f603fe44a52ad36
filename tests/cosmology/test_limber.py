"""Limber shear spectra: kernels against closed forms, the integral against brute-force quadrature
of the same P(k), and the nuisance conventions (dz shift, m, IA, spin factor) exactly."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, interpolate
from scipy.stats import norm

from cosmoemu.cosmology import (
    C1_RHO_CRIT,
    Cosmology,
    ShearSpectra,
    comoving_distance,
    growth_factor,
    hubble,
    pair_indices,
    shear_cl,
    spin2_factor,
)
from cosmoemu.cosmology._constants import C_KM_S
from cosmoemu.matter import matter_power

P = {"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.67, "n_s": 0.965, "ln10^{10}A_s": 3.05,
     "c_min": 2.6, "eta_0": 0.7}
Z = np.linspace(0.0, 3.0, 601)
MEANS = (0.4, 0.9)
NZ = np.stack([norm.pdf(Z, m, 0.08) for m in MEANS])
ELL = np.geomspace(20.0, 3000.0, 8)


@pytest.fixture(scope="module")
def spectra():
    return ShearSpectra(ELL, Z, NZ)


@pytest.fixture(scope="module")
def fine():
    return ShearSpectra(ELL, Z, NZ, n_z=1200)


def test_spin_factor_and_pairs():
    ell = np.array([1.0, 2.0, 3.0, 100.0])
    expect = [0.0, 24 / 2.5**4, 120 / 3.5**4, 99 * 100 * 101 * 102 / 100.5**4]
    np.testing.assert_allclose(spin2_factor(ell), expect, rtol=1e-14)
    i, j = pair_indices(3)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 0), (0, 1), (0, 2), (1, 1),
                                                              (1, 2), (2, 2)]


def test_lensing_kernel_of_a_thin_source_plane_matches_the_closed_form():
    """n(z) = δ(z − z_s) (a Gaussian of σ 0.002): q(χ) = 3/2 Ω_m (H0/c)² χ (1+z)(1 − χ/χ_s)."""
    z_s = 1.0
    z = np.linspace(0.0, 2.0, 4001)
    s = ShearSpectra(ELL, z, norm.pdf(z, z_s, 0.002)[None], n_z=2000)
    with jax.enable_x64(True):
        p = {k: jnp.float64(v) for k, v in P.items()}
        chi, _, kern = s.kernels(p)
        cosmo = Cosmology.from_params(p)
        chi_s = comoving_distance(cosmo, jnp.float64(z_s))
        zi = s.z_int
        expect = (1.5 * cosmo.Omega_m * (100 * cosmo.h / C_KM_S) ** 2 * chi * (1 + zi)
                  * np.clip(1 - chi / chi_s, 0, None))
    sel = zi < 0.95 * z_s
    np.testing.assert_allclose(np.asarray(kern[0])[sel], np.asarray(expect)[sel], rtol=2e-4)
    assert np.all(np.asarray(kern[0])[zi > 1.02 * z_s] < 1e-20 * np.asarray(kern[0]).max())


def test_ia_kernel_is_nla(spectra):
    """Adding A_IA adds −A C1ρ_crit Ω_m/D(z) n(z) H/c to the shear kernel of each bin."""
    with jax.enable_x64(True):
        p0 = {k: jnp.float64(v) for k, v in P.items()}
        p1 = {**p0, "A_IA_1": 1.3, "A_IA_2": -0.7}
        _, _, k0 = spectra.kernels(p0)
        _, _, k1 = spectra.kernels(p1)
        cosmo = Cosmology.from_params(p0)
        zi = jnp.asarray(spectra.z_int)
        d = growth_factor(cosmo, zi, with_nu=True)  # 512 steps: independent of the 64 inside
        nz = np.stack([np.interp(spectra.z_int, Z, n) for n in NZ])
        nz /= (nz * spectra.weights).sum(1, keepdims=True)
        unit = -C1_RHO_CRIT * cosmo.Omega_m / d * hubble(cosmo, zi) / C_KM_S * nz
    np.testing.assert_allclose(np.asarray(k1 - k0), np.asarray(unit) * np.array([[1.3], [-0.7]]),
                               rtol=5e-5, atol=1e-12 * np.abs(unit).max())
    # a shared A_IA is the same as one per bin
    with jax.enable_x64(True):
        shared = spectra.kernels({**p0, "A_IA": 0.4})[2]
        per_bin = spectra.kernels({**p0, "A_IA_1": 0.4, "A_IA_2": 0.4})[2]
    np.testing.assert_array_equal(np.asarray(shared), np.asarray(per_bin))


def test_limber_integral_against_brute_force_quadrature(fine):
    """C_ℓ of both pairs of bin 1/2 against scipy quad over χ of the emulator's own P(k, z)
    (public matter_power, spline in k and z) with kernels from quad; ℓ where k ≤ 10/Mpc."""
    with jax.enable_x64(True):
        p = {k: jnp.float64(v) for k, v in P.items()}
        cosmo = Cosmology.from_params(p)
        ours = np.asarray(fine(p))
        zz = np.linspace(1e-3, 3.0, 3000)
        chi = np.asarray(comoving_distance(cosmo, jnp.asarray(zz)))
        hz = np.asarray(hubble(cosmo, jnp.asarray(zz)))
        om, h0c = float(cosmo.Omega_m), float(100 * cosmo.h / C_KM_S)
    n = [norm.pdf(zz, m, 0.08) / integrate.quad(lambda x, m=m: norm.pdf(x, m, 0.08), 0, 3)[0]
         for m in MEANS]
    # q_i on the fine grid by cumulative Simpson of n(z')(1 − χ/χ'), exact enough at 3000 nodes
    q = []
    for ni in n:
        inner = np.array([integrate.simpson(ni[a:] * (1 - chi[a] / chi[a:]), x=zz[a:])
                          if a < zz.size - 2 else 0.0 for a in range(zz.size)])
        q.append(1.5 * om * h0c**2 * chi * (1 + zz) * inner)
    # ln P on a fine (z, ln k) table of the public API, cubic in both (scipy), at k = (ℓ+½)/χ
    zq, kq = np.linspace(0.0, 3.0, 61), np.geomspace(1e-3, 10.0, 300)
    with jax.enable_x64(True):
        lnp = np.log(np.asarray(matter_power(p, kq, zq)))
    table = interpolate.RegularGridInterpolator((zq, np.log(kq)), lnp, method="cubic")
    for i_ell, ell in enumerate(ELL):
        k = (ell + 0.5) / chi
        inside = k <= 10.0  # beyond, ours extrapolates: compare where the kernels allow
        pk = np.zeros_like(zz)
        pk[inside] = np.exp(table(np.stack([zz[inside], np.log(k[inside])], axis=1)))
        for pair, (a, b) in enumerate(zip(*pair_indices(2), strict=True)):
            integrand = q[a] * q[b] / chi**2 * pk * C_KM_S / hz
            brute = integrate.simpson(integrand, x=zz) * spin2_factor(ell)
            assert ours[pair, i_ell] == pytest.approx(brute, rel=1e-3), (ell, pair)


def test_dz_shift_and_m_conventions(spectra):
    p = dict(P)
    base = np.asarray(spectra(p))
    # positive dz moves the bin to higher z: same as a table built at z + dz
    dz = 0.05
    moved = ShearSpectra(ELL, Z + dz, NZ)  # n_1(z) tabulated on shifted z: n(z − dz)
    shifted = np.asarray(spectra({**p, "dz_1": dz, "dz_2": dz}))
    np.testing.assert_allclose(shifted, np.asarray(moved(p)), rtol=2e-3)
    assert np.all(shifted[0] > base[0])  # a bin at higher z lenses more
    m = {"m_1": 0.02, "m_2": -0.01}
    scaled = np.asarray(spectra({**p, **m}))
    factor = np.array([1.02**2, 1.02 * 0.99, 0.99**2])[:, None]
    np.testing.assert_allclose(scaled, base * factor, rtol=1e-6)


def test_shear_cl_function_caches_and_checks_inputs(spectra):
    a = np.asarray(shear_cl(P, ELL, Z, NZ))
    np.testing.assert_allclose(a, np.asarray(spectra(P)), rtol=1e-6)
    with pytest.raises(ValueError, match="nz must have shape"):
        shear_cl(P, ELL, Z, NZ[:, :-1])
    with pytest.raises(ValueError, match="increasing"):
        shear_cl(P, ELL, Z[::-1], NZ)
    zz = np.linspace(0, 6, 601)
    with pytest.raises(ValueError, match="beyond z = 4"):
        ShearSpectra(ELL, zz, norm.pdf(zz, 3.9, 0.3)[None])
    with pytest.raises(KeyError, match="c_min"):
        shear_cl({k: v for k, v in P.items() if k != "c_min"}, ELL, Z, NZ)


def test_jit_grad_vmap(spectra):
    f = jax.jit(lambda q: jnp.sum(jnp.log(spectra(q))))
    g = jax.grad(lambda q: jnp.sum(jnp.log(spectra(q))))(
        {k: jnp.float32(v) for k, v in {**P, "A_IA": 0.3, "dz_1": 0.0}.items()})
    assert all(np.isfinite(float(v)) for v in g.values())
    s64 = ShearSpectra(ELL, Z, NZ)  # its own jit cache: traced in float64 only
    with jax.enable_x64(True):  # against central differences
        q64 = {k: jnp.float64(v) for k, v in {**P, "A_IA": 0.3}.items()}
        g64 = jax.grad(lambda q: jnp.sum(jnp.log(s64(q))))(q64)
        for name, step in (("omega_cdm", 1e-4), ("A_IA", 1e-3), ("c_min", 1e-3)):
            up = float(jnp.sum(jnp.log(s64({**q64, name: q64[name] + step}))))
            down = float(jnp.sum(jnp.log(s64({**q64, name: q64[name] - step}))))
            assert float(g64[name]) == pytest.approx((up - down) / (2 * step), rel=2e-3), name
    batch = {k: jnp.full(3, v) for k, v in P.items()}
    out = jax.vmap(spectra)(batch)
    assert out.shape == (3, 3, ELL.size)
    np.testing.assert_allclose(np.asarray(out[1]), np.asarray(spectra(P)), rtol=1e-5)
    assert np.isfinite(float(f(P)))


@pytest.fixture(scope="module")
def ccl():
    return np.load(Path(__file__).parent / "fixtures" / "ccl_shear_euclid.npz")


def test_against_ccl_on_the_euclid_like_set_up(ccl):
    """CCL (pyccl 3.3.6 on CAMB HMcode-2016, same n(z), IA, dz, m; fixture made by
    fixtures/make_ccl_shear.py) at 4 cosmologies of the 37-parameter box: the χ² distance with
    the survey's Gaussian covariance is < 0.3 (measured 0.007–0.06) and the median |ΔC/C| of
    the 55 × 30 spectra < 3e-4 (measured 1e-4)."""
    names = [str(n) for n in ccl["param_names"]]
    blocks = ccl["cov_blocks"].astype(np.float64)
    s = ShearSpectra(ccl["ell"], ccl["z"], ccl["nz"])
    with jax.enable_x64(True):
        for row in range(ccl["params"].shape[0]):
            p = {k: jnp.float64(v) for k, v in zip(names, ccl["params"][row], strict=True)}
            ours = np.asarray(s(p))
            ref = ccl["cl"][row]
            d = ours - ref
            chi2 = sum(d[:, b] @ np.linalg.solve(blocks[b], d[:, b]) for b in range(d.shape[1]))
            assert chi2 < 0.3, (row, chi2)
            assert np.median(np.abs(d / ref)) < 3e-4, row


@pytest.mark.parametrize("cubic", [False, True])
def test_shifted_nz_is_continuous_in_dz_at_the_table_ends(cubic):
    """A table with non-zero end values (n = 1 + z on [0, 4]) shifted by ±ε: the shifted,
    normalised n(z) moves by O(ε), not by a step (it used to drop the last grid node to zero
    for any dz < 0: a ln L cliff at dz = 0)."""
    from cosmoemu.cosmology._limber import (
        _shifted_nz,
        _shifted_nz_cubic,
        _spline_coefficients,
    )

    z = np.linspace(0.0, 4.0, 41)
    table = np.stack([1.0 + z, np.exp(-z)])
    grid = np.linspace(0.0, 4.0, 160)
    weights = np.full(grid.size, grid[1] - grid[0])
    weights[[0, -1]] *= 0.5

    def shifted(dz):
        d = jnp.full(2, dz, jnp.float64)
        if cubic:
            return np.asarray(_shifted_nz_cubic(_spline_coefficients(z, table), z, grid,
                                                weights, d, jnp.float64))
        return np.asarray(_shifted_nz(table, z, grid, weights, d, jnp.float64))

    with jax.enable_x64(True):
        base = shifted(0.0)
        for eps in (1e-6, -1e-6):
            # within the table |n'| ≤ 1.1; beyond an end the ramp's slope is n_end / spacing
            # (≤ 11 here): a shift of ε moves every value by ≲ 11 ε, where a step is ~0.4
            assert np.max(np.abs(shifted(eps) - base)) < 20 * abs(eps), eps
        # at dz = 0 the grid lies in the table: the table's shape, unchanged by the padding
        np.testing.assert_allclose(base[0] / base[0][-1], (1 + grid) / 5.0, rtol=1e-6)
