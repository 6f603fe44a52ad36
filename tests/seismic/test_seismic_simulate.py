"""The pyprop8 forward model of the seismic_hypocentre_v1 scenario against its reference event.

``fixtures/reference_event.npz`` is the shared reference (hypocentre (1.5, -2.5, 12) km and its
noise-free traces from the scenario's specification).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cosmoemu._errors import OutOfBoxError
from cosmoemu.seismic import ScenarioError, load_scenario

pytest.importorskip("pyprop8")

from cosmoemu.seismic import simulate  # noqa: E402

REFERENCE = Path(__file__).parent / "fixtures" / "reference_event.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def simulated(reference):
    return simulate(reference["hypocentre_km"])


def test_scenario_grids_match_the_reference(reference):
    sc = load_scenario()
    np.testing.assert_array_equal(sc.receivers, reference["receivers"])
    np.testing.assert_allclose(sc.times, reference["times"], rtol=0, atol=1e-12)
    assert sc.trace_shape == reference["traces"].shape == (10, 3, 200)


def test_traces_reproduce_the_reference_event_to_1e6(simulated, reference):
    ref = reference["traces"]
    assert simulated.shape == ref.shape and simulated.dtype == np.float64
    assert np.abs(simulated - ref).max() / np.abs(ref).max() < 1e-6


def test_traces_are_causal_and_keep_the_static_offset(simulated):
    assert np.all(simulated[..., 0] == 0.0)  # u(0) = 0 by construction
    late = simulated[..., -10:]
    assert np.abs(late.mean(axis=-1)).max() > 10 * np.abs(simulated[..., 1:5]).max()


@pytest.mark.parametrize(("hypo", "match"), [
    ([11.0, 0.0, 12.0], "x = 11 km is outside the box"),
    ([0.0, -10.5, 12.0], "y = -10.5 km is outside the box"),
    ([0.0, 0.0, 18.5], "depth = 18.5 km is outside the box"),
])
def test_hypocentre_outside_the_box_is_refused(hypo, match):
    with pytest.raises(OutOfBoxError, match=match):
        simulate(hypo)


@pytest.mark.parametrize("hypo", [[1.0, 2.0], [[1.0, 2.0, 12.0]], [1.0, 2.0, 12.0, 0.0]])
def test_wrong_shape_is_refused(hypo):
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        simulate(hypo)


def test_non_finite_hypocentre_is_refused():
    with pytest.raises(ValueError, match="finite"):
        simulate([np.nan, 0.0, 12.0])


def _packaged() -> dict:
    return json.loads(json.dumps(load_scenario().raw))


@pytest.mark.parametrize(("path", "field"), [
    (("source", "stf_half_width_s"), "source.stf_half_width_s"),
    (("numerics", "dk_per_km"), "numerics.dk_per_km"),
    (("receivers", "xy_km"), "receivers.xy_km"),
    (("prior_box", "depth_km"), "prior_box.depth_km"),
    (("time", "nt"), "time.nt"),
])
def test_scenario_missing_a_field_names_it(tmp_path, path, field):
    data = _packaged()
    del data[path[0]][path[1]]
    file = tmp_path / "scenario.json"
    file.write_text(json.dumps(data))
    with pytest.raises(ScenarioError, match=rf"field '{field}': is missing"):
        load_scenario(file)


def test_scenario_bad_values_are_named(tmp_path):
    data = _packaged()
    data["receivers"]["xy_km"] = data["receivers"]["xy_km"][:9]
    with pytest.raises(ScenarioError, match="receivers.xy_km.*holds 9 receivers"):
        load_scenario(data)
    data = _packaged()
    data["layers_thickness_vp_vs_rho"][-1][0] = 5.0
    with pytest.raises(ScenarioError, match="'inf' for the half-space"):
        load_scenario(data)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_scenario(tmp_path / "nope.json")


def test_source_right_below_a_receiver_gives_finite_continuous_traces():
    # receiver 5 lies inside the box: pyprop8 alone returns NaN horizontal traces there
    sc = load_scenario()
    x0, y0 = sc.receivers[5]
    below = simulate([x0, y0, 12.0])
    near = simulate([x0 + 1e-5, y0, 12.0])
    assert np.all(np.isfinite(below))
    assert np.abs(below - near).max() / np.abs(near).max() < 1e-5
