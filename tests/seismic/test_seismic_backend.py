"""The pyprop8 backend through the data layer: config checks, store round trip, resume.

Also a closed-form backend that declares its own output array, so the generic path of the data
layer (declared arrays in the request, writer, store and sandbox) is tested without pyprop8.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cosmoemu._errors import ConfigError
from cosmoemu.data import ArraySpec, Axis, Backend, generate, load_config, open_store, parse_config
from cosmoemu.data._design import make_design

EXAMPLES = Path(__file__).parents[2] / "examples"


class WaveBackend(Backend):
    """Closed form: ``wave[i, t] = a * sin(t + i * b)`` on 2 x 5 points, declared as an array."""

    name = "wave"
    parameters = ("a", "b")

    @classmethod
    def output_arrays(cls, settings: Mapping[str, Any]) -> tuple[ArraySpec, ...]:
        return (ArraySpec("wave", (Axis("channel", ("p", "q")),
                                   Axis("t", (0.0, 0.5, 1.0, 1.5, 2.0), "s")), "m"),
                ArraySpec("peak", (Axis("stat", ("max",)),), "m"))

    def compute(self, params: Mapping[str, float]) -> dict[str, np.ndarray]:
        t = np.arange(5) * 0.5
        wave = params["a"] * np.sin(t[None, :] + np.arange(2)[:, None] * params["b"])
        out = {"wave": wave, "peak": np.array([wave.max()])}
        return {spec.name: out[spec.name] for spec in self.request.arrays}


def _wave_config(tmp_path, **fields) -> dict:
    cfg = {"output": str(tmp_path / "wave"), "backend": f"{__name__}:WaveBackend",
           "parameters": {"a": [1.0, 2.0], "b": [0.0, 1.0]},
           "design": {"kind": "lhs", "n": 7, "seed": 1}, "chunk_size": 3, "dtype": "float64"}
    cfg.update(fields)
    return cfg


def test_declared_array_backend_round_trips_through_the_store(tmp_path):
    cfg = _wave_config(tmp_path)
    summary = generate(cfg, workers=1, progress=False)
    assert (summary.n_done, summary.n_failed, summary.n_missing) == (7, 0, 0)
    store = open_store(cfg["output"])
    assert store.quantities == ("wave", "peak")
    assert store.shape("wave") == (2, 5) and store.units("wave") == "m"
    names = [a[0] for a in store.axes("wave")]
    assert names == ["channel", "t"]
    np.testing.assert_array_equal(store.modes("wave"), [0.0, 0.5, 1.0, 1.5, 2.0])
    p = store.params()
    t = np.arange(5) * 0.5
    truth = p[:, 0, None, None] * np.sin(t[None, None, :] + np.arange(2)[None, :, None]
                                         * p[:, 1, None, None])
    np.testing.assert_array_equal(store.load("wave"), truth)
    assert store.manifest["request"] == {"arrays": [s.to_json() for s in
                                                    WaveBackend.output_arrays({})]}


def test_declared_array_backend_selects_quantities_and_refuses_cosmology_fields(tmp_path):
    checked = parse_config(_wave_config(tmp_path, quantities=["peak"]))
    assert checked.request.quantities == ("peak",) and checked.request.shapes() == {"peak": (1,)}
    with pytest.raises(ConfigError, match="quantities.*'tt'"):
        parse_config(_wave_config(tmp_path, quantities=["tt"]))
    with pytest.raises(ConfigError, match="'nonlinear'.*cosmological backends only"):
        parse_config(_wave_config(tmp_path, nonlinear="halofit"))


# ---- pyprop8 ----

@pytest.fixture(scope="module")
def two_events(tmp_path_factory):
    pytest.importorskip("pyprop8")
    cfg = load_config(EXAMPLES / "generate_seismic.yaml").raw
    cfg = {**cfg, "output": str(tmp_path_factory.mktemp("seismic") / "store"),
           "design": {"kind": "lhs", "n": 2, "seed": 5}, "dtype": "float64"}
    summary = generate(cfg, workers=1, progress=False)
    return cfg, summary


def test_pyprop8_store_holds_simulate_of_each_row(two_events):
    from cosmoemu.seismic import load_scenario, simulate

    cfg, summary = two_events
    assert (summary.n_done, summary.n_failed) == (2, 0)
    store = open_store(cfg["output"])
    sc = load_scenario()
    assert store.param_names == ("x", "y", "depth") and store.quantities == ("traces",)
    assert store.shape("traces") == (10, 3, 200) and store.units("traces") == "mm"
    axes = store.axes("traces")
    assert [a[0] for a in axes] == ["receiver", "component", "t"]
    np.testing.assert_array_equal(axes[0][1], sc.receivers)
    np.testing.assert_array_equal(axes[2][1], sc.times)
    checked = parse_config(cfg)
    params, _ = make_design(checked.box, checked.designs)
    np.testing.assert_array_equal(store.params(), params)
    traces = store.load("traces")
    for row in range(2):
        np.testing.assert_allclose(traces[row], simulate(params[row]), rtol=0,
                                   atol=1e-12 * np.abs(traces[row]).max())


def test_example_configs_are_valid_and_disjoint():
    pytest.importorskip("pyprop8")
    train = load_config(EXAMPLES / "generate_seismic.yaml")
    test = load_config(EXAMPLES / "generate_seismic_test.yaml")
    assert train.backend == test.backend == "pyprop8"
    assert train.request == test.request
    assert train.box == test.box and train.n_samples >= 1000 and test.n_samples == 200
    assert train.designs[0].seed != test.designs[0].seed


def test_pyprop8_config_outside_the_scenario_box_is_refused(tmp_path):
    pytest.importorskip("pyprop8")
    cfg = {**load_config(EXAMPLES / "generate_seismic.yaml").raw,
           "output": str(tmp_path / "s")}
    with pytest.raises(ConfigError, match=r"parameters.depth.*\[9, 20\].*\[9, 17\]"):
        parse_config({**cfg, "parameters": {**cfg["parameters"], "depth": [9.0, 20.0]}})
    with pytest.raises(ConfigError, match="needs depth"):
        parse_config({**cfg, "parameters": {"x": [-1.0, 1.0], "y": [-1.0, 1.0]}})
    with pytest.raises(ConfigError, match="backend.settings.scenario.*does not exist"):
        parse_config({**cfg, "backend": {"name": "pyprop8",
                                         "settings": {"scenario": str(tmp_path / "x.json")}}})
