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
from cosmoemu.emulator._io import _manifest_hash


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
    manifest["manifest_sha256"] = _manifest_hash(manifest)  # both checksums consistent
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
    old = {k: v for k, v in manifest.items()
           if k not in ("axes", "quantity", "manifest_sha256")}  # none of these in schema 1
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


# ---- the manifest is checksummed with the arrays, and checked against them -----------------

def _edit(saved, tmp_path, change) -> Path:
    stem = _copy(saved, tmp_path)
    js = stem.with_suffix(".json")
    manifest = json.loads(js.read_text())
    change(manifest)
    js.write_text(json.dumps(manifest, indent=1))
    return stem


def test_widened_box_in_the_manifest_is_refused(saved, tmp_path):
    """Widening the box by hand made predict extrapolate where the model never saw data."""
    stem = _edit(saved, tmp_path, lambda m: m["box"].update(A=[-10.0, 10.0]))
    with pytest.raises(ModelFileError, match="changed after it was written"):
        read_emulator(stem)


def test_any_edit_of_the_manifest_is_refused(saved, tmp_path):
    stem = _edit(saved, tmp_path, lambda m: m["metadata"].update(description="edited"))
    with pytest.raises(ModelFileError, match="manifest_sha256 does not match"):
        read_emulator(stem)


def test_axes_and_box_must_fit_the_arrays(saved, tmp_path):
    """Even with a valid checksum (a file written by a buggy tool), shapes are checked."""
    def rehashed(change):
        def edit(m):
            change(m)
            m["manifest_sha256"] = _manifest_hash(m)
        return edit

    def cut(m):
        m["axes"][0]["values"] = m["axes"][0]["values"][:10]

    with pytest.raises(ModelFileError, match=r"give 60 outputs; the axes mode \(10\) hold 10"):
        read_emulator(_edit(saved, tmp_path, rehashed(cut)))
    with pytest.raises(ModelFileError, match="exactly the parameters"):
        read_emulator(_edit(saved, tmp_path, rehashed(lambda m: m["box"].pop("A"))))
    with pytest.raises(ModelFileError, match="exactly the parameters"):
        read_emulator(_edit(saved, tmp_path, rehashed(lambda m: m["box"].update(B=[0, 1]))))


def test_older_manifest_without_checksum_loads_with_a_warning_then_upgrades(
        saved, tmp_path, caplog):
    from cosmoemu.emulator import add_manifest_checksum

    stem = _edit(saved, tmp_path, lambda m: m.pop("manifest_sha256"))
    with caplog.at_level("WARNING", logger="cosmoemu.emulator._io"):
        old = read_emulator(stem)
    assert "carries no manifest_sha256" in caplog.text
    x = sample_box(20, seed=9)
    np.testing.assert_array_equal(old.predict_numpy(x), read_emulator(saved).predict_numpy(x))
    add_manifest_checksum(stem)
    # the upgrade restores exactly the manifest save_emulator wrote
    assert (json.loads(stem.with_suffix(".json").read_text())
            == json.loads(saved.with_name(saved.name + ".json").read_text()))
    caplog.clear()
    with caplog.at_level("WARNING", logger="cosmoemu.emulator._io"):
        read_emulator(stem)
    assert caplog.text == ""


# sha256 of the shipped npz files when their manifests were re-hashed (only the JSON changed)
SHIPPED_NPZ_SHA256 = {
    "lcdm_cmb_ee": "2761e095800815a88c87de98b77440e8ada2145c1e8b27f676667020e1a42647",
    "lcdm_cmb_ee_planck": "13ce34b520aabf7d94a26d4e3450a172bc3fa5ad8db0e4bb3bdb2d405fa776b8",
    "lcdm_cmb_pp": "687e919e5f9ef810f5a36b43a640ba7869a7f0173ce9d388537f60beb63ad443",
    "lcdm_cmb_te": "c8f21453e8dadcf8d57eb37ca31c663299090db725bf1e7e51125758a47334af",
    "lcdm_cmb_te_planck": "d61840c1a3b9ce8a80e03ace8c11cb96b68c5641fd39abb9f6fd33d9cf1cfcd4",
    "lcdm_cmb_tt": "c0b26ea7c258d9f1ad48251967d764159f90478ec8c0f1d902839673b51cefb5",
    "lcdm_cmb_tt_planck": "4e19699cbc135fd014f32236f7431c8e6e32841421d0e8902da5ee06f6e47886",
    "lcdm_derived": "0cfbe76660bda409eae7102620dc384d0ccd0f7dae23e7e4a19410f41200d4a9",
}


@pytest.mark.parametrize("name", sorted(SHIPPED_NPZ_SHA256))
def test_shipped_models_are_checksummed_and_predict_as_before(name, tmp_path, caplog):
    """The re-hash touched only the JSON: the npz bytes are those shipped before, the manifest
    without its new field is the old one, and it predicts bit-identically to that old one."""
    from importlib import resources

    from cosmoemu.emulator._registry import registry

    stem = Path(str(resources.files("cosmoemu.pretrained").joinpath(registry()[name]["file"])))
    npz = stem.with_name(stem.name + ".npz")
    assert hashlib.sha256(npz.read_bytes()).hexdigest() == SHIPPED_NPZ_SHA256[name]
    with caplog.at_level("WARNING", logger="cosmoemu.emulator._io"):
        new = read_emulator(stem)
    assert caplog.text == ""  # checksummed: no "unchecked" warning
    manifest = json.loads(stem.with_name(stem.name + ".json").read_text())
    manifest.pop("manifest_sha256")
    shutil.copy(npz, tmp_path / "old.npz")
    (tmp_path / "old.json").write_text(json.dumps(manifest))
    old = read_emulator(tmp_path / "old")
    lo, hi = np.array([new.box[p] for p in new.parameters]).T
    x = lo + (hi - lo) * np.random.default_rng(0).uniform(0.3, 0.7, (8, len(lo)))
    x = x[np.asarray(new.in_box(x))]
    assert len(x) or new.region is not None
    if new.region is not None:
        x = np.asarray([new.region["center"][p] for p in new.parameters])[None] if isinstance(
            new.region["center"], dict) else np.asarray(new.region["center"])[None]
    np.testing.assert_array_equal(old.predict_numpy(x), new.predict_numpy(x))


def test_metadata_is_a_copy_that_edits_do_not_reach():
    """Emulator.metadata is parsed once and cached: callers get a deep copy each time."""
    from cosmoemu import load_emulator

    emu = load_emulator("lcdm_cmb_tt")
    meta = emu.metadata
    training = meta.get("training", {})
    assert training, "the shipped model records its training"
    training.clear()
    meta["description"] = "edited"
    again = emu.metadata
    assert again.get("training"), "editing a returned dict changed the model's record"
    assert again.get("description") != "edited"
