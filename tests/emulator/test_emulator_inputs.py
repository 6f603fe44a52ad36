"""Input checks: names, shapes, the training box and the out-of-box policies."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from emu_analytic import BOX

from cosmoemu.emulator import OutOfBoxError

INSIDE = np.array([1.2, 0.5, 1.4, 0.3])


@pytest.fixture(scope="module")
def emu(dense_result):
    return dense_result.emulator


def test_attributes(emu):
    assert emu.parameters == ("A", "gamma", "omega", "phi")
    assert emu.box == {k: tuple(v) for k, v in BOX.items()}
    assert emu.modes.shape == (60,)


def test_outside_box_raises_naming_parameter_value_and_box(emu):
    x = INSIDE.copy()
    x[1] = 1.7
    with pytest.raises(OutOfBoxError, match=r"'gamma' = 1\.7.*\[0\.2, 1\.0\]"):
        emu.predict(x)
    with pytest.raises(OutOfBoxError, match="gamma"):
        emu.predict_numpy(x)


def test_nan_input_is_out_of_box(emu):
    x = INSIDE.copy()
    x[0] = np.nan
    with pytest.raises(OutOfBoxError, match="'A'"):
        emu.predict(x)


def test_policies(emu):
    x = np.stack([INSIDE, INSIDE])
    x[1, 1] = 1.7
    with pytest.warns(UserWarning, match="outside"):
        warned = np.asarray(emu.predict(x, policy="warn"))
    clipped = np.asarray(emu.predict(x, policy="clip"))
    edge = x.copy()
    edge[1, 1] = 1.0
    np.testing.assert_allclose(clipped, np.asarray(emu.predict(edge)), rtol=1e-6)
    nan = np.asarray(emu.predict(x, policy="nan"))
    assert np.all(np.isfinite(nan[0])) and np.all(np.isnan(nan[1]))
    np.testing.assert_allclose(nan[0], warned[0], rtol=1e-6)
    with pytest.raises(ValueError, match="unknown policy 'clamp'"):
        emu.predict(x, policy="clamp")


def test_in_box_under_jit_gives_minus_inf_likelihood(emu):
    @jax.jit
    def loglike(theta):
        pred = emu.predict(theta, policy="nan")
        return jnp.where(emu.in_box(theta), -0.5 * jnp.sum(pred**2), -jnp.inf)

    assert np.isfinite(loglike(jnp.asarray(INSIDE)))
    outside = INSIDE.copy()
    outside[3] = -0.1
    assert loglike(jnp.asarray(outside)) == -np.inf


def test_raise_policy_inside_jit_names_parameter_value_and_box(emu, caplog):
    """Under jax.jit the default policy raises when the program runs; JAX wraps the error
    (``JaxRuntimeError: INTERNAL: CpuCallback error`` + a traceback), so the message must say
    which parameter, its value and the box, and is logged as an error before that."""
    name = list(BOX)[3]
    lo, hi = BOX[name]
    outside = INSIDE.copy()
    outside[3] = 1.5
    f = jax.jit(emu.predict)
    np.testing.assert_allclose(f(jnp.asarray(INSIDE)), emu.predict(INSIDE), rtol=1e-6)
    want = f"parameter '{name}' = 1.5 is outside the emulator's training box [{lo}, {hi}]"
    with caplog.at_level("ERROR", logger="cosmoemu.emulator._emulator"), \
            pytest.raises(Exception) as info:
        jax.block_until_ready(f(jnp.asarray(outside)))
    assert want in str(info.value) and "policy='nan'" in str(info.value)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("cosmoemu")]
    assert len(ours) == 1 and ours[0].startswith(f"OutOfBoxError: {want}")
    # vmapped inside jit (every row goes to the host check): rows inside pass, one outside raises
    g = jax.jit(jax.vmap(emu.predict))
    rows = np.stack([INSIDE, INSIDE])
    np.testing.assert_allclose(g(jnp.asarray(rows)), emu.predict(rows), rtol=1e-6)
    with pytest.raises(Exception, match=r"parameter '.*' = 1\.5 is outside.*row 1"):
        jax.block_until_ready(g(jnp.asarray(np.stack([INSIDE, outside]))))
    # gradients pass through the check
    w = jax.grad(lambda t: jnp.sum(jax.jit(emu.predict)(t)))(jnp.asarray(INSIDE))
    assert np.all(np.isfinite(np.asarray(w)))


def test_box_edges_are_inside(emu):
    lo = np.array([b[0] for b in BOX.values()])
    hi = np.array([b[1] for b in BOX.values()])
    assert np.all(np.isfinite(np.asarray(emu.predict(np.stack([lo, hi])))))
    assert np.all(np.asarray(emu.in_box(jnp.asarray(np.stack([lo, hi]), jnp.float32))))


def test_wrong_names_and_shapes(emu):
    d = {"A": 1.2, "Gamma": 0.5, "omega": 1.4, "phi": 0.3}
    with pytest.raises(KeyError, match="did you mean 'gamma'"):
        emu.predict(d)
    with pytest.raises(KeyError, match="missing 'phi'"):
        emu.predict({"A": 1.2, "gamma": 0.5, "omega": 1.4})
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\).*got shape \(3,\)"):
        emu.predict(np.ones(3))
