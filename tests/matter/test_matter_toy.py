"""MatterPower mechanics on a toy whose truth is closed-form.

The toy's log10 T(z, ln k; θ) and log10 B are linear in the parameters and cubic in z and ln k,
so (i) a PCA + degree-1 polynomial emulator fitted by least squares reproduces them to float32
rounding, and (ii) a not-a-knot cubic spline reproduces cubics exactly: P(k, z) off the grid
nodes, σ8 (an integral), S8 ↔ A_s and the derivatives are all checked against closed forms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu.emulator import Axis, train_emulator
from cosmoemu.matter import S8 as s8_of
from cosmoemu.matter import MatterPower, UniformSpline, ln10As_from_S8

Z = np.linspace(0.0, 4.0, 9)
K = np.geomspace(1e-4, 10.0, 60)
T_NAMES = ("omega_b", "omega_cdm", "h")
B_NAMES = (*T_NAMES, "n_s", "ln10^{10}A_s", "c_min", "eta_0")
BOX = {"omega_b": (0.02, 0.025), "omega_cdm": (0.1, 0.14), "h": (0.6, 0.75), "n_s": (0.9, 1.0),
       "ln10^{10}A_s": (2.8, 3.2), "c_min": (2.0, 4.0), "eta_0": (0.5, 1.0)}
P0 = {"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.67, "n_s": 0.96, "ln10^{10}A_s": 3.05,
      "c_min": 3.1, "eta_0": 0.7}


def log10_t(p, z, lnk):
    """Closed-form log10 T (Mpc³): linear in the parameters, cubic in z and ln k."""
    z, lnk = np.asarray(z)[:, None], np.asarray(lnk)[None, :]
    u = lnk + 4.0
    return (4.5 - 0.25 * z + 0.01 * z**3 - 0.05 * u**2 - 0.004 * u**3 * z / 4
            + 10 * (p["omega_cdm"] - 0.12) * (0.3 + 0.02 * u**2)
            + 40 * (p["omega_b"] - 0.0224) * 0.01 * u**3 / 10
            + (p["h"] - 0.67) * (0.5 - 0.1 * u + 0.05 * z**2))


def log10_b(p, z, lnk):
    """Closed-form log10 P_nl/P_lin."""
    z, lnk = np.asarray(z)[:, None], np.asarray(lnk)[None, :]
    u = (lnk + 9.3) / 12
    return (0.2 * u**3 * (1 - 0.1 * z) + 0.02 * (p["c_min"] - 3) * u**2
            + 0.03 * (p["eta_0"] - 0.7) * u * z + 0.1 * (p["n_s"] - 0.96) * u**3
            + 0.05 * (p["omega_cdm"] - 0.12) * u)


def truth(p, k, z, nonlinear=True):
    lnk = np.log(k)
    prim = np.exp(p["ln10^{10}A_s"]) * 1e-10 * (k / 0.05) ** (p["n_s"] - 1)
    out = 10 ** log10_t(p, z, lnk) * prim
    return out * 10 ** log10_b(p, z, lnk) if nonlinear else out


def _sample(names, n, seed):
    rng = np.random.default_rng(seed)
    return np.array([[BOX[m][0] + (BOX[m][1] - BOX[m][0]) * rng.random() for m in names]
                     for _ in range(n)])


@pytest.fixture(scope="module")
def mp():
    axes = [Axis("z", Z), Axis("k", K, "1/Mpc")]
    common = {"axes": axes, "kind": "pca", "log10": True, "hidden": (), "input_degree": 1,
              "solver": "lstsq", "dtype": "float64", "seed": 0, "progress": False}
    xt = _sample(T_NAMES, 40, 1)
    yt = np.stack([10 ** log10_t(dict(zip(T_NAMES, r, strict=True)), Z, np.log(K)) for r in xt])
    transfer = train_emulator(xt, yt, parameters=T_NAMES, box={m: BOX[m] for m in T_NAMES},
                              quantity="pk_lin/primordial", units="", n_components=4,
                              **common).emulator
    xb = _sample(B_NAMES, 60, 2)
    yb = np.stack([10 ** log10_b(dict(zip(B_NAMES, r, strict=True)), Z, np.log(K)) for r in xb])
    boost = train_emulator(xb, yb, parameters=B_NAMES, box=BOX, quantity="pk_nonlin/pk_lin",
                           units="", n_components=6, **common).emulator
    return MatterPower(transfer, boost, name="toy")


def test_spline_reproduces_cubics_and_its_weights_differentiate():
    s = UniformSpline.on(np.linspace(-1.0, 2.0, 7), "x")
    nodes = np.linspace(-1.0, 2.0, 7)
    f = lambda x: 1 - 2 * x + 0.5 * x**2 - 0.3 * x**3  # noqa: E731
    x = np.array([-1.0, -0.77, 0.1, 1.234, 1.99, 2.0])
    np.testing.assert_allclose(s.weights_numpy(x) @ f(nodes), f(x), atol=1e-12)
    with jax.enable_x64(True):
        w = jax.vmap(jax.jacfwd(lambda t: s.weights(t) @ jnp.asarray(f(nodes))))(
            jnp.asarray(x))
    np.testing.assert_allclose(w, -2 + x - 0.9 * x**2, atol=1e-10)
    with pytest.raises(ValueError, match="uniformly spaced"):
        UniformSpline.on([0.0, 1.0, 3.0, 4.0], "z")


def test_power_off_the_nodes_equals_the_closed_form(mp):
    k = np.geomspace(1.1e-4, 9.5, 37)
    z = np.array([0.0, 0.33, 1.7, 3.99])
    for nonlinear in (False, True):
        got = np.asarray(mp(P0, k, z, nonlinear=nonlinear))
        assert got.shape == (4, 37)
        np.testing.assert_allclose(got, truth(P0, k, z, nonlinear), rtol=2e-5)
    batch = {n: np.array([v, v * 1.01]) for n, v in P0.items()}
    assert mp(batch, k, z).shape == (2, 4, 37)


def test_traced_k_and_z_agree_and_give_nan_outside(mp):
    k, z = np.geomspace(2e-4, 8.0, 11), np.array([0.1, 2.5])
    f = jax.jit(lambda kk, zz: mp(P0, kk, zz))
    np.testing.assert_allclose(f(k, z), mp(P0, k, z), rtol=1e-5)
    out = np.asarray(f(np.array([1e-5, 1.0, 20.0]), np.array([1.0])))
    assert np.isnan(out[0, 0]) and np.isfinite(out[0, 1]) and np.isnan(out[0, 2])


def test_gradients_match_the_closed_form(mp):
    k, z = np.geomspace(1e-3, 5.0, 9), np.array([0.5, 2.2])

    def lnp(p):
        return jnp.log(mp(p, k, z))

    p32 = {n: jnp.float32(v) for n, v in P0.items()}
    g = jax.jacfwd(lnp)(p32)
    ln10 = np.log(10)
    u = (np.log(k) + 9.3) / 12
    want = {
        "ln10^{10}A_s": np.ones((2, 9)),
        "n_s": np.log(k / 0.05) + ln10 * 0.1 * u**3,
        "c_min": ln10 * 0.02 * u**2 + 0 * z[:, None],
        "omega_cdm": ln10 * (10 * (0.3 + 0.02 * (np.log(k) + 4) ** 2) + 0.05 * u) + 0 * z[:, None],
    }
    for name, w in want.items():
        np.testing.assert_allclose(g[name], np.broadcast_to(w, (2, 9)), rtol=2e-3, atol=2e-3,
                                   err_msg=name)
    dk = jax.grad(lambda kk: jnp.log(mp(P0, kk, 1.0, nonlinear=False))[0, 0])(jnp.float32(0.1))
    u0 = np.log(0.1) + 4.0
    dlog10t = -0.1 * u0 - 0.003 * u0**2 * 1.0  # d log10 T / d ln k at z = 1
    want_dk = (ln10 * dlog10t + P0["n_s"] - 1) / 0.1
    assert float(dk) == pytest.approx(want_dk, rel=2e-3)


def test_sigma8_and_the_s8_round_trip(mp):
    p = dict(P0)

    lnk = np.linspace(np.log(1e-4), np.log(10.0), 400_001)  # fine trapezoid: the truth
    k = np.exp(lnk)
    x = k * 8 / p["h"]
    w = 3 * (np.sin(x) - x * np.cos(x)) / x**3
    f = k**3 * truth(p, k, [0.0], nonlinear=False)[0] * w**2 / (2 * np.pi**2)
    want = np.sqrt(np.trapezoid(f, lnk))
    with jax.enable_x64(True):
        got = float(mp.sigma8({n: np.float64(v) for n, v in p.items()}))
    assert got == pytest.approx(want, rel=1e-6)
    target = 0.81
    ln_as = ln10As_from_S8(p, target, model=mp)
    assert float(s8_of({**p, "ln10^{10}A_s": ln_as}, model=mp)) == pytest.approx(target, rel=1e-5)


def test_box_range_and_name_errors(mp):
    with pytest.raises(ValueError, match="omega_cdm"):
        mp({**P0, "omega_cdm": 0.2}, 0.1, 0.0)
    assert np.isnan(np.asarray(mp({**P0, "omega_cdm": 0.2}, 0.1, 0.0, policy="nan"))).all()
    # A_s and n_s of the linear spectrum are exact: outside the boost's box is fine there
    assert np.isfinite(np.asarray(mp({**P0, "n_s": 1.2}, 0.1, 0.0, nonlinear=False))).all()
    with pytest.raises(ValueError, match=r"k = 20 /Mpc.*1/Mpc, not h/Mpc"):
        mp(P0, [0.1, 20.0], 0.0)
    with pytest.raises(ValueError, match="z = 4.5"):
        mp(P0, 0.1, 4.5)
    with pytest.raises(KeyError, match="missing c_min"):
        mp({n: v for n, v in P0.items() if n != "c_min"}, 0.1, 0.0)
    # aliases: H0 and A_s
    alias = {**{n: v for n, v in P0.items() if n not in ("h", "ln10^{10}A_s")},
             "H0": 67.0, "A_s": np.exp(3.05) * 1e-10, "unused": 1.0}
    np.testing.assert_allclose(mp(alias, 0.1, 0.5), mp(P0, 0.1, 0.5), rtol=1e-5)
