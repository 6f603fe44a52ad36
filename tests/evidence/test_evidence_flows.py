"""Flows and whitening: Jacobians against autodiff, normalisation by quadrature, reproducibility."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import paramax
import pytest
from scipy.integrate import trapezoid

from cosmoemu._errors import ConfigError
from cosmoemu.evidence import FittedFlow, FlowConfig, fit_flow
from cosmoemu.evidence._flows import init_flow, param_dtype
from cosmoemu.evidence._whiten import fit_whitening


def _banana(n: int, seed: int) -> np.ndarray:
    """A curved, correlated 2-D density with scales far from 1 (whitening and flow both work)."""
    rng = np.random.default_rng(seed)
    t1 = rng.normal(1.0, 2.0, n)
    t2 = 3.0 + 0.5 * t1 + 0.3 * (t1 - 1.0) ** 2 + rng.normal(0.0, 0.5, n)
    return np.stack([t1, t2], axis=1)


@pytest.fixture(scope="module")
def banana_flow():
    return fit_flow(_banana(8000, 0), seed=0)


def test_whitening_jacobian_matches_autodiff():
    rng = np.random.default_rng(0)
    a = np.array([[2.0, 0.0, 0.0], [1.5, 0.3, 0.0], [-4.0, 0.2, 7.0]])
    samples = rng.standard_normal((5000, 3)) @ a.T + np.array([1.0, -2.0, 300.0])
    w = fit_whitening(samples)
    x = w.apply(samples)
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(np.cov(x, rowvar=False), np.eye(3), atol=1e-10)
    with jax.enable_x64(True):
        jac = jax.jacobian(w.apply)(jnp.asarray(samples[0]))
        sign, logdet = jnp.linalg.slogdet(jac)
    assert float(sign) != 0
    assert w.log_det == pytest.approx(float(logdet), abs=1e-10)
    # and the closed form: -1/2 ln det(covariance)
    assert w.log_det == pytest.approx(-0.5 * np.linalg.slogdet(np.cov(samples.T))[1], abs=1e-9)


@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_flow_density_integrates_to_one(banana_flow, temperature):
    """2-D quadrature of exp(ln phi_T) over theta (whitening Jacobian included) gives 1."""
    samples = _banana(8000, 0)
    lo = samples.mean(0) - 9 * samples.std(0)
    hi = samples.mean(0) + 9 * samples.std(0)
    g1, g2 = np.linspace(lo[0], hi[0], 401), np.linspace(lo[1], hi[1], 401)
    mesh = np.stack(np.meshgrid(g1, g2, indexing="ij"), axis=-1).reshape(-1, 2)
    dens = np.exp(banana_flow.log_density(mesh, temperature)).reshape(401, 401)
    total = trapezoid(trapezoid(dens, g2, axis=1), g1)
    assert total == pytest.approx(1.0, abs=3e-3)


def test_spline_flow_density_integrates_to_one():
    """An untrained spline flow with random weights: a non-trivial map, still normalised.

    (A fresh flow is the identity, see ``test_fresh_flow_is_the_whitened_gaussian``; its
    weights are perturbed here.) Training the spline flow is exercised by the slow tests and
    the benchmark.
    """
    config = FlowConfig.from_options("rqspline", {"flow_layers": 2, "knots": 4, "nn_width": 8})
    samples = _banana(8000, 1)
    whitening = fit_whitening(samples)
    params, static = _perturbed(*init_flow(config, 2, seed=3), seed=3)
    flow = FittedFlow(config=config, whitening=whitening, params=params, static=static)
    lo, hi = samples.mean(0) - 9 * samples.std(0), samples.mean(0) + 9 * samples.std(0)
    g1, g2 = np.linspace(lo[0], hi[0], 401), np.linspace(lo[1], hi[1], 401)
    mesh = np.stack(np.meshgrid(g1, g2, indexing="ij"), axis=-1).reshape(-1, 2)
    gauss = -0.5 * np.sum(whitening.apply(mesh) ** 2, axis=1) - np.log(2 * np.pi)
    for temperature in (1.0, 0.7):
        log_phi = flow.log_density(mesh, temperature)
        dens = np.exp(log_phi).reshape(401, 401)
        assert trapezoid(trapezoid(dens, g2, axis=1), g1) == pytest.approx(1.0, abs=3e-3)
    # not the identity: the spline moves the density by more than 0.05 somewhere in the bulk
    bulk = np.sum(whitening.apply(mesh) ** 2, axis=1) < 4
    assert np.max(np.abs(flow.log_density(mesh, 1.0) - whitening.log_det - gauss)[bulk]) > 0.05


def _perturbed(params, static, seed: int, scale: float = 0.2):
    """The flow's trainable weights plus N(0, scale^2) noise (a random, non-identity map)."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    noisy = [leaf + scale * jax.random.normal(k, leaf.shape, leaf.dtype)
             for leaf, k in zip(leaves, keys, strict=True)]
    return jax.tree.unflatten(treedef, noisy), static


@pytest.mark.parametrize("kind", ["realnvp", "rqspline"])
def test_fresh_flow_is_the_whitened_gaussian(kind):
    """Every coupling layer starts as the identity: ln q = ln N(x; 0, T 1) before training."""
    from cosmoemu.evidence._flows import log_density

    params, static = init_flow(FlowConfig.from_options(kind), 7, seed=5)
    x = np.random.default_rng(5).standard_normal((50, 7))
    for temperature in (1.0, 0.8):
        expected = -0.5 * np.sum(x**2, axis=1) / temperature - 3.5 * np.log(
            2 * np.pi * temperature)
        np.testing.assert_allclose(log_density(params, static, x, temperature), expected,
                                   atol=2e-5)


def test_flow_that_only_overfits_keeps_the_gaussian():
    """Gaussian samples in 60 dimensions, few of them: no epoch beats the untrained flow on the
    validation set, and the fit keeps it (best_epoch -1, the whitened Gaussian)."""
    samples = np.random.default_rng(8).standard_normal((1200, 60))
    flow = fit_flow(samples, seed=0)
    summary = flow.summary()
    assert flow.best_epoch == -1 and len(flow.val_loss) >= 1
    assert summary["best_val_loss"] == flow.initial_val_loss < min(flow.val_loss)
    x = flow.whitening.apply(samples[:20])
    gauss = -0.5 * np.sum(x**2, axis=1) - 30 * np.log(2 * np.pi) + flow.whitening.log_det
    np.testing.assert_allclose(flow.log_density(samples[:20]), gauss, atol=1e-4)


def test_float64_flow_is_normalised(x64, strict_promotion):
    """x64 mode: a flow built in float64 evaluates in float64, normalised, with no dtype mixing.

    (A float64 fit and estimate runs in the slow test ``test_float64_training``.)
    """
    samples = _banana(8000, 2)
    whitening = fit_whitening(samples)
    params, static = init_flow(FlowConfig(), 2, seed=4)
    assert param_dtype(params) == np.float64
    flow = FittedFlow(config=FlowConfig(), whitening=whitening, params=params, static=static)
    lo, hi = samples.mean(0) - 9 * samples.std(0), samples.mean(0) + 9 * samples.std(0)
    g1, g2 = np.linspace(lo[0], hi[0], 401), np.linspace(lo[1], hi[1], 401)
    mesh = np.stack(np.meshgrid(g1, g2, indexing="ij"), axis=-1).reshape(-1, 2)
    dens = np.exp(flow.log_density(mesh, 0.7)).reshape(401, 401)
    assert trapezoid(trapezoid(dens, g2, axis=1), g1) == pytest.approx(1.0, abs=3e-3)


def test_untempered_density_is_flowjax_log_prob(banana_flow):
    """At T = 1 our density is flowjax's own log_prob of the whitened point plus ln|det L^-1|."""
    import equinox as eqx

    theta = _banana(100, 5)
    flow = paramax.unwrap(eqx.combine(banana_flow.params, banana_flow.static))
    x = jnp.asarray(banana_flow.whitening.apply(theta), dtype=jnp.float32)
    expected = np.asarray(flow.log_prob(x), dtype=np.float64) + banana_flow.whitening.log_det
    np.testing.assert_allclose(banana_flow.log_density(theta, 1.0), expected, atol=1e-4)


def test_tempered_density_is_narrower(banana_flow):
    """ln phi_T - ln phi_1 = -(1/T - 1)|z|^2/2 - (D/2) ln T: larger at the mode, smaller far out."""
    theta = _banana(2000, 6)
    d = banana_flow.log_density(theta, 0.5) - banana_flow.log_density(theta, 1.0)
    assert d.max() <= np.log(2.0) + 1e-4  # -(D/2) ln T with D = 2, T = 1/2
    assert np.mean(d < 0) > 0.5  # most of the mass moves inwards


def test_fit_is_seeded(banana_flow):
    theta = _banana(50, 7)
    again = fit_flow(_banana(8000, 0), seed=0)
    other = fit_flow(_banana(8000, 0), seed=1)
    np.testing.assert_array_equal(again.log_density(theta), banana_flow.log_density(theta))
    assert not np.allclose(other.log_density(theta), banana_flow.log_density(theta), atol=1e-6)
    assert banana_flow.summary()["seed"] == 0 and banana_flow.best_epoch < len(banana_flow.val_loss)


def test_bad_flow_settings_are_refused():
    with pytest.raises(ConfigError, match="did you mean 'realnvp'"):
        FlowConfig.from_options("realnpv")
    with pytest.raises(ConfigError, match="flow_options.nn_widht"):
        FlowConfig.from_options("realnvp", {"nn_widht": 8})
    with pytest.raises(ConfigError, match="flow_options.batch_size"):
        FlowConfig.from_options("realnvp", {"batch_size": 0})
    with pytest.raises(ValueError, match="at least 2 parameters"):
        fit_flow(np.random.default_rng(0).standard_normal((5000, 1)))
    with pytest.raises(ValueError, match="too few samples"):
        fit_flow(np.random.default_rng(0).standard_normal((30, 5)))
