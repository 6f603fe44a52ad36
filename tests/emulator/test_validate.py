"""`cosmoemu validate`: what it compares is stated, never assumed (issue 16, defect 5)."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from cosmoemu.cli import main
from cosmoemu.data import StoreError, open_store
from cosmoemu.emulator._validate import validate_emulators

SHARED = Path(__file__).parents[1] / "data" / "fixtures" / "cmb_lcdm_camb_2rows"


def _store(path: Path, lmax: int | None = None) -> Path:
    """The two CAMB rows of the fixture as one contiguous store (chunks 0 and 1), optionally
    cut to ell <= lmax (what `cosmoemu generate` writes with cmb: {lmax: ...})."""
    path.mkdir()
    for i, row in enumerate((0, 5999)):
        with np.load(SHARED / f"chunk_{row:05d}.npz", allow_pickle=False) as f:
            chunk = {k: f[k] for k in f.files}
        if lmax is not None:
            keep = chunk["ell"] <= lmax
            chunk["ell"], chunk["spectra"] = chunk["ell"][keep], chunk["spectra"][..., keep]
        np.savez(path / f"chunk_{i:05d}.npz", **chunk)
    return path


def test_store_to_lower_ell_is_validated_on_the_common_ells(tmp_path):
    """A store to ell = 1000 against emulators to 2508 gave a raw error; now the common ells
    are compared, and the report says which were not."""
    full, cut = _store(tmp_path / "full"), _store(tmp_path / "cut", lmax=1000)
    names = ["lcdm_cmb_tt", "lcdm_cmb_te"]
    _, ref = validate_emulators(names, full, tmp_path / "r1", timing=False)
    md, res = validate_emulators(names, cut, tmp_path / "r2", timing=False)
    for r, f in zip(res, ref, strict=True):
        np.testing.assert_array_equal(r.modes, np.arange(2, 1001))
        assert r.errors.shape == (2, 999)
        np.testing.assert_array_equal(r.errors, f.errors[:, :999])  # the same numbers
        assert r.errors.max() < 0.1  # against CAMB, in sigma_ell (shipped: 0.05 at 99 %)
    text = md.read_text()
    assert "the store holds 999 of the emulator's 2507 values (2..1000)" in text
    assert "the other 1508 (1001..2508) are unchecked" in text
    out = CliRunner().invoke(main, ["validate", "lcdm_cmb_tt", str(cut), "--out",
                                    str(tmp_path / "r3"), "--no-timing"])
    assert out.exit_code == 0, out.output


def test_no_common_ell_is_a_clear_error(tmp_path):
    store = _store(tmp_path / "s")
    for p in store.glob("chunk_*.npz"):
        with np.load(p) as f:
            chunk = {k: f[k] for k in f.files}
        chunk["ell"] = chunk["ell"] + 5000
        np.savez(p, **chunk)
    with pytest.raises(ValueError, match=r"'lcdm_cmb_tt' and the store have no ell in common "
                                         r"\(the emulator's 2..2508, the store's 5002..7508\)"):
        validate_emulators(["lcdm_cmb_tt"], store, tmp_path / "r", timing=False)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_chunk_is_named(tmp_path, damage):
    store = _store(tmp_path / "s")
    bad = store / "chunk_00001.npz"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a zip" * 50)
    with pytest.raises(StoreError, match=r"chunk '.*chunk_00001\.npz' is unreadable.*corrupt"):
        open_store(store).load("tt")
    out = CliRunner().invoke(main, ["validate", "lcdm_cmb_tt", str(store), "--out",
                                    str(tmp_path / "r"), "--no-timing"])
    assert out.exit_code != 0 and "chunk_00001.npz" in out.output


def test_missing_chunk_is_reported_with_the_file_names(tmp_path, caplog):
    store = _store(tmp_path / "s")
    (store / "chunk_00000.npz").rename(tmp_path / "aside.npz")
    with caplog.at_level("WARNING", logger="cosmoemu.data._store"):
        s = open_store(store)
    assert len(s) == 1 and s.missing_chunks == ("chunk_00000.npz",)
    assert "1 design rows are in no chunk (missing chunk_00000.npz)" in caplog.text
    md, _ = validate_emulators(["lcdm_derived"], store, tmp_path / "r", timing=False)
    assert "The store is incomplete: 1 chunk(s) missing (chunk_00000.npz)" in md.read_text()


def test_training_rows_of_the_shipped_models_are_checked_by_path(tmp_path, monkeypatch):
    """The shipped models record their training store by path: here a store at that path is
    faked; rows 0 and 5999 were in training ([0, 2925) and [3925, 6000)), so both are left out
    and the model is skipped; the report says so instead of 'never used in training'."""
    from cosmoemu.emulator import _validate

    store = _store(tmp_path / "cmb_lcdm_camb")
    real = _validate.training_rows

    def at_recorded_path(emu, st):
        meta = copy.deepcopy(emu.metadata)
        prov = meta["training"]["provenance"]
        assert prov["store"] == "/work/shared/data/cmb_lcdm_camb"
        prov["store"] = str(store)  # as if the shipped store were here
        return real(SimpleNamespace(metadata=meta), st)

    monkeypatch.setattr(_validate, "training_rows", at_recorded_path)
    # design rows of this copy: 0 and 1 (both in [0, 2925)): used in training
    md, res = validate_emulators(["lcdm_derived"], store, tmp_path / "r", timing=False)
    assert res == []
    text = md.read_text()
    assert "Skipped: every cosmology inside its box was used to train it" in text
    assert "is the training store (path recorded in the model)" in text
    assert "the 2 samples it trained on (design rows [[0, 2925], [3925, 6000]])" in text
    monkeypatch.setattr(_validate, "training_rows", real)
    md, (r,) = validate_emulators(["lcdm_derived"], store, tmp_path / "r", timing=False)
    assert "unchecked" in md.read_text() and "never used in training" not in md.read_text()
