"""The shipped seismic_hypocentre_v1 emulator against pyprop8 traces it never saw.

``fixtures/heldout_events.npz``: 6 hypocentres simulated with cosmoemu.seismic.simulate (4
uniform draws, seed recorded in the file; 50 m from below receiver 5 at the top of the box;
the bottom corner (10, -10, 17) km), and the shared reference event. Issue 14's target: the rms
residual per event below 0.2 sigma (99 % of events; here every one).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu import OutOfBoxError, load_emulator
from cosmoemu.seismic import load_scenario

FIXTURES = Path(__file__).parent / "fixtures"
EMULATOR = "seismic_hypocentre_v1"


@pytest.fixture(scope="module")
def emu():
    return load_emulator(EMULATOR)


@pytest.fixture(scope="module")
def events():
    with np.load(FIXTURES / "heldout_events.npz") as f:
        theta, traces = f["hypocentre_km"], f["traces"].astype(np.float64)
    with np.load(FIXTURES / "reference_event.npz") as f:
        theta = np.vstack([theta, f["hypocentre_km"][None]])
        traces = np.concatenate([traces, f["traces"][None]])
    return theta, traces


def test_held_out_events_are_emulated_within_a_fifth_of_the_noise(emu, events):
    theta, truth = events
    sigma = load_scenario().sigma
    pred = np.asarray(emu.predict(theta))
    assert pred.shape == truth.shape == (len(theta), 10, 3, 200)
    rms = np.sqrt(np.mean((pred - truth) ** 2, axis=(1, 2, 3))) / sigma
    assert np.all(rms < 0.2), rms.round(4)


def test_emulator_geometry_is_the_scenarios(emu):
    sc = load_scenario()
    np.testing.assert_array_equal(np.asarray(emu.structure["receivers"]), sc.receivers)
    assert emu.box == {"x": (-10.0, 10.0), "y": (-10.0, 10.0), "depth": (9.0, 17.0)}
    assert emu.output_shape == (10, 3, 200) and emu.units == "mm"


def test_gradient_matches_finite_differences(emu):
    # the likelihood's gradient: d/dtheta of a smooth functional of the traces, in float64
    with jax.enable_x64(True):
        theta = jnp.array([1.5, -2.5, 12.0])
        w = jnp.asarray(np.random.default_rng(0).normal(size=(10, 3, 200)))

        def f(th):
            return jnp.sum(w * emu.predict(th))

        g = np.asarray(jax.grad(f)(theta))
        h = 1e-4
        fd = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8 * np.abs(fd).max())


def test_hypocentre_outside_the_box_is_refused(emu):
    with pytest.raises(OutOfBoxError, match="depth"):
        emu.predict({"x": 0.0, "y": 0.0, "depth": 18.0})


def test_validation_metric_is_the_error_in_noise_units(emu, events):
    # cosmoemu validate's numbers for traces: |emulated - pyprop8| / sigma_noise per sample
    from cosmoemu.emulator._validate import emulator_errors

    theta, truth = events
    res = emulator_errors(emu, theta, truth, "traces", name="seismic")
    assert res.metric == "noise"
    expected = np.abs(np.asarray(emu.predict(theta)) - truth) / load_scenario().sigma
    np.testing.assert_allclose(res.errors, expected, rtol=0, atol=1e-5)  # float32 rounding
    # the 4 uniform draws and the reference event: no sample off by half a noise sigma; the
    # two stress points are not (50 m from below receiver 5: 2.4 sigma at one sample of
    # receiver 5; the bottom corner: 1.3 sigma at receiver 2, the farthest), see docs/seismic.md
    typical = res.errors[[0, 1, 2, 3, 6]]
    assert typical.max() < 0.5, typical.max()
