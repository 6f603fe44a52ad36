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
from cosmoemu.emulator._azimuthal import train_azimuthal
from cosmoemu.emulator._network import init_mlp
from cosmoemu.emulator._transforms import Affine

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
