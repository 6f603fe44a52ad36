"""`data.divide_by` and `data.inputs` of a training config: the P(k) transfer-part emulator.

Truth: a store whose pk_lin is exactly A_s (k/0.05)^(n_s-1) T(k, z; omega_cdm, h) with
log10 T linear in (omega_cdm, h), rows in groups sharing (omega_cdm, h). Divided by the
primordial spectrum and restricted to (omega_cdm, h), a degree-1 polynomial emulator fitted by
least squares reproduces T to float32 rounding; any A_s or n_s left in the targets would not be.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from cosmoemu._errors import ConfigError
from cosmoemu.emulator._trainconfig import train_from_config

NAMES = ("omega_cdm", "h", "n_s", "ln10^{10}A_s")
BOX = {"omega_cdm": [0.1, 0.14], "h": [0.6, 0.75], "n_s": [0.9, 1.0],
       "ln10^{10}A_s": [2.8, 3.2]}
Z = np.array([0.0, 1.0, 2.0])
K = np.geomspace(1e-3, 1.0, 30)


def log10_transfer(oc: np.ndarray, h: np.ndarray) -> np.ndarray:
    """log10 T (..., 3, 30), linear in omega_cdm and h."""
    lk = np.log10(K)
    base = 4.0 - 1.5 * np.log10(1 + (K / 0.02) ** 2) - 0.4 * Z[:, None]
    return base + (oc[..., None, None] - 0.12) * (1 + lk) + (h[..., None, None] - 0.67) * lk


def power(theta: np.ndarray) -> np.ndarray:
    oc, h, ns, lnas = (theta[:, i] for i in range(4))
    prim = np.exp(lnas)[:, None, None] * 1e-10 * (K / 0.05) ** (ns[:, None, None] - 1)
    return prim * 10 ** log10_transfer(oc, h)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(4)
    lo, hi = np.array(list(BOX.values())).T
    groups = lo[:2] + (hi[:2] - lo[:2]) * rng.random((12, 2))
    theta = np.empty((48, 4))
    theta[:, :2] = np.repeat(groups, 4, axis=0)  # 12 groups of 4 rows sharing (omega_cdm, h)
    theta[:, 2:] = lo[2:] + (hi[2:] - lo[2:]) * rng.random((48, 2))
    path = tmp_path_factory.mktemp("pk") / "store"
    path.mkdir()
    np.savez(path / "chunk_00000.npz", params=theta, names=np.array(NAMES), z=Z, k=K,
             pk_lin=power(theta), pk_nonlin=2.0 * power(theta))
    (path / "manifest.json").write_text(json.dumps({  # the design box, as generate writes it
        "format": "cosmoemu.store", "schema_version": 1,
        "parameters": {"names": list(NAMES), "low": list(lo), "high": list(hi)},
        "design": {"n_samples": 48, "sha256": "0" * 64}, "chunk_size": 48}))
    return path


CFG = {
    "data": {"store": None, "quantity": "pk_lin", "divide_by": "primordial",
             "inputs": ["omega_cdm", "h"]},
    "emulator": {"kind": "pca", "n_components": 3, "log10": True, "hidden": [],
                 "input_degree": 1},
    "training": {"solver": "lstsq", "seed": 0, "val_fraction": 0.25},
    "output": {"path": None},
}


def _cfg(store, tmp_path, **data):
    cfg = copy.deepcopy(CFG)
    cfg["data"]["store"] = str(store)
    cfg["data"].update(data)
    cfg["output"]["path"] = str(tmp_path / "model")
    return cfg


def test_transfer_part_on_the_distinct_input_points(store, tmp_path):
    emu = train_from_config(_cfg(store, tmp_path)).emulator
    assert emu.parameters == ("omega_cdm", "h")
    assert {k: list(v) for k, v in emu.box.items()} == {k: BOX[k] for k in ("omega_cdm", "h")}
    assert emu.quantity == "pk_lin/primordial"
    # the PCA basis is stored in float32 (half a float64 file), the fit still exact to 2e-5
    assert [t.components.dtype for t in emu.output_transforms if hasattr(t, "components")] \
        == [np.float32]
    assert emu.metadata["training"]["provenance"]["n_samples"] == 12  # one row per group
    # validation leaves out every row of the store that shares a trained point
    from cosmoemu.data import open_store
    from cosmoemu.emulator._validate import training_rows

    used, _ = training_rows(emu, open_store(store))
    assert used.sum() == 48
    rng = np.random.default_rng(9)
    oc, h = 0.1 + 0.04 * rng.random(5), 0.6 + 0.15 * rng.random(5)
    pred = np.asarray(emu.predict({"omega_cdm": oc, "h": h}))
    np.testing.assert_allclose(np.log10(pred), log10_transfer(oc, h), atol=2e-5)


def test_divide_by_another_quantity_gives_the_ratio(store, tmp_path):
    cfg = _cfg(store, tmp_path, quantity="pk_nonlin", divide_by="pk_lin")
    cfg["data"].pop("inputs")
    emu = train_from_config(cfg).emulator
    assert emu.quantity == "pk_nonlin/pk_lin"
    pred = np.asarray(emu.predict({"omega_cdm": 0.12, "h": 0.7, "n_s": 0.95,
                                   "ln10^{10}A_s": 3.0}))
    np.testing.assert_allclose(pred, 2.0, rtol=1e-5)


@pytest.mark.parametrize(("data", "field", "text"), [
    ({"inputs": ["omega_cdm", "hh"]}, "data.inputs", "did you mean 'h'"),
    ({"divide_by": "pk_nl"}, "data.divide_by", "did you mean 'pk_nonlin'"),
    ({"divide_by": "pk_lin"}, "data.divide_by", "primordial"),
])
def test_bad_divide_by_or_inputs_are_named(store, tmp_path, data, field, text):
    with pytest.raises(ConfigError, match=rf"'{field}'.*{text}"):
        train_from_config(_cfg(store, tmp_path, **data))
