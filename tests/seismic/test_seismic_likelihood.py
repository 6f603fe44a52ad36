"""The ``seismic_traces`` likelihood: formula, observed-file checks, config wiring.

The emulator is replaced by a stand-in with the same API (``parameters``, ``box``,
``output_shape``, ``predict(params, policy=...)``) whose traces are the shared reference event
shifted linearly with the hypocentre, so these tests need neither pyprop8 nor a trained model.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from scipy import stats

from cosmoemu._errors import ConfigError
from cosmoemu.inference import load_run_config
from cosmoemu.likelihoods import (
    SeismicTracesLikelihood,
    likelihood_names,
    read_observed_traces,
    traces_loglike,
)
from cosmoemu.seismic import load_scenario

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = FIXTURES / "reference_event.npz"
EXAMPLE = Path(__file__).parents[2] / "examples" / "data" / "seismic_event.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


class StandIn:
    """Emulator API stand-in: traces = base + (h - h0) . grad, NaN outside the box."""

    parameters = ("x", "y", "depth")

    def __init__(self, base: np.ndarray, h0: np.ndarray) -> None:
        self.base = base
        self.h0 = h0
        # (3, 10, 3, 200) mm/km: independent patterns giving a ~0.1 km wide, round ln L peak
        self.grad = np.random.default_rng(5).normal(0.0, 0.003, (3, *base.shape))
        sc = load_scenario()
        self.box = dict(sc.box)
        self.output_shape = sc.trace_shape

    def predict(self, params, policy="raise"):
        x = jnp.stack([jnp.asarray(params[p]) for p in self.parameters], axis=-1)
        lo = jnp.array([self.box[p][0] for p in self.parameters])
        hi = jnp.array([self.box[p][1] for p in self.parameters])
        dh = x - jnp.asarray(self.h0, x.dtype)
        out = jnp.asarray(self.base, x.dtype) + jnp.tensordot(dh, jnp.asarray(self.grad, x.dtype),
                                                              axes=1)
        if policy == "nan":
            inside = jnp.all((x >= lo) & (x <= hi), axis=-1)
            out = jnp.where(inside[..., None, None, None], out, jnp.nan)
        return out


@pytest.fixture(scope="module")
def standin(reference):
    return StandIn(reference["traces"], reference["hypocentre_km"])


def numpy_loglike(d, m, sigma):
    return float(-0.5 * np.sum((d - m) ** 2) / sigma**2
                 - 0.5 * d.size * np.log(2 * np.pi * sigma**2))


def test_registered():
    assert "seismic_traces" in likelihood_names()


def test_traces_loglike_matches_numpy_and_scipy(reference, x64):
    rng = np.random.default_rng(0)
    sigma = 0.0222
    m = reference["traces"]
    d = m + rng.normal(0, sigma, m.shape)
    ours = float(traces_loglike(d, m, sigma))
    assert ours == pytest.approx(numpy_loglike(d, m, sigma), rel=1e-12)
    assert ours == pytest.approx(float(np.sum(stats.norm.logpdf(d, m, sigma))), rel=1e-12)
    # batched model: one value per row
    batch = np.stack([m, m + 0.01])
    got = np.asarray(traces_loglike(d, batch, sigma))
    assert got.shape == (2,)
    assert got[1] == pytest.approx(numpy_loglike(d, m + 0.01, sigma), rel=1e-12)


def test_likelihood_with_standin_matches_formula(reference, standin, x64):
    sigma = 0.0222
    d = reference["traces"] + np.random.default_rng(1).normal(0, sigma, (10, 3, 200))
    like = SeismicTracesLikelihood(standin, d, sigma)
    h = np.array([1.6, -2.4, 12.3])
    model = np.asarray(standin.predict(dict(zip(standin.parameters, h, strict=True))))
    expect = numpy_loglike(d, model, sigma)
    assert float(like(h)) == pytest.approx(expect, rel=1e-12)
    assert float(like.from_values({"x": h[0], "y": h[1], "depth": h[2]})) == pytest.approx(
        expect, rel=1e-12)
    assert like.n_data == 6000 and like.inputs == ("x", "y", "depth") and like.products == {}
    # batched, gradient, out of the box
    assert np.asarray(like(np.stack([h, h]))).shape == (2,)
    g = jax.grad(like)(jnp.asarray(h))
    assert g.shape == (3,) and np.all(np.isfinite(np.asarray(g)))
    assert np.isnan(float(like(np.array([11.0, 0.0, 12.0]))))


def test_likelihood_rejects_mismatched_emulator(reference, standin):
    with pytest.raises(ValueError, match="output shape|predicts shape"):
        SeismicTracesLikelihood(standin, reference["traces"][:5], 0.0222)
    with pytest.raises(ValueError, match="sigma"):
        SeismicTracesLikelihood(standin, reference["traces"], 0.0)

    class Other(StandIn):
        parameters = ("a", "b", "c")

    with pytest.raises(ValueError, match="hypocentre emulator"):
        SeismicTracesLikelihood(Other(reference["traces"], reference["hypocentre_km"]),
                                reference["traces"], 0.0222)


def _write(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_read_observed_example_file():
    data = read_observed_traces(EXAMPLE)
    assert data["traces"].shape == (10, 3, 200) and data["sigma"] == pytest.approx(0.0222)
    assert data["traces"].dtype == np.float64


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"traces": np.zeros((10, 3, 199))}, r"'traces' has shape \(10, 3, 199\)"),
        ({"sigma": np.float64(0.0)}, "'sigma' must be > 0"),
        ({"sigma": np.float64(-1.0)}, "'sigma' must be > 0"),
        ({"sigma": np.array([0.02, 0.02])}, "'sigma' has shape"),
        ({"traces": np.full((10, 3, 200), np.nan)}, "non-finite"),
        ({"receivers": np.zeros((10, 2))}, "'receivers' differ"),
        ({"receivers": np.zeros((9, 2))}, "'receivers' has shape"),
        ({"times": np.arange(200) * 0.1}, "'times' differ"),
        ({"traces": np.array(["a"] * 6000).reshape(10, 3, 200)}, "real numbers"),
    ],
)
def test_read_observed_rejects_bad_files(tmp_path, change, match):
    sc = load_scenario()
    arrays = {"traces": np.zeros(sc.trace_shape), "sigma": np.float64(0.0222),
              "receivers": sc.receivers, "times": sc.times}
    arrays.update(change)
    with pytest.raises(ValueError, match=match):
        read_observed_traces(_write(tmp_path / "obs.npz", **arrays))


def test_read_observed_missing_key_pickle_and_file(tmp_path):
    with pytest.raises(ValueError, match="lacks 'sigma'"):
        read_observed_traces(_write(tmp_path / "a.npz", traces=np.zeros((10, 3, 200))))
    with pytest.raises(ValueError, match="no pickles"):
        read_observed_traces(_write(tmp_path / "b.npz", traces=np.zeros((10, 3, 200)),
                                    sigma=np.array({"s": 1}, dtype=object)))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_observed_traces(tmp_path / "none.npz")
    (tmp_path / "c.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable"):
        read_observed_traces(tmp_path / "c.npz")


def _config(tmp_path: Path, likelihood: dict) -> Path:
    cfg = {"likelihood": {"quake": {"type": "seismic_traces", **likelihood}},
           "params": {"x": {"prior": {"min": -10, "max": 10}},
                      "y": {"prior": {"min": -10, "max": 10}},
                      "depth": {"prior": {"min": 9, "max": 17}}}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_config_errors_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"likelihood\.quake\.observed.*does not exist"):
        load_run_config(_config(tmp_path, {"observed": "missing.npz",
                                           "emulator": str(tmp_path / "none")}))
    _write(tmp_path / "obs.npz", traces=np.zeros((10, 3, 200)), sigma=np.float64(-1))
    with pytest.raises(ConfigError, match=r"likelihood\.quake\.observed.*sigma"):
        load_run_config(_config(tmp_path, {"observed": "obs.npz"}))
    _write(tmp_path / "obs.npz", traces=np.zeros((10, 3, 200)), sigma=np.float64(0.02))
    with pytest.raises(ConfigError, match=r"likelihood\.quake\.emulator.*cannot load"):
        load_run_config(_config(tmp_path, {"observed": "obs.npz",
                                           "emulator": str(tmp_path / "none")}))
    with pytest.raises(ConfigError, match=r"likelihood\.quake.*nosuch"):
        load_run_config(_config(tmp_path, {"observed": "obs.npz", "nosuch": 1}))


def test_locate_and_laplace_on_a_linear_standin(standin, x64):
    sigma = 0.0222
    truth = np.array([1.7, -2.2, 12.4])
    d = np.asarray(standin.predict(dict(zip(standin.parameters, truth, strict=True))))
    like = SeismicTracesLikelihood(standin, d, sigma)
    start, ll = like.locate(grid_km=2.0)
    np.testing.assert_allclose(start, truth, atol=0.1)
    mode, cov, ll_mode = like.laplace(start + 0.05)
    np.testing.assert_allclose(mode, truth, atol=1e-8)
    jac = np.stack([standin.grad[i].ravel() for i in range(3)], axis=1) / sigma
    np.testing.assert_allclose(cov, np.linalg.inv(jac.T @ jac), rtol=1e-8)
    assert ll_mode == pytest.approx(-0.5 * d.size * np.log(2 * np.pi * sigma**2), rel=1e-12)
    point = like.starting_point({"x": (0.0, 5.0)})
    assert set(point) == {"x", "y", "depth"} and point["x"] == pytest.approx(1.7, abs=0.1)


def test_sampler_starts_at_the_likelihoods_starting_point(standin, x64):
    from cosmoemu.inference import Posterior, Uniform
    from cosmoemu.inference._sample import _reference

    truth = np.array([4.2, 3.1, 15.2])
    d = np.asarray(standin.predict(dict(zip(standin.parameters, truth, strict=True))))
    like = SeismicTracesLikelihood(standin, d, 0.0222)
    priors = {p: Uniform(*standin.box[p]) for p in ("x", "y", "depth")}
    posterior = Posterior(priors, {"quake": like})
    np.testing.assert_allclose(_reference(posterior, None), truth, atol=0.1)
    given = _reference(posterior, {"x": 1.0})  # a user's reference wins
    assert given[0] == 1.0 and given[2] == pytest.approx(15.2, abs=0.1)
