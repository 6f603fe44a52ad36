"""Reading chain files (cosmoemu/Cobaya and GetDist layouts) and the ``cosmoemu evidence`` CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cosmoemu.cli import main
from cosmoemu.evidence import evidence, linear_gaussian, read_chains
from cosmoemu.inference import Chains

NAMES = ["omega_b", "h"]


def _chain(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal([0.022, 0.67], [0.001, 0.01], (n, 2))
    lp = -0.5 * np.sum(((x - [0.022, 0.67]) / [0.001, 0.01]) ** 2, axis=1) + 8.0
    w = rng.integers(1, 4, n).astype(float)
    return x, lp, w


def _write_cobaya(root, chains, paramnames=True):
    header = ["weight", "minuslogpost", *NAMES, "omega_m", "minuslogprior", "chi2"]
    for j, (x, lp, w) in enumerate(chains, start=1):
        extra = np.stack([x.sum(1), np.full(len(x), 1.5), -2 * lp], axis=1)
        table = np.column_stack([w, -lp, x, extra])
        np.savetxt(f"{root}.{j}.txt", table, fmt="%.17g", header="  ".join(header), comments="# ")
    if paramnames:
        (root.parent / f"{root.name}.paramnames").write_text(
            "omega_b\t\\Omega_b h^2\nh\th\nomega_m*\t\\Omega_m h^2\n"
        )


def _write_getdist(root, chains, single=False):
    for j, (x, lp, w) in enumerate(chains, start=1):
        table = np.column_stack([w, -lp, x, x.sum(1)])
        name = f"{root}.txt" if single else f"{root}_{j}.txt"
        np.savetxt(name, table, fmt="%.17g")
    (root.parent / f"{root.name}.paramnames").write_text("omega_b\t\\omega_b\nh\th\nomega_m*\tx\n")


def _check(chains, expected):
    assert isinstance(chains, Chains)
    assert chains.names == tuple(NAMES)
    assert chains.n_chains == len(expected)
    for j, (x, lp, w) in enumerate(expected):
        np.testing.assert_array_equal(chains.samples[j], x)
        np.testing.assert_array_equal(chains.log_posterior[j], lp)
        np.testing.assert_array_equal(chains.weights[j], w)
        # every other column is kept as derived: omega_m (the sum of the two) first
        np.testing.assert_allclose(chains.derived[j][:, 0], x.sum(1), rtol=1e-15)


def test_read_cobaya_layout(tmp_path):
    expected = [_chain(300, 1), _chain(200, 2), _chain(250, 3)]  # unequal lengths
    root = tmp_path / "run"
    _write_cobaya(root, expected)
    _check(read_chains(root), expected)
    _check(read_chains(tmp_path), expected)  # the folder
    _check(read_chains(tmp_path / "run.2.txt"), expected)  # one file of the root
    chains = read_chains(root)
    assert chains.lengths == [300, 200, 250]
    assert chains.derived_names == ("omega_m", "minuslogprior", "chi2")
    assert chains.labels["omega_b"] == r"\Omega_b h^2"
    assert chains.sources == ("run.1.txt", "run.2.txt", "run.3.txt")
    picked = read_chains(root, params=["h"])
    assert picked.names == ("h",) and picked.derived_names[0] == "omega_b"
    np.testing.assert_array_equal(picked.samples[1][:, 0], expected[1][0][:, 1])


def test_read_cobaya_without_paramnames_uses_updated_yaml(tmp_path):
    expected = [_chain(100, 4), _chain(120, 5)]
    root = tmp_path / "cobaya_run"
    _write_cobaya(root, expected, paramnames=False)
    with pytest.raises(ValueError, match="pass params="):
        read_chains(root)
    _check(read_chains(root, params=NAMES), expected)
    (tmp_path / "cobaya_run.updated.yaml").write_text(
        "params:\n"
        "  omega_b: {prior: {min: 0.005, max: 0.1}, ref: 0.022}\n"
        "  h: {prior: {min: 0.4, max: 1.0}}\n"
        "  omega_m: {derived: true}\n"
        "  A_planck: 1.0\n"
    )
    _check(read_chains(root), expected)


def test_read_getdist_layout_matches_getdist(tmp_path):
    from getdist import loadMCSamples

    expected = [_chain(200, 6), _chain(150, 7)]
    root = tmp_path / "gd"
    _write_getdist(root, expected)
    chains = read_chains(root)
    _check(chains, expected)
    mc = loadMCSamples(str(root), settings={"ignore_rows": 0})
    np.testing.assert_allclose(np.concatenate(chains.samples), mc.samples[:, :2], rtol=1e-15)
    np.testing.assert_allclose(-np.concatenate(chains.log_posterior), mc.loglikes, rtol=1e-15)
    np.testing.assert_allclose(chains.flat_weights, mc.weights, rtol=1e-15)
    np.testing.assert_allclose(chains.flat(), mc.samples, rtol=1e-15)  # derived omega_m too


def test_read_single_getdist_file_and_burn_in(tmp_path):
    expected = [_chain(101, 8)]
    root = tmp_path / "single"
    _write_getdist(root, expected, single=True)
    _check(read_chains(root), expected)
    cut = read_chains(root, burn_in=0.3)
    np.testing.assert_array_equal(cut.samples[0], expected[0][0][30:])


def test_reader_errors(tmp_path):
    _write_cobaya(tmp_path / "a", [_chain(50, 1)])
    _write_getdist(tmp_path / "b", [_chain(50, 2)])
    with pytest.raises(ValueError, match="several roots .*a, b"):
        read_chains(tmp_path)
    with pytest.raises(ValueError, match="unknown parameter 'H' — did you mean 'h'"):
        read_chains(tmp_path / "a", params=["omega_b", "H"])
    with pytest.raises(FileNotFoundError, match="no chains found for root"):
        read_chains(tmp_path / "nothing")
    x, lp, w = _chain(40, 3)
    w[7] = 0.37
    _write_cobaya(tmp_path / "frac", [(x, lp, w)])
    # importance weights are data to the reader, but the harmonic mean needs repeat counts
    assert read_chains(tmp_path / "frac").weights[0][7] == 0.37
    with pytest.raises(ValueError, match=r"chain 0 \(frac.1.txt\): non-integer weight 0.37 in "
                       "row 7"):
        evidence(tmp_path / "frac")
    (tmp_path / "b.paramnames").write_text("omega_b x\nh h\n")  # one column too few
    with pytest.raises(ValueError, match="has 5 columns, expected 4"):
        read_chains(tmp_path / "b")


def test_cli_evidence_from_files(tmp_path):
    """Exact posterior samples written as Cobaya chains: the CLI's ln Z matches the analytic one
    and the Python API on the same files (same seed)."""
    problem = linear_gaussian(2, 4000, n_chains=4, seed=5)
    chains = [
        (problem.samples[j], problem.log_posterior[j], np.ones(4000)) for j in range(4)
    ]
    root = tmp_path / "lg"
    _write_cobaya(root, chains)
    out = tmp_path / "result.json"
    run = CliRunner().invoke(main, ["evidence", str(root), "--json", str(out), "--no-progress"])
    assert run.exit_code == 0, run.output
    assert "ln Z =" in run.output and "parameters: omega_b, h" in run.output
    data = json.loads(out.read_text())
    assert abs(data["ln_z"] - problem.ln_z) < 4 * data["ln_z_err"]
    assert data["n_samples"] + data["n_train"] == 16_000 and data["warnings"] == []
    assert data["ln_z"] == pytest.approx(evidence(root).ln_z, abs=1e-12)


def test_cli_errors(tmp_path):
    run = CliRunner().invoke(main, ["evidence", str(tmp_path)])
    assert run.exit_code == 1 and "no chain files in folder" in run.output
    run = CliRunner().invoke(main, ["evidence", str(tmp_path / "missing")])
    assert run.exit_code == 1 and "no chains found for root" in run.output
    run = CliRunner().invoke(main, ["evidence", str(tmp_path), "-T", "1.5"])
    assert run.exit_code == 2


@pytest.fixture(scope="module")
def gaussian_test_chains(tmp_path_factory):
    """Exact draws of examples/gaussian_test.yaml's posterior written as `cosmoemu sample` does
    (a, h, c sampled; H0 = 100 h derived, starred in .paramnames). Its ln Z is analytic:
    the flat priors on a, h (densities 1/2.5 · 1/0.4 = 1) hold the Gaussian likelihood whole,
    and ∫ N(c; 2, 1) N(c; 0, 2²) dc = N(2; 0, √5), so ln Z = ln N(2; 0, √5) = −2.124."""
    from pathlib import Path

    import yaml
    from scipy import stats

    from cosmoemu.inference import write_chains

    cfg = yaml.safe_load((Path(__file__).parents[2] / "examples" / "gaussian_test.yaml")
                         .read_text())
    like = cfg["likelihood"]["gauss"]
    mean, cov = np.array(like["mean"]), np.array(like["cov"])
    rng = np.random.default_rng(2)
    n_chains, n = 4, 4000
    # posterior: (a, h) as the likelihood; c ~ N(1.6, 0.8) (precision 1 + 1/4)
    ah = rng.multivariate_normal(mean[:2], cov[:2, :2], (n_chains, n))
    c = rng.normal(1.6, np.sqrt(0.8), (n_chains, n, 1))
    x = np.concatenate([ah, c], axis=2)
    log_post = (stats.multivariate_normal(mean, cov).logpdf(x) - np.log(2.5 * 0.4)
                + stats.norm(0.0, 2.0).logpdf(x[..., 2]))
    chains = Chains(names=("a", "h", "c"), derived_names=("H0",), samples=x,
                    derived=100 * x[..., 1:2], minuslogpost=-log_post,
                    weights=np.ones((n_chains, n)))
    root = tmp_path_factory.mktemp("chains") / "gaussian_test"
    write_chains(root, chains, cfg)
    ln_z = stats.norm(0.0, np.sqrt(5.0)).logpdf(2.0)
    assert ln_z == pytest.approx(-2.124, abs=5e-4)
    return root, ln_z


def test_cli_evidence_refuses_derived_and_subsets(gaussian_test_chains):
    """`--params a,h,c,H0` (H0 derived) and `--params a,h` (a subset) once gave −13.9 and −3.8
    against the true −2.124: both are refused, naming the sampled parameters; the full set (any
    order) and the default give the analytic ln Z."""
    root, ln_z = gaussian_test_chains
    assert "H0*" in (root.parent / "gaussian_test.paramnames").read_text()
    run = CliRunner().invoke(main, ["evidence", str(root), "--params", "a,h,c,H0",
                                    "--no-progress"])
    assert run.exit_code == 1
    assert "H0 is a derived parameter" in run.output
    assert "sampled parameters are: a, h, c" in run.output
    run = CliRunner().invoke(main, ["evidence", str(root), "--params", "a,h", "--no-progress"])
    assert run.exit_code == 1
    assert "leaves out the sampled parameter(s) c" in run.output
    assert "sampled parameters are: a, h, c" in run.output
    run = CliRunner().invoke(main, ["evidence", str(root), "--params", "a,b,c", "--no-progress"])
    assert run.exit_code == 1 and "'b'" in run.output
    for params in (["--params", "c,a,h"], []):
        out = root.parent / "ev.json"
        run = CliRunner().invoke(main, ["evidence", str(root), *params, "--json", str(out),
                                        "--no-progress"])
        assert run.exit_code == 0, run.output
        data = json.loads(out.read_text())
        assert abs(data["ln_z"] - ln_z) < 4 * data["ln_z_err"], (data["ln_z"], ln_z)
        assert abs(data["ln_z"] - ln_z) < 0.02


def test_evidence_too_few_samples_says_how_many():
    problem = linear_gaussian(3, 60, n_chains=2, seed=1)
    with pytest.raises(ValueError, match=r"too few samples for the evidence: 120 draws.*"
                                         r"needs about \d+ draws.*run the sampler longer"):
        evidence(problem.samples, problem.log_posterior)
