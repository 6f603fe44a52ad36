"""Reading stores: the shared CAMB layout (no manifest) and our own, by chunk or by quantity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cosmoemu.data import generate, open_store

SHARED = Path(__file__).parent / "fixtures" / "cmb_lcdm_camb_2rows"


def _raw(row: int) -> dict[str, np.ndarray]:
    with np.load(SHARED / f"chunk_{row:05d}.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_reads_shared_layout_inferred_from_chunk_keys():
    store = open_store(SHARED)
    assert store.manifest is None and store.missing_rows() is None
    assert store.param_names == ("omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s")
    assert store.quantities == ("tt", "te", "ee", "pp", "derived")
    assert len(store) == store.n_samples == 2
    np.testing.assert_array_equal(store.design_rows, [0, 5999])
    np.testing.assert_array_equal(store.modes("ee"), np.arange(2, 2509))
    assert list(store.modes("derived")) == ["sigma8", "thetastar", "rstar", "zstar", "rdrag",
                                            "zdrag", "age"]
    raw = [_raw(0), _raw(5999)]
    np.testing.assert_array_equal(store.params(), np.concatenate([r["params"] for r in raw]))
    for i, q in enumerate(("tt", "te", "ee", "pp")):
        got = store.load(q)
        assert got.dtype == np.float64 and got.shape == (2, 2507)
        np.testing.assert_array_equal(got, np.concatenate([r["spectra"][:, i] for r in raw]))
    np.testing.assert_array_equal(store.load("derived", rows=[1]), raw[1]["derived"])


def test_rows_slices_masks_and_out(tmp_path):
    store = open_store(SHARED)
    full = store.load("tt")
    np.testing.assert_array_equal(store.load("tt", rows=[1, 0, 1]), full[[1, 0, 1]])
    np.testing.assert_array_equal(store.load("tt", rows=slice(1, None)), full[1:])
    np.testing.assert_array_equal(store.load("tt", rows=np.array([False, True])), full[1:])
    out = np.lib.format.open_memmap(tmp_path / "tt.npy", mode="w+", dtype=np.float64,
                                    shape=(2, 2507))
    store.load("tt", out=out)
    out.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "tt.npy"), full)
    with pytest.raises(IndexError, match=r"\[0, 2\)"):
        store.load("tt", rows=[2])
    with pytest.raises(ValueError, match="did you mean 'tt'"):
        store.load("TT")


def test_iter_chunks_streams_every_row_once(toy_config):
    cfg = toy_config(settings={"fail_above": {"b": 0.85}},
                     design=[{"kind": "lhs", "n": 23, "seed": 4}])
    generate(cfg, workers=1, progress=False)
    store = open_store(cfg["output"])
    assert 0 < len(store.failures()) < 23
    seen_rows, seen_design = [], []
    for batch in store.iter_chunks(["tt", "pk_lin"], shuffle=True, seed=1):
        assert set(batch) == {"params", "rows", "design_rows", "tt", "pk_lin"}
        np.testing.assert_array_equal(batch["tt"], store.load("tt", rows=batch["rows"]))
        np.testing.assert_array_equal(batch["params"], store.params(rows=batch["rows"]))
        assert batch["pk_lin"].shape == (len(batch["rows"]), 2, 8)
        seen_rows += list(batch["rows"])
        seen_design += list(batch["design_rows"])
    assert sorted(seen_rows) == list(range(len(store)))
    failed = {f["row"] for f in store.failures()}
    assert sorted(seen_design) == [r for r in range(23) if r not in failed]
    np.testing.assert_array_equal(store.modes("pk_lin"), np.geomspace(1e-3, 1.0, 8))
    np.testing.assert_array_equal(store.redshifts, [0.0, 1.0])
    assert store.manifest["design"]["recipe"] == [{"kind": "lhs", "n": 23, "seed": 4}]
    assert len(store.missing_rows()) == 0
    (store.path / "chunk_00005.npz").unlink()
    np.testing.assert_array_equal(open_store(store.path).missing_rows(), np.arange(5, 10))


def test_empty_store_describes_itself_from_manifest(toy_config, monkeypatch):
    """Smoke test: a store with a manifest and no chunk yet still reports names and modes."""
    cfg = toy_config()
    monkeypatch.setattr("cosmoemu.data._writer.StoreWriter.pending", lambda self, **kw: [])
    generate(cfg, progress=False)
    store = open_store(cfg["output"])
    assert len(store) == 0 and store.param_names == ("a", "b", "c")
    assert store.shape("pk_nonlin") == (2, 8) and store.load("tt").shape == (0, 39)


def test_sandbox_messages_are_data_not_pickles():
    """The worker <-> sandbox protocol carries JSON and raw array bytes only: arrays come back
    bit-exact with their dtype and shape, and anything that is not plain data is refused."""
    import os

    from cosmoemu.data._sandbox import _recv, _send

    msg = ("ok", {"spectra": np.arange(12, dtype=np.float64).reshape(3, 4) / 7,
                  "derived": np.array([0.81, 1.04], np.float32), "n": np.int64(3)}, 1.5)
    r, w = os.pipe()
    try:
        _send(w, msg)
        status, payload, seconds = _recv(r, deadline=None)
        with pytest.raises(TypeError, match="cannot send"):
            _send(w, {"f": lambda: 0})
    finally:
        os.close(r)
        os.close(w)
    assert (status, seconds, payload["n"]) == ("ok", 1.5, 3)
    for key in ("spectra", "derived"):
        assert payload[key].dtype == msg[1][key].dtype
        np.testing.assert_array_equal(payload[key], msg[1][key])


def test_missing_chunks_are_warned_with_count_and_names(toy_config, caplog):
    """A deleted chunk opened silently with fewer samples."""
    cfg = toy_config()
    generate(cfg, workers=1, progress=False)
    root = Path(cfg["output"])
    (root / "chunk_00005.npz").unlink()  # rows 5..9
    (root / "chunk_00020.npz").unlink()  # rows 20..23, the last chunk
    with caplog.at_level("WARNING", logger="cosmoemu.data._store"):
        store = open_store(root)
    assert len(store) == 24 - 9
    assert store.missing_chunks == ("chunk_00005.npz", "chunk_00020.npz")
    assert ("9 design rows are in no chunk (missing chunk_00005.npz, chunk_00020.npz)"
            in caplog.text)
    np.testing.assert_array_equal(store.missing_rows(), [5, 6, 7, 8, 9, 20, 21, 22, 23])
    assert store.box == {"a": (0.0, 1.0), "b": (0.0, 1.0), "c": (-1.0, 1.0)}  # the design's
    assert store.fingerprint().startswith("design:")


def test_corrupt_chunk_error_names_the_file(toy_config):
    from cosmoemu.data import StoreError

    cfg = toy_config()
    generate(cfg, workers=1, progress=False)
    bad = Path(cfg["output"]) / "chunk_00010.npz"
    bad.write_bytes(bad.read_bytes()[:300])
    with pytest.raises(StoreError, match=r"chunk '.*chunk_00010\.npz' is unreadable \(Bad"):
        open_store(cfg["output"])
