"""Importing CosmoPower / CosmoPower-JAX models: safe unpickling, predictions equal to theirs.

The reference for the shipped models is CosmoPower-JAX's own ``predict`` (a test extra); for
CosmoPower's TensorFlow-era files (which CosmoPower-JAX cannot read without TensorFlow) it is a
float64 NumPy evaluation of CosmoPower's equations (Alsing et al. activation, standardisations,
PCA, 10**) written here.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import cosmoemu
from cosmoemu.emulator import (
    ModelFileError,
    RestrictedUnpickler,
    UnsafePickleError,
    import_cosmopower,
    load_emulator,
    save_emulator,
)
from cosmoemu.emulator._cosmopower import safe_unpickle

FIXTURE_STORE = Path(__file__).parents[1] / "data" / "fixtures" / "cmb_lcdm_camb_2rows"
CMB = ("omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s")
# the shipped ΛCDM emulators' box: a physically sensible part of CosmoPower's very wide CMB box
SENSIBLE = {"omega_b": (0.019, 0.026), "omega_cdm": (0.08, 0.17), "h": (0.55, 0.85),
            "tau_reio": (0.02, 0.12), "n_s": (0.88, 1.06), "ln10^{10}A_s": (2.7, 3.3)}


# --------------------------------------------------------------------------- restricted unpickler
class _Evil:
    def __init__(self, call, arg):
        self.call, self.arg = call, arg

    def __reduce__(self):
        return (self.call, (self.arg,))


@pytest.mark.parametrize("how", ["os.system", "builtins.eval"])
def test_malicious_pickle_is_refused_before_it_runs(tmp_path, how):
    marker = tmp_path / "pwned"
    if how == "os.system":
        evil = _Evil(os.system, f"touch {marker}")
        name = f"{os.system.__module__}.system"  # posix.system on Linux
    else:
        evil = _Evil(eval, f"open({str(marker)!r}, 'w').close()")
        name = "builtins.eval"
    # hidden among arrays, as in a real model list
    payload = [[np.ones((3, 2), np.float32), np.zeros(3)], evil, ["omega_b"]]
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(UnsafePickleError, match=name.replace(".", r"\.")) as err:
        import_cosmopower(path, box={"a": (0, 1)}, log10=True)
    assert str(path) in str(err.value)
    assert not marker.exists()
    # sanity: the same pickle *does* run its payload with the ordinary unpickler
    pickle.loads(pickle.dumps(evil))
    assert marker.exists()


def test_malicious_object_array_in_npz_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    obj = np.empty((), object)
    obj[()] = {"weights_": [_Evil(os.system, f"touch {marker}")]}
    np.savez(tmp_path / "model.npz", obj)
    with pytest.raises(UnsafePickleError, match="system"):
        import_cosmopower(tmp_path / "model.npz", box={"a": (0, 1)}, log10=True)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_restricted_unpickler_rebuilds_arrays_and_containers(protocol):
    data = {"w": [np.arange(6, dtype=np.float32).reshape(2, 3), np.float64(2.5)],
            "names": ("a", "b"), "n": 3, "modes": np.arange(2, 5)}
    got = safe_unpickle(pickle.dumps(data, protocol=protocol))
    np.testing.assert_array_equal(got["w"][0], data["w"][0])
    assert got["w"][0].dtype == np.float32 and got["w"][1] == 2.5
    assert got["names"] == ("a", "b") and got["n"] == 3
    np.testing.assert_array_equal(got["modes"], [2, 3, 4])


def test_restricted_unpickler_refuses_other_classes():
    import collections

    for obj in (collections.Counter(a=1), Path("x")):
        with pytest.raises(UnsafePickleError, match="refusing to unpickle"):
            safe_unpickle(pickle.dumps(obj))
    assert issubclass(RestrictedUnpickler, pickle.Unpickler)


# --------------------------------------------------------------------------- CosmoPower-JAX models
@pytest.fixture(scope="module")
def cpj():
    cpj_mod = pytest.importorskip(
        "cosmopower_jax.cosmopower_jax",
        reason="cosmopower-jax not installed (pip install 'cosmoemu[test]')")
    import cosmopower_jax

    models = Path(cosmopower_jax.__file__).parent / "trained_models"
    return cpj_mod.CosmoPowerJAX, models


def _points(box, names, n, seed):
    lo, hi = np.array([box[p] for p in names]).T
    return (lo + (hi - lo) * np.random.default_rng(seed).random((n, len(names)))).astype(
        np.float32)


@pytest.mark.parametrize("probe", ["cmb_tt", "cmb_ee", "cmb_pp", "mpk_lin"])
def test_shipped_models_match_cosmopower_jax(cpj, probe):
    CPJ, models = cpj
    emu = import_cosmopower(models / f"{probe}.pkl")
    box = {**emu.box, **{k: v for k, v in SENSIBLE.items() if k in emu.box}} \
        if probe.startswith("cmb") else emu.box
    x = _points(box, emu.parameters, 64, seed=1)
    ref = np.asarray(CPJ(probe=probe, verbose=False).predict(x))
    got = np.asarray(emu.predict(x))
    assert got.shape == ref.shape == (64, emu.n_modes)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=0)
    assert emu.kind == ("pca" if probe == "cmb_pp" else "dense")


def test_te_pca_model_matches_cosmopower_jax(cpj):
    """TE changes sign: the error is measured against each spectrum's largest |C_ell|. Both
    codes decode 512 PCA coefficients in float32, whose cancellation leaves ~1.5e-5 of it."""
    CPJ, models = cpj
    emu = import_cosmopower(models / "cmb_te.pkl")
    assert emu.kind == "pca" and emu.n_modes == 2507 and emu.modes[0] == 2
    assert "pca_files" in emu.metadata["imported"]
    x = _points(SENSIBLE, CMB, 64, seed=2)
    ref = np.asarray(CPJ(probe="cmb_te", verbose=False).predict(x))
    got = np.asarray(emu.predict(x))
    scale = np.abs(ref).max(axis=1, keepdims=True)
    assert np.max(np.abs(got - ref) / scale) < 5e-5


def _numpy_cosmopower(raw: dict, x: np.ndarray, log10: bool) -> np.ndarray:
    """CosmoPower's equations in float64 NumPy, from its attribute dict (weights (in, out))."""
    raw = {k: ([np.float64(a) for a in v] if isinstance(v, list) and k.endswith("_") else
               np.float64(v) if isinstance(v, np.ndarray) else v) for k, v in raw.items()}
    z = (x - raw["param_train_mean"]) / raw["param_train_std"]
    ws, bs = raw["weights_"], raw["biases_"]
    for w, b, al, be in zip(ws[:-1], bs[:-1], raw["alphas_"], raw["betas_"], strict=True):
        z = z @ w + b
        z = (be + (1.0 - be) / (1.0 + np.exp(-al * z))) * z
    y = (z @ ws[-1] + bs[-1]) * raw["feature_train_std"] + raw["feature_train_mean"]
    if "pca_matrix" in raw:
        y = (y @ raw["pca_matrix"]) * raw["training_std"] + raw["training_mean"]
    return 10.0**y if log10 else y


@pytest.mark.parametrize("stem", ["tf_cmb_template", "tf_pca_template"])
def test_cosmopower_tensorflow_files_npz_and_pickle(cpj, stem):
    """CosmoPower's own files (TensorFlow ListWrapper lists inside): the .npz and the .pkl give
    the same emulator, equal to CosmoPower's equations evaluated in float64."""
    import jax

    _, models = cpj
    names = ("ombh2", "omch2", "h", "tau", "ns", "logA", "Alens")
    with pytest.raises(ValueError, match="box"):
        import_cosmopower(models / f"{stem}.npz")
    box = {"ombh2": (0.015, 0.03), "omch2": (0.05, 0.2), "h": (0.5, 0.9), "tau": (0.02, 0.2),
           "ns": (0.85, 1.1), "logA": (2.5, 3.5), "Alens": (0.5, 1.5)}
    with pytest.raises(ValueError, match="log10"):
        import_cosmopower(models / f"{stem}.npz", box=box)
    a = import_cosmopower(models / f"{stem}.npz", box=box, log10=True)
    b = import_cosmopower(models / f"{stem}.pkl", box=box, log10=True)
    assert a.parameters == names and a.kind == ("pca" if "pca" in stem else "dense")
    x = _points(box, names, 16, seed=3).astype(np.float64)
    ref = _numpy_cosmopower(_npz_dict(models / f"{stem}.npz"), x, log10=True)
    with jax.enable_x64(True):
        got_a = np.asarray(a.predict(x))
        got_b = np.asarray(b.predict(x))
    np.testing.assert_array_equal(got_a, got_b)
    np.testing.assert_allclose(got_a, ref, rtol=1e-10)


def _npz_dict(path: Path) -> dict:
    from cosmoemu.emulator._cosmopower import _read_npz

    (value,) = _read_npz(path).values()
    return dict(value)


def test_imported_model_manifest_and_validate(cpj, tmp_path):
    """Save → load keeps predictions and provenance; `cosmoemu validate` scores it on a store."""
    from click.testing import CliRunner

    from cosmoemu.cli import main
    from cosmoemu.emulator._error_models import cmb_sigma
    from cosmoemu.emulator._validate import validate_emulators

    _, models = cpj
    src = models / "cmb_tt.pkl"
    emu = import_cosmopower(src)
    save_emulator(emu, tmp_path / "cp_tt")
    back = load_emulator(tmp_path / "cp_tt")
    imp = back.metadata["imported"]
    assert imp["from"] == "CosmoPower-JAX" and imp["file"] == str(src.resolve())
    assert imp["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert "CP_paper/CMB/README.md" in imp["box_source"]
    assert back.metadata["description"].startswith("imported from CosmoPower")
    assert back.box == {"omega_b": (0.005, 0.04), "omega_cdm": (0.001, 0.99), "h": (0.2, 1.0),
                        "tau_reio": (0.01, 0.8), "n_s": (0.7, 1.3), "ln10^{10}A_s": (1.61, 5.0)}
    assert back.quantity == "tt" and back.units == "dimensionless" and back.mode_label == "ell"
    x = _points(SENSIBLE, CMB, 4, seed=4)
    np.testing.assert_array_equal(np.asarray(back.predict(x)), np.asarray(emu.predict(x)))

    # validate against CAMB spectra: the numbers are |C_emu - C_CAMB| / sigma_ell directly
    md, (res,) = validate_emulators([tmp_path / "cp_tt"], FIXTURE_STORE, tmp_path / "rep",
                                    timing=False)
    store = cosmoemu.open_store(FIXTURE_STORE)
    params, truth = store.params(), store.load("tt")
    cls = {q: store.load(q) for q in ("tt", "te", "ee")}
    sigma = cmb_sigma("tt", np.arange(2, 2509, dtype=float), cls)
    direct = np.abs(np.asarray(emu.predict(params.astype(np.float32))) - truth) / sigma
    np.testing.assert_allclose(res.max_per_sample, direct.max(axis=1), rtol=1e-6)
    assert res.quantity == "tt" and len(res.params) == 2
    assert np.all(res.max_per_sample < 1.0)  # CLASS-trained CosmoPower vs CAMB: < 1 sigma_ell
    assert "cp_tt" in md.read_text()
    out = CliRunner().invoke(main, ["validate", str(tmp_path / "cp_tt"), str(FIXTURE_STORE),
                                    "--out", str(tmp_path / "rep2"), "--no-timing"])
    assert out.exit_code == 0, out.output
    assert "cp_tt" in out.output and "n=    2" in out.output


def test_known_model_checks(cpj, tmp_path):
    _, models = cpj
    # a documented name with other parameters gets nothing documented
    raw = safe_unpickle((models / "mpk_lin.pkl").read_bytes())
    raw[7] = ["a", "b", "c", "d", "e", "f"]
    (tmp_path / "mpk_lin.pkl").write_bytes(pickle.dumps(raw))
    with pytest.raises(ValueError, match="training box"):
        import_cosmopower(tmp_path / "mpk_lin.pkl")
    # a box that misses where the model was trained is refused
    with pytest.raises(ValueError, match="does not hold the training parameters"):
        import_cosmopower(models / "mpk_lin.pkl", box={**{p: (0.0, 1e-3) for p in
                                                           ("omega_b", "omega_cdm", "h", "n_s",
                                                            "ln10^{10}A_s")}, "z": (0, 5)})
    # a CosmoPower-JAX PCA model without its PCA files
    (tmp_path / "cmb_te.pkl").write_bytes((models / "cmb_te.pkl").read_bytes())
    with pytest.raises(ModelFileError, match="pca="):
        import_cosmopower(tmp_path / "cmb_te.pkl")
    emu = import_cosmopower(models / "mpk_lin.pkl")
    assert emu.axes[0].name == "k" and emu.axes[0].units == "1/Mpc"
    assert emu.quantity == "pk_lin" and emu.units == "Mpc^3"


def test_not_a_cosmopower_file(tmp_path):
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ModelFileError, match="not a CosmoPower"):
        import_cosmopower(p, box={}, log10=False)
    q = tmp_path / "y.pkl"
    q.write_bytes(b"not a pickle")
    with pytest.raises(ModelFileError, match="not a readable pickle"):
        import_cosmopower(q)
    assert cosmoemu.import_cosmopower is import_cosmopower
