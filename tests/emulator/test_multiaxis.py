"""Emulators with two output axes, (z, k): train, predict, autodiff, save, load, validate.

Truth: an analytic P(k, z) = A D(z)^2 k^n / (1 + (k / k0)^2) with D(z) = (1 + z)^-gamma, on a
4 x 24 grid, so held-out accuracy and the validation bands are checked against closed forms.
"""

from __future__ import annotations

import copy
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from cosmoemu.emulator import (
    Axis,
    ModelFileError,
    Stage,
    read_emulator,
    save_emulator,
    train_emulator,
)
from cosmoemu.emulator._io import _manifest_hash
from cosmoemu.emulator._trainconfig import train_from_config
from cosmoemu.emulator._validate import validate_emulators

NAMES = ("A", "n", "k0", "gamma")
BOX = {"A": (0.5, 2.0), "n": (0.8, 1.2), "k0": (0.01, 0.05), "gamma": (0.6, 1.0)}
Z = np.array([0.0, 0.5, 1.0, 2.0])
K = np.logspace(-3, 0, 24)
STAGES = (Stage(3e-3, 32, 100, 15), Stage(5e-4, 128, 60, 15))


def dlnp(theta: np.ndarray) -> np.ndarray:
    """d ln P / d theta, (4, 4, 24), in closed form."""
    a, n, k0, g = theta
    q = (K / k0) ** 2
    one = np.ones((4, 24))
    return np.stack([one / a, one * np.log(K), one * 2 * q / (k0 * (1 + q)),
                     -2 * np.log1p(Z)[:, None] * one])


def power(theta: np.ndarray) -> np.ndarray:
    """P(k, z) for theta (..., 4) -> (..., 4, 24)."""
    a, n, k0, g = (np.asarray(theta)[..., i, None, None] for i in range(4))
    growth = (1 + Z[:, None]) ** -g
    return a * growth**2 * K**n / (1 + (K / k0) ** 2)


def sample(n: int, seed: int) -> np.ndarray:
    lo, hi = np.array(list(BOX.values())).T
    return lo + (hi - lo) * np.random.default_rng(seed).random((n, 4))


def write_store(path, x: np.ndarray) -> None:
    """A store in the shared layout (one chunk, no manifest) holding the truth as pk_lin."""
    path.mkdir()
    np.savez(path / "chunk_00000.npz", params=x, names=np.array(NAMES), z=Z, k=K,
             pk_lin=power(x))


@pytest.fixture(scope="module")
def result():
    x = sample(600, seed=1)
    return train_emulator(
        x, power(x), parameters=NAMES, axes=[Axis("z", Z), Axis("k", K, "1/Mpc")],
        quantity="pk_lin", units="Mpc^3", box=BOX, kind="pca", pca_tol=1e-3, log10=True,
        factor={"log": {"A": 1.0}}, hidden=(64, 64), stages=STAGES, seed=0, progress=False,
    )


@pytest.fixture(scope="module")
def saved(result, tmp_path_factory):
    stem = tmp_path_factory.mktemp("pk") / "toy_pk"
    save_emulator(result.emulator, stem)
    return stem


def test_predict_has_the_axes_shape_and_held_out_accuracy(result):
    emu = result.emulator
    assert emu.output_shape == (4, 24) and emu.n_outputs == 96
    assert [a.name for a in emu.axes] == ["z", "k"] and emu.axes[1].units == "1/Mpc"
    assert emu.quantity == "pk_lin" and emu.units == "Mpc^3"
    np.testing.assert_array_equal(emu.modes, K)
    x = sample(300, seed=99)  # never seen in training
    pred = emu.predict_numpy(x)
    assert pred.shape == (300, 4, 24)
    assert emu.predict(x[0]).shape == (4, 24)
    err = np.abs(pred / power(x) - 1)
    # P spans 5 decades over k and a factor 4 in A (divided out exactly); a 64x64 network
    # from 540 samples reaches a few per mille
    assert np.median(err) < 5e-3
    assert np.percentile(err.reshape(300, -1).max(axis=1), 95) < 3e-2


def test_jit_vmap_grad_on_two_axes(result, x64):
    emu = result.emulator
    theta = jnp.asarray([1.2, 1.0, 0.03, 0.8])
    batch = jnp.stack([theta, theta * 1.01])
    np.testing.assert_allclose(np.asarray(jax.jit(emu.predict)(batch)),
                               np.asarray(emu.predict(batch)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.vmap(emu.predict)(batch)),
                               np.asarray(emu.predict(batch)), rtol=1e-12)
    w = np.linspace(0.5, 1.5, 96).reshape(4, 24)

    def f(t):
        return jnp.sum(w * jnp.log(emu.predict(t)))

    g = np.asarray(jax.grad(f)(theta))
    h = 1e-7 * np.asarray(theta)
    fd = [(f(theta + hi * e) - f(theta - hi * e)) / (2 * hi) for hi, e in zip(h, np.eye(4),
                                                                              strict=True)]
    np.testing.assert_allclose(g, fd, rtol=1e-5)
    # and it approximates the closed form's (derivatives of an emulator are less accurate)
    truth = np.einsum("zk,pzk->p", w, dlnp(np.asarray(theta)))
    np.testing.assert_allclose(g, truth, rtol=0.05)


def test_round_trip_is_bit_exact_and_shapes_are_checked(result, saved, tmp_path):
    emu = result.emulator
    back = read_emulator(saved)
    x = sample(20, seed=5)
    np.testing.assert_array_equal(back.predict_numpy(x), emu.predict_numpy(x))
    assert back.axes == emu.axes and back.quantity == "pk_lin" and back.units == "Mpc^3"
    manifest = json.loads(saved.with_name("toy_pk.json").read_text())
    assert manifest["schema_version"] == 2
    assert manifest["quantity"] == {"name": "pk_lin", "units": "Mpc^3"}
    assert [(a["name"], a["units"], len(a["values"])) for a in manifest["axes"]] == [
        ("z", "", 4), ("k", "1/Mpc", 24)]
    bad = copy.deepcopy(manifest)
    bad["axes"][0]["values"] = bad["axes"][0]["values"][:3]  # 3 x 24 != the 96 outputs
    bad["manifest_sha256"] = _manifest_hash(bad)  # as if written so: the shapes are checked
    for suffix in (".npz", ".json"):
        (tmp_path / f"m{suffix}").write_bytes(saved.with_name("toy_pk" + suffix).read_bytes())
    (tmp_path / "m.json").write_text(json.dumps(bad))
    with pytest.raises(ModelFileError, match=r"give 96 outputs; the axes z \(3\), k \(24\)"):
        read_emulator(tmp_path / "m")


def test_training_refuses_mislabelled_axes():
    x = sample(30, seed=3)
    with pytest.raises(ValueError, match=r"do not match the outputs' shape per sample \(4, 24\)"):
        train_emulator(x, power(x), parameters=NAMES, axes={"z": Z[:3], "k": K})
    with pytest.raises(ValueError, match="label them with axes"):
        train_emulator(x, power(x), parameters=NAMES, modes=K)


def test_validate_reports_bands_per_z(saved, tmp_path):
    x = sample(40, seed=123)
    write_store(tmp_path / "test_store", x)
    md, (res,) = validate_emulators([str(saved)], tmp_path / "test_store", tmp_path / "report",
                                    timing=False)
    truth = power(x)
    err = np.abs(read_emulator(saved).predict_numpy(x) / truth - 1)  # computed independently
    assert res.quantity == "pk_lin" and res.metric == "relative"
    np.testing.assert_allclose(res.errors, err, rtol=1e-12)
    text = md.read_text()
    assert (tmp_path / "report" / "test_store_toy_pk.png").stat().st_size > 0
    for i, z in enumerate(Z):  # per z: the largest over k of the 68/95/99 % bands
        row = re.search(rf"\| z = {z:g} \| (\S+) \| (\S+) \| (\S+) \|", text)
        assert row is not None, text
        want = [np.percentile(err[:, i], p, axis=0).max() for p in (68, 95, 99)]
        np.testing.assert_allclose([float(v) for v in row.groups()], want, rtol=5e-3)  # .3g
        assert want[0] < 2e-2 and want[2] < 0.1  # the 68 % and 99 % bands over k


def test_cosmoemu_train_records_the_stores_axes_and_quantity(tmp_path, monkeypatch):
    """Smoke test of a config on a 2-D product (accuracy is tested above)."""
    monkeypatch.chdir(tmp_path)  # relative paths in a config are relative to the working dir
    write_store(tmp_path / "store", sample(60, seed=8))
    cfg = {
        "data": {"store": "store", "quantity": "pk_lin", "box": {k: list(v)
                                                                  for k, v in BOX.items()}},
        "emulator": {"kind": "pca", "n_components": 6, "log10": True, "hidden": [8],
                     "mode_weights": [{"modes": [0.1, 1.0], "weight": 2.0}]},
        "error_model": {"type": "relative", "value": 0.01},
        "training": {"seed": 1, "stages": [{"learning_rate": 1e-3, "batch_size": 16,
                                            "max_epochs": 2}]},
        "output": {"path": "out/pk"},
    }
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    train_from_config(tmp_path / "train.yaml", progress=False)
    emu = read_emulator(tmp_path / "out" / "pk")
    assert emu.quantity == "pk_lin" and emu.units == "Mpc^3"
    assert emu.axes == (Axis("z", Z), Axis("k", K, "1/Mpc"))
    assert emu.metadata["error_model"] == {"type": "relative", "value": 0.01}

