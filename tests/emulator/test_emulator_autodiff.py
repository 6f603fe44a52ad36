"""predict under jit, vmap, grad and jacfwd, in float32 and float64, against finite differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

THETA = np.array([1.2, 0.5, 1.4, 0.3])


@pytest.fixture(scope="module")
def emu(dense_result):
    return dense_result.emulator


@pytest.fixture(scope="module")
def pca_emu(pca_result):
    return pca_result.emulator


@pytest.mark.parametrize("which", ["emu", "pca_emu"])
def test_grad_matches_finite_differences(which, request, x64):
    e = request.getfixturevalue(which)
    w = np.linspace(0.5, 1.5, e.n_modes)  # a scalar functional of the output

    def f(theta):
        return jnp.sum(w * e.predict(theta))

    theta = jnp.asarray(THETA, jnp.float64)
    g = jax.grad(f)(theta)
    h = 1e-6
    fd = np.array([(f(theta + h * ei) - f(theta - h * ei)) / (2 * h) for ei in np.eye(4)])
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-6, atol=1e-8)


def test_jacfwd_equals_jacrev_and_finite_differences(emu, x64):
    theta = jnp.asarray(THETA, jnp.float64)
    jf = jax.jacfwd(emu.predict)(theta)
    jr = jax.jacrev(emu.predict)(theta)
    assert jf.shape == (emu.n_modes, 4)
    np.testing.assert_allclose(np.asarray(jf), np.asarray(jr), rtol=1e-10, atol=1e-12)
    h = 1e-6
    fd = np.stack(
        [(emu.predict(theta + h * e) - emu.predict(theta - h * e)) / (2 * h) for e in np.eye(4)],
        axis=-1,
    )
    np.testing.assert_allclose(np.asarray(jf), fd, rtol=1e-6, atol=1e-8)


def test_jit_and_eager_agree_float32(emu, strict_promotion):
    x = jnp.asarray(np.stack([THETA, THETA * 0.9]), jnp.float32)
    eager = emu.predict(x)
    jitted = jax.jit(lambda v: emu.predict(v, policy="nan"))(x)
    assert eager.dtype == jnp.float32 and jitted.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=2e-6)


def test_float32_and_float64_agree(emu):
    out32 = np.asarray(emu.predict(jnp.asarray(THETA, jnp.float32)))
    with jax.enable_x64(True):
        out64 = np.asarray(emu.predict(jnp.asarray(THETA, jnp.float64)))
        assert out64.dtype == np.float64
    np.testing.assert_allclose(out32, out64, rtol=5e-6)


def test_vmap_and_batch_shapes_agree(emu):
    x = jnp.asarray(np.stack([THETA, THETA * 0.95, THETA * 1.05]))
    batched = emu.predict(x)
    mapped = jax.vmap(emu.predict)(x)
    np.testing.assert_allclose(np.asarray(mapped), np.asarray(batched), rtol=1e-6)
    grid = emu.predict(jnp.broadcast_to(x, (2, 3, 4)))
    assert grid.shape == (2, 3, emu.n_modes)
    np.testing.assert_allclose(np.asarray(grid[1]), np.asarray(batched), rtol=1e-6)


def test_dict_input_broadcasts_like_array(emu):
    omegas = np.array([1.2, 1.5, 1.8])
    d = {"A": 1.2, "gamma": 0.5, "omega": omegas, "phi": 0.3}
    out = emu.predict(d)
    arr = np.tile(THETA, (3, 1))
    arr[:, 2] = omegas
    np.testing.assert_allclose(np.asarray(out), np.asarray(emu.predict(arr)), rtol=1e-6)


def test_no_retrace_on_second_call(emu):
    traces = []

    @jax.jit
    def loglike(theta):
        traces.append(1)
        return -0.5 * jnp.sum(emu.predict(theta, policy="nan") ** 2)

    loglike(jnp.asarray(THETA, jnp.float32))
    loglike(jnp.asarray(THETA * 1.01, jnp.float32))
    assert len(traces) == 1  # same shapes and dtypes: compiled once


def test_predict_numpy_matches_predict(emu):
    x = np.stack([THETA, THETA * 0.97])
    out = emu.predict_numpy(x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, np.asarray(emu.predict(x)), rtol=2e-6)
