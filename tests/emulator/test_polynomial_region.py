"""Polynomial input features with the exact least-squares solver, and ellipsoid validity regions.

Truth: a family of spectra that is an exact cubic polynomial in the parameters, so the
least-squares fit must reproduce it to rounding; regions are checked against the Mahalanobis
distance computed by hand.
"""

from __future__ import annotations

import copy
import json
from math import comb

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu import OutOfBoxError
from cosmoemu.emulator import (
    ModelFileError,
    polynomial_features,
    read_emulator,
    save_emulator,
    train_emulator,
)
from cosmoemu.emulator._io import _manifest_hash
from cosmoemu.emulator._trainconfig import parse_train_config

K = np.linspace(0.0, 1.0, 40)
NAMES = ("a", "b", "c")
CENTER = np.array([1.0, 3.0, 0.0])
COV = np.array([[0.09, 0.02, 0.0], [0.02, 0.25, 0.01], [0.0, 0.01, 0.04]])
REGION = {"center": dict(zip(NAMES, CENTER, strict=True)), "covariance": COV.tolist(),
          "radius": 4.0}
BOX = {"a": (-1.0, 3.0), "b": (0.0, 6.0), "c": (-1.5, 1.5)}


def cubic_family(x: np.ndarray) -> np.ndarray:
    a, b, c = (x[..., i, None] for i in range(3))
    return 10 + a * K + b**2 * K**2 + 0.3 * a * b * c + c**3 * (1 - K) - 0.1 * a**2 * b


def draws(n: int, radius: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((n, 3))
    u *= radius * rng.random((n, 1)) ** (1 / 3) / np.linalg.norm(u, axis=1, keepdims=True)
    return CENTER + u @ np.linalg.cholesky(COV).T


@pytest.fixture(scope="module")
def poly():
    x = draws(200, 4.0, 0)
    res = train_emulator(x, cubic_family(x), parameters=NAMES, modes=K, box=BOX, hidden=(),
                         input_degree=3, solver="lstsq", dtype="float64", region=REGION,
                         progress=False)
    return res


def test_polynomial_features_are_the_monomials():
    x = jnp.array([2.0, 3.0, 5.0])
    f = np.asarray(polynomial_features(x, 3))
    assert f.shape == (comb(3 + 3, 3) - 1,)  # all monomials of degree 1..3 in 3 variables
    assert f[:3].tolist() == [2.0, 3.0, 5.0]
    assert f[3:9].tolist() == [4.0, 6.0, 10.0, 9.0, 15.0, 25.0]  # aa ab ac bb bc cc
    assert sorted(f[9:].tolist()) == sorted(
        [2 * 2 * 2, 2 * 2 * 3, 2 * 2 * 5, 2 * 3 * 3, 2 * 3 * 5, 2 * 5 * 5, 3 * 3 * 3,
         3 * 3 * 5, 3 * 5 * 5, 5 * 5 * 5])
    batch = np.asarray(polynomial_features(jnp.ones((4, 2, 3)), 2))
    assert batch.shape == (4, 2, 9) and np.all(batch == 1)


def test_lstsq_polynomial_reproduces_a_cubic_family(poly):
    emu = poly.emulator
    x = draws(100, 3.9, 1)
    with jax.enable_x64(True):
        pred = np.asarray(emu.predict(jnp.asarray(x)))
        grad = np.asarray(jax.jacfwd(emu.predict)(jnp.asarray(x[0])))
    truth = cubic_family(x)
    assert np.max(np.abs(pred / truth - 1)) < 1e-9
    h = 1e-6
    fd = np.stack([(cubic_family(x[0] + h * e) - cubic_family(x[0] - h * e)) / (2 * h)
                   for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)
    pred32 = np.asarray(emu.predict(jnp.asarray(x, jnp.float32)))
    assert np.max(np.abs(pred32 / truth - 1)) < 1e-5
    assert poly.summary["best_val_loss"] < 1e-12
    assert "linear, input_degree=3, region=ellipsoid" in repr(emu)


def test_region_limits_the_emulator_inside_its_box(poly):
    emu = poly.emulator
    inside, outside = CENTER + 0.1, CENTER + np.array([0.0, 0.0, 0.85])  # c: 4.25 sigma
    assert all(lo <= v <= hi for v, (lo, hi) in zip(outside, BOX.values(), strict=True))
    d = outside - CENTER
    assert np.sqrt(d @ np.linalg.solve(COV, d)) > 4.0
    assert np.asarray(emu.in_box(jnp.asarray([inside, outside]))).tolist() == [True, False]
    with pytest.raises(OutOfBoxError, match=r"sigma from the centre .* validity ellipsoid"):
        emu.predict(outside)
    assert np.all(np.isnan(np.asarray(emu.predict(outside, policy="nan"))))
    clipped = np.asarray(emu.predict(outside, policy="clip"))
    on_surface = CENTER + d * 4.0 / np.sqrt(d @ np.linalg.solve(COV, d))
    np.testing.assert_allclose(clipped, cubic_family(on_surface), rtol=1e-5)
    with pytest.warns(UserWarning, match="validity ellipsoid"):
        emu.predict(outside, policy="warn")
    ll = jax.jit(lambda t: jnp.where(emu.in_box(t), 0.0, -jnp.inf))
    assert float(ll(jnp.asarray(outside))) == -np.inf


def test_region_and_degree_survive_save_and_load(poly, tmp_path):
    emu = poly.emulator
    save_emulator(emu, tmp_path / "poly")
    back = read_emulator(tmp_path / "poly")
    assert back.region == emu.region and back.network.input_degree == 3
    x = draws(20, 3.0, 2)
    assert np.array_equal(np.asarray(back.predict(x)), np.asarray(emu.predict(x)))
    manifest = json.loads((tmp_path / "poly.json").read_text())
    manifest["region"]["covariance"][0][0] = -1.0
    (tmp_path / "poly.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="changed after it was written"):
        read_emulator(tmp_path / "poly")
    manifest["manifest_sha256"] = _manifest_hash(manifest)  # as if written so: still checked
    (tmp_path / "poly.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="positive definite"):
        read_emulator(tmp_path / "poly")


def test_lstsq_refuses_what_it_cannot_fit():
    x = draws(30, 4.0, 3)
    y = cubic_family(x)
    with pytest.raises(ValueError, match="without hidden layers"):
        train_emulator(x, y, parameters=NAMES, hidden=(8,), solver="lstsq", progress=False)
    with pytest.raises(ValueError, match="rank-deficient"):  # 19 cubic terms + 1 > 27 rows
        train_emulator(x[:12], y[:12], parameters=NAMES, hidden=(), input_degree=3,
                       solver="lstsq", val_fraction=0.1, box=BOX, progress=False)
    with pytest.raises(ValueError, match="positive definite"):
        bad = copy.deepcopy(REGION)
        bad["covariance"] = [[1, 0, 0], [0, -1, 0], [0, 0, 1]]
        train_emulator(x, y, parameters=NAMES, hidden=(), input_degree=2, solver="lstsq",
                       region=bad, box=BOX, progress=False)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda c: c["emulator"].update(hidden=[]), "emulator.hidden"),
        (lambda c: c["training"].update(solver="lstsq"), "emulator.hidden"),
        (lambda c: c["emulator"].update(input_degree=0), "emulator.input_degree"),
        (lambda c: c["emulator"].update(region="box"), "emulator.region"),
        (lambda c: c["training"].update(solver="newton"), "training.solver"),
    ],
)
def test_config_fields_of_the_polynomial_are_checked(edit, field):
    cfg = {
        "data": {"store": "store", "quantity": "tt"},
        "emulator": {"kind": "dense", "hidden": [8]},
        "training": {"seed": 0},
        "output": {"path": "out/model"},
    }
    edit(cfg)
    with pytest.raises(ValueError, match=rf"config field '{field}'"):
        parse_train_config(cfg)
