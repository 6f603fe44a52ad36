"""ln Z at 40 dimensions with a strongly correlated covariance, against the analytic value.

The covariance is a 40-parameter block of the Laplace covariance of the 157-parameter Stage-IV
3x2pt posterior (``fixtures/stage4_3x2pt_157_laplace.npz``, from
``benchmarks/_stage4_covariance.py``): the 7 cosmological parameters, the 30 galaxy biases and
``s1_m_1..3`` — condition number 1.1e7, correlations up to 0.993. Likelihood N(θ; mode, Σ),
uniform prior on mode ± 10σ (:func:`cosmoemu.evidence.gaussian_box`: ln Z = −ln V to 1e-22).
``cosmoemu.evidence`` runs with its defaults (temperature 0.899 at D = 40). The full 157-D
calibration is ``benchmarks/evidence_gaussian_157.py`` (docs/evidence.md).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from cosmoemu.evidence import EvidenceWarning, default_temperature, evidence, gaussian_box

FIXTURE = Path(__file__).parent / "fixtures" / "stage4_3x2pt_157_laplace.npz"
SEEDS = range(8)


def _block() -> tuple[np.ndarray, np.ndarray, list[str]]:
    data = np.load(FIXTURE)
    names = [str(n) for n in data["names"]]
    chosen = names[:7] + [n for n in names if "_b_" in n] + ["s1_m_1", "s1_m_2", "s1_m_3"]
    idx = [names.index(n) for n in chosen]
    return data["mode"][idx], data["cov"][np.ix_(idx, idx)], chosen


@pytest.fixture(scope="module")
def runs():
    """Per seed: 4 chains x 3000 exact draws (half fit the flow, half evaluate it)."""
    mean, cov, _ = _block()
    out = []
    for seed in SEEDS:
        problem = gaussian_box(mean, cov, 3000, n_chains=4, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error", EvidenceWarning)  # no diagnostic fails
            result = evidence(problem.samples, problem.log_posterior, seed=seed)
        out.append((result, problem.ln_z))
    return out


def test_fixture_block_is_a_hard_covariance():
    mean, cov, names = _block()
    sigma = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sigma, sigma)
    assert len(names) == 40 and mean.shape == (40,)
    assert np.linalg.eigvalsh(cov).min() > 0
    assert np.linalg.cond(cov) > 1e7 and np.abs(corr - np.eye(40)).max() > 0.99


def test_ln_z_error_below_0_05(runs):
    for result, ln_z in runs:
        assert result.dim == 40 and result.temperature == pytest.approx(default_temperature(40))
        assert abs(result.ln_z - ln_z) < 0.05
        assert abs(result.ln_z - ln_z) < 4 * result.ln_z_err
        assert 0 < result.ln_z_err < 0.05


def test_errors_are_calibrated(runs):
    """chi^2/n of (ln Z_hat - ln Z)/sigma over the seeds lies in [0.3, 2]."""
    z = np.array([(r.ln_z - ln_z) / r.ln_z_err for r, ln_z in runs])
    assert 0.3 <= np.mean(z**2) <= 2.0
