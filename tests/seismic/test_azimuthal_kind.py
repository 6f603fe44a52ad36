"""The ``azimuthal`` emulator kind on a field whose answer is known in closed form.

A synthetic "layered medium": radial / transverse / vertical traces that are exact sums of
azimuthal orders m <= 2 with kernels given analytically as functions of (distance, depth, t)
(a pulse arriving at sqrt(r^2 + d^2) / v). Training must recover it; the forward model must
rotate to East / North exactly as the physics does; files must round-trip.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu.emulator import ModelFileError, load_emulator, make_emulator, save_emulator
from cosmoemu.emulator._azimuthal import mechanism_phases, train_azimuthal
from cosmoemu.emulator._network import init_mlp
from cosmoemu.emulator._transforms import PCA, Affine

RECEIVERS = np.array([[-12.0, 3.0], [8.0, -9.0], [2.0, 14.0], [0.5, 0.5]])
BOX = {"x": (-5.0, 5.0), "y": (-5.0, 5.0), "depth": (9.0, 13.0)}
T = np.linspace(0.0, 8.0, 24)


def _kernels(r: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``(..., 3, 5, n_t)`` analytic kernels: a Gaussian pulse at the travel time, a
    different smooth amplitude per (component, order)."""
    big_r = np.sqrt(r ** 2 + d ** 2)
    arrival = big_r / 5.0
    pulse = np.exp(-0.5 * ((T - arrival[..., None]) / 0.8) ** 2)
    amp = np.array([[1.0, 0.5, -0.3, 0.2, 0.4], [0.0, -0.4, 0.6, 0.3, -0.2],
                    [0.8, 0.3, 0.1, -0.5, 0.25]])
    shape = (1.0 + 0.02 * r)[..., None, None, None]
    return amp[..., None] * pulse[..., None, None, :] * shape * 10.0 / big_r[..., None, None, None]


def _traces(theta: np.ndarray) -> np.ndarray:
    dx = RECEIVERS[None, :, 0] - theta[:, None, 0]
    dy = RECEIVERS[None, :, 1] - theta[:, None, 1]
    r, phi = np.hypot(dx, dy), np.arctan2(dy, dx)
    basis = np.stack([np.ones_like(phi), np.cos(phi), np.sin(phi), np.cos(2 * phi),
                      np.sin(2 * phi)], -1)
    rtz = np.einsum("ejcmt,ejm->ejct", _kernels(r, np.broadcast_to(theta[:, None, 2], r.shape)),
                    basis)
    c, s = np.cos(phi)[..., None], np.sin(phi)[..., None]
    return np.stack([c * rtz[:, :, 0] - s * rtz[:, :, 1], s * rtz[:, :, 0] + c * rtz[:, :, 1],
                     rtz[:, :, 2]], axis=2)


PHASES = (0.7, -1.1)  # psi_1, chi_2 of the fixed-mechanism field


def _fixed_traces(theta: np.ndarray, phases: tuple[float, float] = PHASES) -> np.ndarray:
    """A fixed-mechanism field: radial / vertical G0 + G1 cos(phi - psi_1) +
    G2 cos(2 phi - chi_2), transverse G1 sin(phi - psi_1) + G2 sin(2 phi - chi_2), with the
    analytic kernels of :func:`_kernels` (their cos-term amplitudes)."""
    dx = RECEIVERS[None, :, 0] - theta[:, None, 0]
    dy = RECEIVERS[None, :, 1] - theta[:, None, 1]
    r, phi = np.hypot(dx, dy), np.arctan2(dy, dx)
    k = _kernels(r, np.broadcast_to(theta[:, None, 2], r.shape))  # (e, j, 3, 5, t)
    psi, chi = phases
    c1, s1 = np.cos(phi - psi)[..., None], np.sin(phi - psi)[..., None]
    c2, s2 = np.cos(2 * phi - chi)[..., None], np.sin(2 * phi - chi)[..., None]
    rad = k[:, :, 0, 0] + k[:, :, 0, 1] * c1 + k[:, :, 0, 3] * c2
    tra = k[:, :, 1, 1] * s1 + k[:, :, 1, 3] * s2
    ver = k[:, :, 2, 0] + k[:, :, 2, 1] * c1 + k[:, :, 2, 3] * c2
    c, s = np.cos(phi)[..., None], np.sin(phi)[..., None]
    return np.stack([c * rad - s * tra, s * rad + c * tra, ver], axis=2)


def _draw(n: int, seed: int) -> np.ndarray:
    lo, hi = np.array(list(BOX.values())).T
    return lo + (hi - lo) * np.random.default_rng(seed).uniform(size=(n, 3))


@pytest.fixture(scope="module")
def trained():
    theta = _draw(400, 1)
    return train_azimuthal(theta, _traces(theta), RECEIVERS, parameters=list(BOX), box=BOX,
                           hidden=(64, 64), epochs=60, batch_size=64, learning_rate=3e-3,
                           seed=3, axes=[("receiver", list(range(4))),
                                         ("component", ["x", "y", "z"]), ("time", T, "s")])


def test_training_recovers_an_exact_azimuthal_field(trained):
    theta = _draw(100, 2)
    truth = _traces(theta)
    pred = np.asarray(trained.predict(theta))
    assert pred.shape == (100, 4, 3, len(T))
    rel = np.sqrt(np.mean((pred - truth) ** 2)) / np.sqrt(np.mean(truth ** 2))
    assert rel < 0.05, rel
    assert trained.metadata["training"]["seed"] == 3


def test_source_under_a_receiver_has_finite_gradients(trained):
    # receiver 3 is at (0.5, 0.5): a source right below it has r = 0
    f = jax.grad(lambda th: jnp.sum(trained.predict(th) ** 2))
    g = np.asarray(f(jnp.array([0.5, 0.5, 11.0])))
    assert np.all(np.isfinite(g))


def test_file_round_trip_is_bit_identical(trained, tmp_path):
    save_emulator(trained, tmp_path / "az")
    back = load_emulator(tmp_path / "az")
    assert back.kind == "azimuthal" and back.structure == trained.structure
    theta = _draw(5, 4)
    np.testing.assert_array_equal(np.asarray(back.predict(theta)),
                                  np.asarray(trained.predict(theta)))


def test_edited_structure_is_refused(trained, tmp_path):
    import json

    save_emulator(trained, tmp_path / "az")
    path = tmp_path / "az.json"
    manifest = json.loads(path.read_text())
    manifest["structure"]["receivers"][0][0] = 99.0
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="changed after it was written"):
        load_emulator(tmp_path / "az")


def test_kind_and_structure_must_agree():
    net = init_mlp(jax.random.PRNGKey(0), [2, 4, 3 * 5 * 24], "silu")
    with pytest.raises(ValueError, match="needs a structure"):
        make_emulator(net, Affine(np.zeros(3), np.ones(3)), (), list(BOX), BOX, None,
                      "azimuthal", axes=[("receiver", [0]), ("component", ["x", "y", "z"]),
                                         ("time", T)])


def test_bad_training_shapes_are_refused():
    theta = _draw(10, 5)
    with pytest.raises(ValueError, match=r"traces must be \(n_events, n_receivers, 3, n_t\)"):
        train_azimuthal(theta, _traces(theta)[:, :3], RECEIVERS, parameters=list(BOX), box=BOX)


@pytest.mark.parametrize(("change", "match"), [
    ({"emulator": {"kind": "azimuthal", "scenario": "", "receivers": [[0.0, 0.0]]}},
     "exactly one of them"),
    ({"emulator": {"kind": "azimuthal", "receivers": [[0.0, 0.0, 1.0]]}}, "east, north"),
    ({"emulator": {"kind": "azimuthal", "scenario": "", "hidden": [0]}}, "positive widths"),
    ({"training": {"epoch": 3}}, "epoch"),
])
def test_bad_azimuthal_configs_name_the_field(change, match):
    from cosmoemu._errors import ConfigError
    from cosmoemu.emulator._azimuthal import parse_azimuthal_config

    raw = {"data": {"store": "s"}, "emulator": {"kind": "azimuthal", "scenario": ""},
           "training": {}, "output": {"path": "m"}, **change}
    with pytest.raises(ConfigError, match=match):
        parse_azimuthal_config(raw)


def _fit_fixed(phases: tuple[float, float]):
    theta = _draw(400, 1)
    return train_azimuthal(theta, _fixed_traces(theta), RECEIVERS, parameters=list(BOX),
                           box=BOX, hidden=(64, 64), epochs=60, batch_size=64,
                           learning_rate=3e-3, seed=3, phases=phases, n_basis=16)


@pytest.fixture(scope="module")
def fixed():
    return _fit_fixed(PHASES)


def test_fixed_mechanism_with_a_time_basis_recovers_the_field(fixed):
    """8 kernels with the field's phases, 16 of 24 time-basis vectors: recovered to < 5 %;
    the same network with phases 0.6 rad off cannot fit it (the phases matter)."""
    assert fixed.structure["phases"] == list(PHASES) and fixed.structure["n_basis"] == 16
    assert fixed.network.sizes[-1] == 8 * 16
    assert np.shape(fixed.output_transforms[0].components) == (16, len(T))
    theta = _draw(50, 2)
    truth = _fixed_traces(theta)
    rel = np.sqrt(np.mean((np.asarray(fixed.predict(theta)) - truth) ** 2)) / np.std(truth)
    assert rel < 0.05, rel
    wrong = _fit_fixed((PHASES[0] + 0.6, PHASES[1] - 0.6))
    rel_wrong = np.sqrt(np.mean((np.asarray(wrong.predict(theta)) - truth) ** 2)) / np.std(truth)
    assert rel_wrong > 4 * rel, (rel, rel_wrong)


def test_time_basis_model_round_trips_and_needs_its_basis(fixed, tmp_path):
    save_emulator(fixed, tmp_path / "fx")
    back = load_emulator(tmp_path / "fx")
    theta = _draw(5, 6)
    np.testing.assert_array_equal(np.asarray(back.predict(theta)),
                                  np.asarray(fixed.predict(theta)))
    axes = [("receiver", list(range(4))), ("component", ["x", "y", "z"]), ("time", T)]
    with pytest.raises(ValueError, match="one PCA output transform"):
        make_emulator(fixed.network, fixed.input_transform, (), list(BOX), BOX, None,
                      "azimuthal", axes=axes, structure=fixed.structure)
    bad = PCA(np.asarray(fixed.output_transforms[0].components)[:-1])
    with pytest.raises(ValueError, match="one PCA output transform"):
        make_emulator(fixed.network, fixed.input_transform, (bad,), list(BOX), BOX, None,
                      "azimuthal", axes=axes, structure=fixed.structure)


def test_mechanism_phases_of_textbook_double_couples():
    """Radiation patterns in the emulator's frame (phi from East, anticlockwise)."""
    # vertical strike-slip on a North-striking fault: four lobes sin(2 phi), nodes on the axes
    assert mechanism_phases(0.0, 90.0, 0.0)[1] == pytest.approx(np.pi / 2)
    # the same fault striking East: pattern -sin(2 phi), i.e. cos(2 phi - chi) with chi = -pi/2
    assert np.cos(mechanism_phases(90.0, 90.0, 0.0)[1] + np.pi / 2) == pytest.approx(1.0)
    # a 30-degree thrust striking North (dipping East): the order-1 pattern (M_xz, M_yz)
    # points along the dip direction, East: cos(phi - 0) up to sign
    psi = mechanism_phases(0.0, 30.0, 90.0)[0]
    assert abs(np.sin(psi)) == pytest.approx(0.0, abs=1e-12)
    # the scenario's (30, 60, 90): what the 15-kernel model learnt from pyprop8's traces
    # (rank-1 cos/sin pairs at 150.0 and 120.0 degrees, docs/seismic.md)
    psi, chi = np.degrees(mechanism_phases(30.0, 60.0, 90.0))
    assert (psi % 180, chi % 180) == pytest.approx((150.0, 120.0), abs=1e-9)


@pytest.mark.parametrize(("mechanism", "match"), [
    ({"strike": 10.0, "dip": 40.0}, "strike, dip and rake"),
    ("north", "'scenario' or"),
])
def test_bad_mechanism_is_refused(mechanism, match):
    from cosmoemu._errors import ConfigError
    from cosmoemu.emulator._azimuthal import parse_azimuthal_config

    raw = {"data": {"store": "s"}, "output": {"path": "m"},
           "emulator": {"kind": "azimuthal", "scenario": "", "mechanism": mechanism}}
    with pytest.raises(ConfigError, match=match):
        parse_azimuthal_config(raw)
