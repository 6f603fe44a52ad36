"""MatterPower under jit: a closed-over (k, z) request folds into the output layers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cosmoemu.emulator import PCA, Affine, Axis, Emulator, Pow10, init_mlp, make_emulator
from cosmoemu.matter import MatterPower

NAMES = ("omega_b", "omega_cdm", "h", "n_s", "ln10^{10}A_s", "c_min", "eta_0")
BOX = ((0.019, 0.026), (0.05, 0.25), (0.64, 0.82), (0.84, 1.1), (1.6, 3.9), (2.0, 4.0),
       (0.5, 1.0))
Z = np.round(np.linspace(0.0, 2.0, 6), 6)
K = np.geomspace(1e-4, 10.0, 40)


def _emulator(seed: int, n_in: int, level: float, spread: float) -> Emulator:
    n_pc, n_out = 5, Z.size * K.size
    net = init_mlp(jax.random.PRNGKey(seed), (n_in, 16, n_pc))
    comps = np.linalg.qr(np.random.default_rng(seed).normal(size=(n_out, n_pc)))[0].T
    chain = (Affine(np.zeros(n_pc), np.ones(n_pc)), PCA(comps),
             Affine(np.full(n_out, level), np.full(n_out, spread)), Pow10())
    lo, hi = np.array(BOX[:n_in]).T
    axes = [Axis("z", tuple(Z)), Axis("k", tuple(K), "1/Mpc")]
    return make_emulator(net, Affine((lo + hi) / 2, (hi - lo) / 2), chain, NAMES[:n_in],
                         BOX[:n_in], None, "pca", axes=axes)


def _model() -> MatterPower:
    return MatterPower(_emulator(1, 3, 13.0, 0.1), _emulator(2, 7, 0.0, 0.01), name="test")


def _params(x: jax.Array) -> dict[str, jax.Array]:
    return {n: x[..., i] for i, n in enumerate(NAMES)}


X = jnp.asarray([[0.0224, 0.12, 0.67, 0.965, 3.05, 3.13, 0.603],
                 [0.021, 0.14, 0.70, 0.95, 2.9, 2.5, 0.8]], jnp.float32)
KQ = np.geomspace(1e-3, 5.0, 30)
ZQ = np.linspace(0.0, 1.7, 4)


def test_closed_over_grid_folds_under_jit() -> None:
    mp = _model()
    f = jax.jit(lambda x: mp(_params(x), KQ, ZQ, policy="nan"))
    jaxpr = str(jax.make_jaxpr(lambda x: mp(_params(x), KQ, ZQ, policy="nan"))(X))
    # folded: no (batch, n_z grid, n_k grid) intermediate of the traced-query path
    assert f"{X.shape[0]},{Z.size},{K.size}" not in jaxpr.replace(" ", "")
    assert mp._folded  # the fold was made (and cached) while tracing
    eager = mp(_params(X), KQ, ZQ, policy="nan")
    np.testing.assert_allclose(f(X), eager, rtol=1e-5)
    # a second trace (another batch shape) and the linear spectrum reuse the cache: no leak
    np.testing.assert_allclose(f(X[0]), eager[0], rtol=1e-5)
    g = jax.jit(lambda x: mp(_params(x), KQ, ZQ, nonlinear=False, policy="nan"))
    np.testing.assert_allclose(g(X), mp(_params(X), KQ, ZQ, nonlinear=False), rtol=1e-5)


def test_traced_query_matches_folded() -> None:
    mp = _model()
    traced = jax.jit(lambda x, k, z: mp(_params(x), k, z, policy="nan"))(
        X, jnp.asarray(KQ, jnp.float32), jnp.asarray(ZQ, jnp.float32))
    np.testing.assert_allclose(traced, mp(_params(X), KQ, ZQ, policy="nan"), rtol=2e-4)
