"""Model files: bit-exact round trip, and clear errors for corrupt or unknown files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from emu_analytic import sample_box

import cosmoemu
from cosmoemu.emulator import ModelFileError, read_emulator, save_emulator


@pytest.fixture(scope="module")
def saved(tmp_path_factory, pca_result):
    stem = tmp_path_factory.mktemp("model") / "damped_pca"
    save_emulator(pca_result.emulator, stem, accuracy={"held_out_median": 1e-3})
    return stem


def _copy(saved, tmp_path):
    for suffix in (".npz", ".json"):
        shutil.copy(saved.with_name(saved.name + suffix), tmp_path / f"m{suffix}")
    return tmp_path / "m"


def test_round_trip_is_bit_exact(saved, pca_result):
    emu = pca_result.emulator
    loaded = read_emulator(saved.with_name(saved.name + ".npz"))
    x = sample_box(50, seed=5)
    np.testing.assert_array_equal(loaded.predict_numpy(x), emu.predict_numpy(x))
    for a, b in zip(loaded.network.weights, emu.network.weights, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert loaded.parameters == emu.parameters
    assert loaded.box == emu.box
    np.testing.assert_array_equal(loaded.modes, emu.modes)
    assert loaded.metadata["accuracy"] == {"held_out_median": 1e-3}
    assert loaded.metadata["training"]["seed"] == 3


def test_load_emulator_by_path_and_unknown_name(saved):
    emu = cosmoemu.load_emulator(saved)
    assert emu.kind == "pca"
    with pytest.raises(ValueError, match="neither a shipped emulator"):
        cosmoemu.load_emulator("no_such_emulator_xyz")


def test_manifest_is_plain_json_and_npz_has_no_objects(saved):
    manifest = json.loads(saved.with_name(saved.name + ".json").read_text())
    assert manifest["format"] == "cosmoemu-emulator"
    assert manifest["parameters"] == ["A", "gamma", "omega", "phi"]
    with np.load(saved.with_name(saved.name + ".npz"), allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_truncated_npz_is_reported_corrupt(saved, tmp_path):
    stem = _copy(saved, tmp_path)
    npz = stem.with_suffix(".npz")
    npz.write_bytes(npz.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="corrupt"):
        read_emulator(stem)


def test_unknown_schema_version(saved, tmp_path):
    stem = _copy(saved, tmp_path)
    js = stem.with_suffix(".json")
    manifest = json.loads(js.read_text())
    manifest["schema_version"] = 99
    js.write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="schema version 99"):
        read_emulator(stem)


def test_missing_array_and_bad_json(saved, tmp_path):
    stem = _copy(saved, tmp_path)
    js = stem.with_suffix(".json")
    manifest = json.loads(js.read_text())
    # an npz lacking an array the manifest lists (re-written with a matching checksum)
    with np.load(stem.with_suffix(".npz"), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "network/0/weight"}
    np.savez(stem.with_suffix(".npz"), **arrays)
    manifest["npz_sha256"] = hashlib.sha256(stem.with_suffix(".npz").read_bytes()).hexdigest()
    js.write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="lacks the array 'network/0/weight'"):
        read_emulator(stem)
    js.write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        read_emulator(stem)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        read_emulator(tmp_path / "nothing")


def _as_schema_1(manifest: dict) -> dict:
    """The same model as a schema-1 manifest: one axis as modes/mode_label, the quantity in
    the metadata (what cosmoemu wrote before output axes had names and units)."""
    (axis,) = manifest["axes"]
    old = {k: v for k, v in manifest.items() if k not in ("axes", "quantity")}
    old.update(schema_version=1, modes=axis["values"], mode_label=axis["name"])
    if manifest["quantity"] is not None:
        old["metadata"] = {**old["metadata"], "quantity": manifest["quantity"]["name"]}
    return old


@pytest.mark.parametrize("name", ["lcdm_cmb_tt", "lcdm_derived"])
def test_schema_1_files_still_load_like_the_shipped_schema_2(name, tmp_path):
    from importlib import resources

    from cosmoemu.emulator._registry import registry

    stem = resources.files("cosmoemu.pretrained").joinpath(registry()[name]["file"])
    new = cosmoemu.load_emulator(name)
    manifest = json.loads(Path(str(stem) + ".json").read_text())
    assert manifest["schema_version"] == 2 and manifest["quantity"]["name"] == new.quantity
    shutil.copy(str(stem) + ".npz", tmp_path / "old.npz")  # the npz and its checksum unchanged
    (tmp_path / "old.json").write_text(json.dumps(_as_schema_1(manifest)))
    old = read_emulator(tmp_path / "old")
    assert (old.quantity, old.axes, old.parameters) == (new.quantity, new.axes, new.parameters)
    assert "quantity" not in old.metadata
    x = np.array([[(lo + 2 * hi) / 3 for lo, hi in new.box.values()]])
    np.testing.assert_array_equal(old.predict_numpy(x), new.predict_numpy(x))


def test_quantity_given_at_save_is_recorded(pca_result, tmp_path):
    assert pca_result.emulator.quantity is None  # trained without one
    save_emulator(pca_result.emulator, tmp_path / "q", quantity="damped")
    assert read_emulator(tmp_path / "q").quantity == "damped"
