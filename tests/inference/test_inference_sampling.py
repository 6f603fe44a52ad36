"""NUTS on a Gaussian posterior with known moments; chain files, GetDist, summaries, the CLI."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from cosmoemu.cli import main
from cosmoemu.inference import (
    NUTSConfig,
    load_run_config,
    read_chains,
    sample_posterior,
    summarize,
    write_chains,
)

# Gaussian likelihood in (a, h, c) with wide priors; c also has a N(0, 2) prior.
MEAN = np.array([0.3, 0.7, 2.0])
COV = np.array([[0.01, 0.001, 0.0], [0.001, 0.0004, 0.0], [0.0, 0.0, 1.0]])
CONFIG = {
    "likelihood": {"gauss": {"type": "gaussian", "params": ["a", "h", "c"],
                             "mean": MEAN.tolist(), "cov": COV.tolist()}},
    "params": {
        "a": {"prior": {"min": -1.0, "max": 1.5}, "latex": r"\alpha"},
        "h": {"prior": {"min": 0.5, "max": 0.9}, "ref": 0.68},
        "c": {"prior": {"dist": "norm", "loc": 0.0, "scale": 2.0}},
        "H0": {"derived": True},
    },
    "sampler": {"nuts": {"chains": 4, "seed": 7, "target_ess": 1000}},
}
# Posterior moments: a, h as the likelihood (the priors are flat over > 10 σ); c combines
# N(2, 1) with N(0, 2²): variance 1/(1 + 1/4) = 0.8, mean 0.8 · 2 = 1.6.
POST_MEAN = {"a": 0.3, "h": 0.7, "c": 1.6, "H0": 70.0}
POST_STD = {"a": 0.1, "h": 0.02, "c": np.sqrt(0.8), "H0": 2.0}


@pytest.fixture(scope="module")
def run():
    cfg = load_run_config(CONFIG)
    result = sample_posterior(cfg.posterior, jax.random.key(cfg.seed), cfg.nuts,
                              reference=cfg.reference, progress=False)
    return cfg, result


def test_nuts_recovers_known_moments(run):
    _, result = run
    assert result.converged, result.nuts.stop_reason
    assert result.divergences == 0
    chains = result.chains
    for s in summarize(chains):
        ess = min(s.ess_bulk, s.ess_tail)
        assert ess >= 1000 and s.rhat - 1 < 0.01
        z_mean = (s.mean - POST_MEAN[s.name]) / (POST_STD[s.name] / np.sqrt(s.ess_bulk))
        assert abs(z_mean) < 4.5, (s.name, s.mean, z_mean)
        # the std's relative Monte-Carlo error is about 1/sqrt(2 ESS)
        assert abs(s.std / POST_STD[s.name] - 1) < 4.5 / np.sqrt(2 * ess), (s.name, s.std)
    corr = np.corrcoef(chains.column("a").ravel(), chains.column("h").ravel())[0, 1]
    assert corr == pytest.approx(0.5, abs=0.08)
    np.testing.assert_allclose(chains.column("H0"), 100 * chains.column("h"), rtol=1e-6)


def test_minuslogpost_column_is_the_physical_log_posterior(run):
    cfg, result = run
    chains = result.chains
    x = np.concatenate(chains.samples)[:50]
    with jax.enable_x64(True):
        want = -np.asarray(jax.vmap(cfg.posterior.logpost)(jnp.asarray(x)))
    np.testing.assert_allclose(chains.flat_minuslogpost[:50], want, rtol=1e-5, atol=1e-4)


def test_chain_files_round_trip_and_getdist(run, tmp_path):
    from getdist import loadMCSamples

    cfg, result = run
    chains = result.chains
    root = tmp_path / "out" / "gauss"
    write_chains(root, chains, cfg.config)
    first = (tmp_path / "out" / "gauss.1.txt").read_text().splitlines()[0]
    assert first == "#  weight  minuslogpost  a  h  c  H0"
    back = read_chains(root)
    assert back.names == ("a", "h", "c") and back.derived_names == ("H0",)
    np.testing.assert_allclose(back.values, chains.values, rtol=1e-9)
    np.testing.assert_allclose(back.minuslogpost, chains.minuslogpost, rtol=1e-9)
    assert yaml.safe_load((tmp_path / "out" / "gauss.input.yaml").read_text()) == CONFIG
    gd = loadMCSamples(str(root), settings={"ignore_rows": 0})
    pars = gd.getParamNames()
    assert [p.name for p in pars.names] == ["a", "h", "c", "H0"]
    assert pars.parWithName("a").label == r"\alpha"
    assert pars.parWithName("H0").isDerived and not pars.parWithName("h").isDerived
    np.testing.assert_allclose(gd.getMeans(), chains.flat().mean(0), rtol=1e-8)
    np.testing.assert_allclose(gd.loglikes, chains.flat_minuslogpost, rtol=1e-9)
    assert gd.numrows == sum(chains.lengths) == 4 * chains.lengths[0]


def test_unequal_chains_kept_whole(run, tmp_path):
    """A chain cut short (e.g. a killed Cobaya run) is read in full, never truncated; summaries
    weigh every row; per-chain arrays need equal lengths and say so."""
    from cosmoemu.evidence import read_chains as read_any

    cfg, result = run
    root = tmp_path / "gauss"
    write_chains(root, result.chains, cfg.config)
    lines = (tmp_path / "gauss.2.txt").read_text().splitlines(keepends=True)
    (tmp_path / "gauss.2.txt").write_text("".join(lines[:-7]))
    assert read_any is read_chains  # one reader
    back = read_chains(root)
    n, c = result.chains.lengths[0], result.chains.n_chains
    assert back.lengths == [n, n - 7] + [n] * (c - 2)
    np.testing.assert_allclose(back.samples[1], result.chains.samples[1][:-7], rtol=1e-9)
    np.testing.assert_allclose(back.derived[2], result.chains.derived[2], rtol=1e-9)
    with pytest.raises(ValueError, match="unequal length|lengths"):
        back.column("a")
    x = np.concatenate([result.chains.samples[j][: n - 7 if j == 1 else n, 2] for j in range(c)])
    assert {s.name: s for s in summarize(back)}["c"].mean == pytest.approx(x.mean(), rel=1e-9)
    # a root written again with fewer chains leaves no chain of the old run behind
    two = result.chains.rows([slice(None)] * c)
    from cosmoemu.inference import Chains

    two = Chains(two.names, two.samples[:2], two.minuslogpost[:2],
                 derived_names=two.derived_names, derived=two.derived[:2])
    write_chains(root, two)
    assert read_chains(root).n_chains == 2


def test_summary_matches_numpy(run):
    _, result = run
    chains = result.chains
    rows = {s.name: s for s in summarize(chains)}
    x = chains.column("c").ravel()
    assert rows["c"].mean == pytest.approx(x.mean(), rel=1e-12)
    assert rows["c"].std == pytest.approx(x.std(), rel=1e-12)
    lo, hi = np.quantile(x, [0.158655, 0.841345])
    assert rows["c"].lower68 == pytest.approx(lo, abs=0.02)
    assert rows["c"].upper68 == pytest.approx(hi, abs=0.02)


def test_cli_sample_runs_a_config(tmp_path):
    path = tmp_path / "gauss.yaml"
    path.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    root = tmp_path / "cli" / "g"
    res = CliRunner().invoke(main, ["sample", str(path), "--output", str(root), "--no-cache",
                                    "--no-progress", "--json", str(tmp_path / "rec.json")])
    assert res.exit_code == 0, res.output
    assert "converged" in res.output and "R-hat" in res.output
    for suffix in (".1.txt", ".4.txt", ".paramnames", ".input.yaml", ".summary.txt",
                   ".triangle.png"):
        assert (tmp_path / "cli" / f"g{suffix}").stat().st_size > 0
    rec = json.loads((tmp_path / "rec.json").read_text())
    assert rec["converged"] and rec["divergences"] == 0 and rec["seed"] == 7
    h = rec["params"]["h"]
    assert abs(h["mean"] - 0.7) < 4.5 * 0.02 / np.sqrt(h["ess_bulk"])
    assert rec["wall_time_s"] > 0 and "sampling" in rec["timings_s"]


def test_cli_sample_bad_config_names_the_field(tmp_path):
    bad = {**CONFIG, "params": {**CONFIG["params"], "b": {"prior": {"min": 0, "max": 1}}}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad, sort_keys=False))
    res = CliRunner().invoke(main, ["sample", str(path), "--no-cache"])
    assert res.exit_code != 0
    assert "params.b" in res.output and "unknown parameter 'b'" in res.output


@pytest.mark.slow
def test_window_adaptation_recovers_known_moments():
    cfg = load_run_config(CONFIG)
    nuts = NUTSConfig(init="window", num_warmup=300)
    result = sample_posterior(cfg.posterior, jax.random.key(3), nuts, reference=cfg.reference,
                              progress=False)
    assert result.converged
    for s in summarize(result.chains):
        z = (s.mean - POST_MEAN[s.name]) / (POST_STD[s.name] / np.sqrt(s.ess_bulk))
        assert abs(z) < 4.5


def test_example_gaussian_config_is_the_test_config():
    """examples/gaussian_test.yaml describes the posterior whose moments are asserted above."""
    from pathlib import Path

    example = yaml.safe_load((Path(__file__).parents[2] / "examples" / "gaussian_test.yaml")
                             .read_text())
    assert example["likelihood"] == CONFIG["likelihood"]
    assert example["params"] == CONFIG["params"]


def test_evidence_of_the_sampler_output(run):
    """cosmoemu.evidence takes the SampleResult itself: ln Z of this posterior is analytic.

    The likelihood is a normalised Gaussian; the flat priors on a and h hold it whole (their
    densities multiply to 1 / (2.5 · 0.4) = 1); for c, ∫ N(c; 2, 1) N(c; 0, 2²) dc = N(2; 0, √5).
    """
    import cosmoemu

    _, result = run
    ln_z = -0.5 * 4 / 5 - 0.5 * np.log(2 * np.pi * 5)
    res = cosmoemu.evidence(result, min_block_size=50)  # NUTS draws here are nearly independent
    assert res.names == ("a", "h", "c") and res.n_chains == 4
    assert res.n_train + res.n_samples == sum(result.chains.lengths)
    assert abs(res.ln_z - ln_z) < 4 * res.ln_z_err, (res.ln_z, res.ln_z_err, ln_z)
    # the same draws as Chains, or as arrays, give the same estimate with the same flow
    flow = res.fitted_flow
    from_chains = cosmoemu.evidence(result.chains, flow=flow, min_block_size=50)
    from_arrays = cosmoemu.evidence(result.chains.samples, result.chains.log_posterior, flow=flow,
                                    min_block_size=50)
    assert from_chains.ln_z == from_arrays.ln_z and from_chains.ln_z_err == from_arrays.ln_z_err


# ------------------------------------------------------------------ the NUTS kernel and driver
TARGET_MEAN = np.array([1.0, -2.0])
TARGET_COV = np.array([[1.0, 0.8], [0.8, 4.0]])


def _gauss_logdensity(u):
    r = u - jnp.asarray(TARGET_MEAN, u.dtype)
    return -0.5 * r @ jnp.asarray(np.linalg.inv(TARGET_COV), u.dtype) @ r


def test_step_block_is_pure_named_and_compiled_once():
    """init/step_block on a 2-D Gaussian: named diagnostics, moments within Monte-Carlo error,
    one compilation for warmup and sampling, the same key giving the same draws."""
    from cosmoemu.inference import diagnose, end_warmup, nuts

    traces = []

    def logdensity(u):
        traces.append(1)  # runs only while tracing
        return _gauss_logdensity(u)

    n, steps = 4, 200
    imm = jnp.asarray(TARGET_COV, jnp.float32)
    accept = jnp.asarray(0.8, jnp.float32)
    state = nuts.init(jnp.zeros((n, 2)), logdensity, jnp.ones(n))
    keys = jax.random.split(jax.random.key(5), 4)
    state, info = nuts.step_block(keys[0], state, logdensity, imm, jnp.asarray(True), accept,
                                  num_steps=steps)
    n_traces = len(traces)
    state = end_warmup(state)
    assert isinstance(state, nuts.NUTSState) and state.step_size.shape == (n,)
    assert 0.5 < float(jnp.min(state.step_size)) and float(jnp.max(state.step_size)) < 3.0
    draws = []
    for k in keys[1:]:
        state, info = nuts.step_block(k, state, logdensity, imm, jnp.asarray(False), accept,
                                      num_steps=steps)
        draws.append(np.asarray(info.position))
    assert len(traces) == n_traces  # warmup and sampling: one compiled block
    assert isinstance(info, nuts.NUTSInfo) and info.observed is None
    assert info.position.shape == (steps, n, 2) and info.is_divergent.shape == (steps, n)
    assert not np.any(info.is_divergent) and np.all(info.num_integration_steps >= 1)
    assert 0.5 < float(np.mean(info.acceptance_rate)) <= 1.0
    x = np.concatenate(draws).swapaxes(0, 1)  # (chains, draws, 2)
    ess = diagnose(x)["ess_bulk"]
    se = np.sqrt(np.diag(TARGET_COV) / ess)
    np.testing.assert_array_less(np.abs(x.reshape(-1, 2).mean(0) - TARGET_MEAN), 4.5 * se)
    cov = np.cov(x.reshape(-1, 2).T)
    assert cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]) == pytest.approx(0.4, abs=0.1)
    again, info2 = nuts.step_block(keys[3], state, logdensity, imm, jnp.asarray(False), accept,
                                   num_steps=steps)
    other, info3 = nuts.step_block(keys[3], state, logdensity, imm, jnp.asarray(False), accept,
                                   num_steps=steps)
    np.testing.assert_array_equal(info2.position, info3.position)


def test_sample_nuts_keys_progress_and_reproducibility(monkeypatch):
    """The driver: named subkeys, a progress total that never changes, same key → same draws."""
    from cosmoemu.inference import _driver
    from cosmoemu.inference._driver import SamplerKeys

    totals = []

    class Bar:
        def __init__(self, total, **kwargs):
            self.total, self.n = total, 0
            totals.append(total)

        def update(self, k):
            self.n += k
            totals.append(self.total)

        def set_postfix_str(self, text):
            totals.append(self.total)

        def close(self):
            totals.append(self.total)

    monkeypatch.setattr(_driver, "tqdm", Bar)
    cfg = NUTSConfig(num_chains=4, num_warmup=100, block_size=100, min_draws=200,
                     max_draws=2000, target_ess=400)
    key = jax.random.key(11)
    keys = SamplerKeys.split(key)
    data = {np.asarray(jax.random.key_data(k)).tobytes() for k in keys}
    assert len(data) == 3  # three different subkeys
    res = _driver.sample_nuts(_gauss_logdensity, key, jnp.zeros(2), cfg)
    assert res.converged, res.stop_reason
    assert set(totals) == {100 + 2000}, totals  # never re-estimated
    np.testing.assert_allclose(res.mode, TARGET_MEAN, atol=1e-3)
    np.testing.assert_allclose(res.inverse_mass_matrix, TARGET_COV, rtol=1e-2)
    x = res.positions.reshape(-1, 2)
    se = np.sqrt(np.diag(TARGET_COV) / res.diagnostics["ess_bulk"])
    np.testing.assert_array_less(np.abs(x.mean(0) - TARGET_MEAN), 4.5 * se)
    same = _driver.sample_nuts(_gauss_logdensity, key, jnp.zeros(2), cfg, progress=False)
    np.testing.assert_array_equal(same.positions, res.positions)
    other = _driver.sample_nuts(_gauss_logdensity, jax.random.key(12), jnp.zeros(2), cfg,
                                progress=False)
    assert not np.allclose(other.positions[:, 0], res.positions[:, 0])


def _logistic_logdensity(u):
    # independent standard logistic densities: variance π²/3, Laplace (inverse Hessian at the
    # mode) variance 2
    return jnp.sum(-u - 2.0 * jnp.log1p(jnp.exp(-u)))


def test_adapt_metric_learns_the_covariance_the_laplace_metric_misjudges():
    """With adapt_metric the warmup replaces the Laplace metric (variance 2 here) by the draws'
    covariance, which approaches the logistic variance π²/3 = 3.29."""
    from cosmoemu.inference import _driver

    cfg = NUTSConfig(num_chains=4, num_warmup=400, block_size=100, min_draws=200,
                     max_draws=1000, target_ess=400, adapt_metric=True)
    res = _driver.sample_nuts(_logistic_logdensity, jax.random.key(5), jnp.zeros(3), cfg,
                              progress=False)
    var = np.diag(res.inverse_mass_matrix)
    # draws of the two middle warmup blocks: ~800 draws, ESS a few hundred: ±25 %
    assert np.all(np.abs(var / (np.pi**2 / 3) - 1) < 0.25), var
    assert res.converged, res.stop_reason
    x = res.positions.reshape(-1, 3)
    np.testing.assert_allclose(x.var(0), np.pi**2 / 3, rtol=0.15)


def test_adapt_metric_needs_two_warmup_blocks():
    with pytest.raises(ValueError, match="adapt_metric needs at least 2 warmup blocks"):
        NUTSConfig(num_warmup=100, block_size=100, adapt_metric=True)
    NUTSConfig(num_warmup=101, block_size=100, adapt_metric=True)
    NUTSConfig(num_warmup=100, block_size=100, adapt_metric=True, init="window")


def test_sample_metric_shrinks_towards_the_prior_metric():
    from cosmoemu.inference._driver import sample_metric

    rng = np.random.default_rng(0)
    draws = rng.normal(size=(50, 2, 3)) * np.array([1.0, 2.0, 3.0])
    prior = np.eye(3)
    n = 100
    cov = np.cov(draws.reshape(-1, 3), rowvar=False)
    np.testing.assert_allclose(sample_metric([draws], prior, shrink=10.0),
                               (n * cov + 10.0 * prior) / (n + 10.0))
