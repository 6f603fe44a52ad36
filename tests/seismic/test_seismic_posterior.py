"""The emulator posterior of the hypocentre against the exact-simulator (pyprop8) posterior.

``fixtures/exact_posterior.{npz,json}`` (benchmarks/seismic_exact_posterior.py): two events with
their observed traces, the mode of the pyprop8 likelihood (Levenberg-Marquardt) and its Laplace
covariance. Here the same likelihood with the emulator's traces must give means within 0.3
sigma of the exact mode and widths within 20 % of the exact ones: by mode + Laplace (exact
Hessian by ``jax.hessian``, fast) and, marked slow, by NUTS through ``sample_posterior``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from cosmoemu import load_emulator
from cosmoemu.inference import NUTSConfig, Posterior, Uniform, sample_posterior
from cosmoemu.likelihoods import SeismicTracesLikelihood

EMULATOR = "seismic_hypocentre_v1"
"""The emulator under test (name or model path). The shipped one (4,300 events) gives offsets
<= 0.12 sigma and width ratios 0.95-1.06 (Laplace); an interim model (2,227 events, 30 epochs)
failed them at offsets up to 2.5 sigma and widths up to 1.67x (docs/seismic.md)."""
FIXTURE = Path(__file__).parent / "fixtures" / "exact_posterior"
MEAN_TOL = 0.3  # |emulator mean - exact mode| / exact sigma, per parameter
WIDTH_TOL = 0.2  # |emulator sigma / exact sigma - 1|, per parameter


@pytest.fixture(scope="module")
def exact():
    with np.load(FIXTURE.with_suffix(".npz"), allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(FIXTURE.with_suffix(".json").read_text())
    return arrays, meta


@pytest.fixture(scope="module")
def emulator():
    return load_emulator(EMULATOR)


def test_fixture_is_consistent(exact):
    arrays, meta = exact
    assert arrays["observed"].shape == (2, 10, 3, 200)
    for i, ev in enumerate(meta["events"]):
        assert ev["converged"]
        np.testing.assert_allclose(arrays["mode_km"][i], ev["mode_km"])
        sig = np.sqrt(np.diag(arrays["cov_km2"][i]))
        assert np.all((sig > 0.03) & (sig < 0.3))  # the ~0.1 km posterior of the scenario
        # Gauss-Newton and full-Hessian widths agree (the Laplace covariance is well defined)
        full = np.sqrt(np.diag(arrays["cov_full_km2"][i]))
        np.testing.assert_allclose(sig, full, rtol=0.1)


def _compare(mean, sigma, arrays, i):
    exact_sigma = np.sqrt(np.diag(arrays["cov_km2"][i]))
    offset = (mean - arrays["mode_km"][i]) / exact_sigma
    ratio = sigma / exact_sigma
    msg = f"event {i}: offsets {np.round(offset, 3)} sigma, width ratios {np.round(ratio, 3)}"
    assert np.all(np.abs(offset) < MEAN_TOL), msg
    assert np.all(np.abs(ratio - 1) < WIDTH_TOL), msg


@pytest.mark.parametrize("event", [0, 1])
def test_emulator_laplace_posterior_matches_exact(exact, emulator, event):
    arrays, _ = exact
    with jax.enable_x64(True):
        like = SeismicTracesLikelihood(emulator, arrays["observed"][event],
                                       float(arrays["sigma"]))
        mode, cov, _ = like.laplace(arrays["truth_km"][event])
    _compare(mode, np.sqrt(np.diag(cov)), arrays, event)


@pytest.mark.slow
@pytest.mark.parametrize("event", [0, 1])
def test_emulator_nuts_posterior_matches_exact(exact, emulator, event):
    arrays, _ = exact
    like = SeismicTracesLikelihood(emulator, arrays["observed"][event], float(arrays["sigma"]))
    priors = {p: Uniform(*emulator.box[p]) for p in ("x", "y", "depth")}
    posterior = Posterior(priors, {"quake": like})
    start = dict(zip(("x", "y", "depth"), arrays["truth_km"][event].tolist(), strict=True))
    res = sample_posterior(posterior, jax.random.key(event),
                           NUTSConfig(num_chains=4, target_ess=400), reference=start,
                           progress=False)
    draws = np.concatenate(res.chains.samples)
    _compare(draws.mean(0), draws.std(0), arrays, event)
