"""ln Z of the linear Gaussian model (analytic) from exact posterior samples.

Default run: D = 2 and 10, five seeds each, 16 000 samples in 4 chains. Slow run (``-m slow``):
D = 2, 10, 32, 64, ten seeds each, 10^5 samples, as in the issue.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import cosmoemu
from cosmoemu._errors import ConfigError
from cosmoemu.evidence import (
    EvidenceError,
    EvidenceWarning,
    bayes_factor,
    evidence,
    fit_flow,
    linear_gaussian,
)


def _run(dim: int, n: int, seed: int, n_chains: int = 4):
    problem = linear_gaussian(dim, n // n_chains, n_chains=n_chains, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EvidenceWarning)  # a passing run raises no warning
        result = evidence(problem.samples, problem.log_posterior, seed=seed)
    return result, problem.ln_z


@pytest.fixture(scope="module")
def calibration():
    return {dim: [_run(dim, 16_000, seed) for seed in range(5)] for dim in (2, 10)}


@pytest.mark.parametrize("dim", [2, 10])
def test_ln_z_within_reported_error(calibration, dim):
    for result, ln_z in calibration[dim]:
        assert abs(result.ln_z - ln_z) < 4 * result.ln_z_err
        assert 0 < result.ln_z_err < 0.05
        assert result.n_blocks == 52 and result.n_samples == 8000 and result.n_train == 8000


def test_errors_are_calibrated(calibration):
    """chi^2/n of (ln Z_hat - ln Z)/sigma over the 10 runs lies in [0.3, 2]."""
    z = [(r.ln_z - ln_z) / r.ln_z_err for runs in calibration.values() for r, ln_z in runs]
    assert 0.3 <= np.mean(np.square(z)) <= 2.0


def test_result_object(calibration):
    result, _ = calibration[2][0]
    # cosmoemu.evidence is the (callable) subpackage; calling it calls the function
    assert cosmoemu.evidence.evidence is evidence and cosmoemu.bayes_factor is bayes_factor
    problem = linear_gaussian(2, 4000, n_chains=4, seed=0)
    via_module = cosmoemu.evidence(problem.samples, problem.log_posterior, flow=result.fitted_flow)
    direct = evidence(problem.samples, problem.log_posterior, flow=result.fitted_flow)
    assert via_module.ln_z == direct.ln_z
    assert result.ln_inv_z == -result.ln_z
    d = result.to_dict()
    assert d["ln_z"] == result.ln_z and "fitted_flow" not in d and d["flow"] == "realnvp"
    assert d["warnings"] == [] and d["fit"]["epochs"] >= 1
    assert "ln Z =" in str(result)


@pytest.fixture(scope="module")
def split_problem():
    """One posterior: 8000 samples to fit a flow, 16 000 independent ones to evaluate."""
    problem = linear_gaussian(2, 24_000, seed=7)
    flow = fit_flow(problem.samples[0, :8000], seed=0)
    return flow, problem.samples[0, 8000:], problem.log_posterior[0, 8000:], problem.ln_z


def test_unequal_chains_are_not_corrupted(split_problem):
    """Chains of lengths 7000, 1000, 5000, 3000 give exactly the ln Z of the same samples as one
    chain or as four equal chains (the pooled mean), and the analytic value within errors."""
    flow, theta, log_post, ln_z = split_problem
    cuts = np.cumsum([7000, 1000, 5000])
    unequal = evidence(np.split(theta, cuts), np.split(log_post, cuts), flow=flow)
    single = evidence(theta, log_post, flow=flow)
    equal = evidence(theta.reshape(4, 4000, 2), log_post.reshape(4, 4000), flow=flow)
    assert unequal.ln_z == pytest.approx(single.ln_z, abs=1e-10)
    assert unequal.ln_z == pytest.approx(equal.ln_z, abs=1e-10)
    assert unequal.n_samples == 16_000 and unequal.n_chains == 4
    for r in (unequal, single, equal):
        assert abs(r.ln_z - ln_z) < 4 * r.ln_z_err
    assert unequal.ln_z_err == pytest.approx(single.ln_z_err, rel=0.5)


def test_unequal_chains_full_pipeline():
    """Training/evaluation split per chain: no sample lost, analytic ln Z within errors."""
    problem = linear_gaussian(10, 16_000, seed=21)
    cuts = np.cumsum([6000, 2000, 5000])
    result = evidence(np.split(problem.samples[0], cuts), np.split(problem.log_posterior[0], cuts))
    assert result.n_train + result.n_samples == 16_000
    assert abs(result.ln_z - problem.ln_z) < 4 * result.ln_z_err


def test_integer_weights_equal_repeated_rows(split_problem):
    flow, theta, log_post, _ = split_problem
    counts = np.random.default_rng(3).integers(1, 4, 4000)
    compact = evidence(theta[:4000], log_post[:4000], weights=counts, flow=flow)
    expanded = evidence(
        np.repeat(theta[:4000], counts, axis=0), np.repeat(log_post[:4000], counts), flow=flow
    )
    assert compact.ln_z == pytest.approx(expanded.ln_z, abs=1e-10)
    assert compact.n_samples == expanded.n_samples == counts.sum()
    assert compact.ln_z_err == pytest.approx(expanded.ln_z_err, rel=0.3)


def test_bayes_factor_at_ln_inv_z_800():
    """ln(1/Z) ~ 800: 1/Z overflows float64, the estimate and the Bayes factor stay finite."""
    a = linear_gaussian(2, 4000, n_chains=4, ln_l_offset=-800.0, seed=11)
    b = linear_gaussian(2, 4000, n_chains=4, ln_l_offset=-805.0, seed=12)
    ra = evidence(a.samples, a.log_posterior, seed=1)
    rb = evidence(b.samples, b.log_posterior, seed=2)
    with np.errstate(over="ignore"):
        assert ra.ln_inv_z > 800 and math.isinf(np.exp(np.float64(ra.ln_inv_z)))
    assert abs(ra.ln_z - a.ln_z) < 4 * ra.ln_z_err
    assert abs(rb.ln_z - b.ln_z) < 4 * rb.ln_z_err
    bf = bayes_factor(ra, rb)
    assert bf.ln_b_err == pytest.approx(math.hypot(ra.ln_z_err, rb.ln_z_err))
    assert abs(bf.ln_b - (a.ln_z - b.ln_z)) < 4 * bf.ln_b_err
    assert bayes_factor((ra.ln_z, ra.ln_z_err), (rb.ln_z, rb.ln_z_err)) == bf


def test_refuses_a_single_block(split_problem):
    flow, theta, log_post, _ = split_problem
    with pytest.raises(EvidenceError, match="at least 2 blocks"):
        evidence(theta[:3000], log_post[:3000], flow=flow, min_blocks=1)


def test_refuses_one_sample_carrying_everything(split_problem):
    flow, theta, log_post, _ = split_problem
    wrong = log_post.copy()
    wrong[123] -= 300.0  # this sample's ratio is e^300 times the others'
    with pytest.raises(EvidenceError, match="one sample carries 100%"):
        evidence(theta, wrong, flow=flow)


def test_warns_on_few_blocks(split_problem):
    flow, theta, log_post, _ = split_problem
    with pytest.warns(EvidenceWarning, match="only 4 blocks"):
        result = evidence(theta, log_post, flow=flow, min_blocks=4)
    assert result.n_blocks == 4 and any("only 4 blocks" in w for w in result.warnings)


def test_warns_when_the_flow_is_wider_than_the_posterior(split_problem):
    """A flow fitted to samples twice as wide: infinite-variance ratios, heavy-tailed blocks."""
    _, theta, log_post, _ = split_problem
    centre = theta.mean(axis=0)
    wide = fit_flow(centre + 2.0 * (theta[:8000] - centre), seed=0)
    with pytest.warns(EvidenceWarning) as record:
        result = evidence(theta, log_post, flow=wide)
    assert any("kurtosis" in str(w.message) for w in record)
    assert any("kurtosis" in w for w in result.warnings)


def test_bad_input_is_refused(split_problem):
    flow, theta, log_post, _ = split_problem
    bad = log_post[:2000].copy()
    bad[5] = -np.inf
    with pytest.raises(ValueError, match=r"chain 0: log_posterior is -inf in rows \[5\]"):
        evidence(theta[:2000], bad, flow=flow)
    with pytest.raises(ValueError, match="non-integer weight 1.5 in row 1"):
        evidence(theta[:3], log_post[:3], weights=[1, 1.5, 2], flow=flow)
    with pytest.raises(ValueError, match="chain 1: 10 samples but 9 log_posterior"):
        evidence([theta[:10], theta[10:20]], [log_post[:10], log_post[10:19]], flow=flow)
    with pytest.raises(ValueError, match="temperature must be in"):
        evidence(theta, log_post, flow=flow, temperature=1.0)
    with pytest.raises(ValueError, match="log_posterior .* is required"):
        evidence(theta)
    with pytest.raises(ValueError, match="dim 2, the samples have 3"):
        evidence(np.zeros((100, 3)), np.zeros(100), flow=flow)
    with pytest.raises(ConfigError, match="did you mean 'rqspline'"):
        evidence(theta, log_post, flow="rqsplines")


@pytest.mark.slow
@pytest.mark.parametrize("dim", [2, 10, 32, 64])
def test_calibration_full(dim):
    """Issue 6: ten seeds, 10^5 exact samples: chi^2/n in [0.3, 2]; |error| < 0.01 at D = 10."""
    runs = [_run(dim, 100_000, seed) for seed in range(10)]
    z = [(r.ln_z - ln_z) / r.ln_z_err for r, ln_z in runs]
    assert 0.3 <= np.mean(np.square(z)) <= 2.0
    if dim == 10:
        assert max(abs(r.ln_z - ln_z) for r, ln_z in runs) < 0.01


def test_strict_dtype_promotion(split_problem, strict_promotion):
    """float32 flow, float64 sums: no silent float32/float64 mixing in the evaluation.

    (Training under strict promotion runs in ``test_float64_run``.)
    """
    flow, theta, log_post, ln_z = split_problem
    result = evidence(theta, log_post, flow=flow)
    assert abs(result.ln_z - ln_z) < 4 * result.ln_z_err


@pytest.mark.slow
def test_float64_training(x64, strict_promotion):
    """With JAX's x64 mode on, the flow is built, trained and evaluated in float64 (and with
    strict dtype promotion)."""
    from cosmoemu.evidence._flows import param_dtype

    problem = linear_gaussian(2, 4000, n_chains=4, seed=31)
    result = evidence(problem.samples, problem.log_posterior)
    assert param_dtype(result.fitted_flow.params) == np.float64
    assert abs(result.ln_z - problem.ln_z) < 4 * result.ln_z_err
