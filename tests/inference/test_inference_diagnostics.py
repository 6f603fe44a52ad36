"""R-hat and ESS against i.i.d. draws and AR(1) chains with known ESS."""

from __future__ import annotations

import numpy as np
import pytest

from cosmoemu.inference import diagnose, ess_bulk, ess_tail, split_rhat


def ar1(rng, rho: float, n_chains: int, n: int) -> np.ndarray:
    e = rng.normal(size=(n_chains, n))
    y = np.empty_like(e)
    y[:, 0] = e[:, 0] / np.sqrt(1 - rho**2)
    for t in range(1, n):
        y[:, t] = rho * y[:, t - 1] + e[:, t]
    return y


def test_iid_gaussian():
    """R-hat ≈ 1 and ESS ≈ N (within Monte-Carlo error) for independent draws."""
    rng = np.random.default_rng(0)
    rhats, ess = [], []
    for _ in range(20):
        x = rng.normal(size=(4, 500))
        rhats.append(split_rhat(x))
        ess.append(ess_bulk(x))
    assert np.all(np.abs(np.array(rhats) - 1) < 0.02)
    # the ESS estimate of i.i.d. draws scatters by ~10 % around N = 2000
    assert np.mean(ess) == pytest.approx(2000, rel=0.05)
    assert ess_tail(rng.normal(size=(4, 2000))) == pytest.approx(8000, rel=0.15)


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_ar1_known_ess(rho):
    rng = np.random.default_rng(1)
    n_chains, n = 4, 20_000
    estimates = [ess_bulk(ar1(rng, rho, n_chains, n)) for _ in range(3)]
    want = n_chains * n * (1 - rho) / (1 + rho)
    assert np.mean(estimates) == pytest.approx(want, rel=0.08)


def test_rhat_detects_disagreeing_chains():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 1000))
    x[0] += 1.0  # one chain elsewhere
    assert split_rhat(x) > 1.05
    y = rng.normal(size=(4, 1000))
    y[1] *= 3.0  # one chain with a different scale: caught by the folded R-hat
    assert split_rhat(y) > 1.05
    trend = rng.normal(size=(4, 1000)) + np.linspace(0, 2, 1000)  # non-stationary: split R-hat
    assert split_rhat(trend) > 1.05


def test_diagnose_shapes_and_errors():
    rng = np.random.default_rng(3)
    d = diagnose(rng.normal(size=(2, 100, 3)))
    assert set(d) == {"rhat", "ess_bulk", "ess_tail"} and d["rhat"].shape == (3,)
    with pytest.raises(ValueError, match=r"n_chains, n_draws, n_params"):
        diagnose(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="at least 4 draws"):
        split_rhat(np.zeros((2, 3)))
