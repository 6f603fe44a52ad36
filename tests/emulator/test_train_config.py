"""`cosmoemu train CONFIG`: a config trains and saves a model; bad fields are named."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from cosmoemu.cli import main
from cosmoemu.emulator import read_emulator
from cosmoemu.emulator._error_models import cmb_sigma
from cosmoemu.emulator._trainconfig import apply_mode_weights, parse_train_config

FIXTURE = Path(__file__).parents[1] / "data" / "fixtures" / "cmb_lcdm_camb_2rows"

BASE = {
    "data": {"store": "store", "quantity": "tt"},
    "emulator": {
        "kind": "pca",
        "n_components": 4,
        "log10": True,
        "hidden": [8],
        "factor": {"linear": {"ln10^{10}A_s": 1.0}, "const": -23.02585093},
    },
    "error_model": {"type": "cmb", "f_sky": 0.4},
    "training": {
        "loss": "mse",
        "seed": 3,
        "val_fraction": 0.2,
        "stages": [{"learning_rate": 1e-3, "batch_size": 8, "max_epochs": 3}],
    },
    "output": {"path": "out/model", "description": "test"},
}


def _assert_config_error(edit, field, text):
    """Editing BASE by ``edit`` makes parsing fail with a message naming ``field``."""
    cfg = copy.deepcopy(BASE)
    edit(cfg)
    with pytest.raises(ValueError, match=rf"config field '{re.escape(field)}'.*{text}"):
        parse_train_config(cfg)


@pytest.mark.parametrize(
    ("edit", "field", "text"),
    [
        (lambda c: c["emulator"].update(kind="pcaa"), "emulator.kind", "did you mean 'pca'"),
        (lambda c: c["training"].update(los="mse"), "training.los", "did you mean 'loss'"),
        (lambda c: c["training"]["stages"][0].update(batch_size=0), "training.stages[0]", ">= 1"),
        (lambda c: c["error_model"].update(type="cv"), "error_model.type", "cmb, relative"),
        (lambda c: c.pop("output"), "output", "required"),
        (lambda c: c["emulator"].pop("n_components"), "emulator", "exactly one of"),
        (lambda c: c["data"].update(max_samples=3), "data.max_samples", ">= 10"),
    ],
)
def test_config_errors_name_the_field(edit, field, text):
    _assert_config_error(edit, field, text)


def test_cmb_sigma_is_cosmic_variance_plus_noise():
    ell = np.array([2, 1000, 2500])
    cl = np.array([1e-10, 2e-16, 1e-17])
    sig = cmb_sigma("tt", ell, {"tt": cl}, f_sky=0.4)
    # at ell = 2 noise is negligible: sqrt(2 / (5 * 0.4)) = 1 exactly, times C_ell
    assert sig[0] == pytest.approx(cl[0], rel=1e-6)
    # white noise of 6 uK-arcmin with a 1.4' beam at ell = 2500, in units of T_cmb^2
    arcmin = np.pi / 10800
    n = (6 * arcmin) ** 2 * np.exp(2500 * 2501 * (1.4 * arcmin) ** 2 / (8 * np.log(2)))
    n /= 2.7255e6**2
    assert sig[2] == pytest.approx(np.sqrt(2 / (5001 * 0.4)) * (cl[2] + n), rel=1e-12)


SHIPPED_BOX = {"omega_b": [0.019, 0.026], "omega_cdm": [0.08, 0.17], "h": [0.55, 0.85],
               "tau_reio": [0.02, 0.12], "n_s": [0.88, 1.06], "ln10^{10}A_s": [2.7, 3.3]}


def _tiny_params(n: int = 40) -> np.ndarray:
    """``n`` cosmologies within ~1 % of the fixture's first one (seeded)."""
    with np.load(FIXTURE / "chunk_00000.npz", allow_pickle=False) as f:
        first = f["params"][:1]
    return first * (1 + 0.01 * np.random.default_rng(0).standard_normal((n, 6)))


def _tiny_store(path: Path, n: int = 40, design_box: dict | None = None) -> np.ndarray:
    """A store of ``n`` spectra (CAMB's shape, ell 2..2508) around the fixture cosmology; with
    ``design_box``, the manifest.json `cosmoemu generate` writes, recording that box. Returns
    the parameters."""
    with np.load(FIXTURE / "chunk_00000.npz", allow_pickle=False) as f:
        base = {k: f[k] for k in f.files}
    path.mkdir()
    params = _tiny_params(n)
    spectra = np.repeat(base["spectra"][:1], n, 0) * np.exp(params[:, 5:6] - 3.0)[:, :, None]
    chunk = {
        **base,
        "params": params,
        "spectra": spectra.astype(np.float32),
        "derived": np.repeat(base["derived"][:1], n, 0),
        "region": np.zeros(n, int),
    }
    np.savez(path / "chunk_00000.npz", **chunk)
    if design_box is not None:
        names = [str(v) for v in base["names"]]
        (path / "manifest.json").write_text(json.dumps({
            "format": "cosmoemu.store", "schema_version": 1,
            "parameters": {"names": names, "low": [design_box[k][0] for k in names],
                           "high": [design_box[k][1] for k in names]},
            "design": {"n_samples": n, "sha256": "0" * 64}, "chunk_size": n,
        }))
    return params


def _sample_box(params: np.ndarray) -> dict:
    names = ["omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s"]
    return {k: [float(params[:, i].min()), float(params[:, i].max())]
            for i, k in enumerate(names)}


def test_cli_trains_and_saves_from_a_store(tmp_path, monkeypatch):
    """Smoke test of the command on a tiny synthetic store (quality is tested elsewhere)."""
    monkeypatch.chdir(tmp_path)  # relative paths in a config are relative to the working dir
    params = _tiny_store(tmp_path / "store")
    n = len(params)
    cfg = copy.deepcopy(BASE)
    cfg["data"]["box"] = _sample_box(params)  # the store records no design box
    cfg["emulator"]["feature_scale"] = "error_model"
    cfg["emulator"]["mode_weights"] = [{"modes": [2, 29], "weight": 3.0}]
    cfg["training"]["finetune"] = {
        "loss": "weighted",
        "stages": [{"learning_rate": 1e-4, "batch_size": 8, "max_epochs": 2}],
    }
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(main, ["train", str(tmp_path / "train.yaml"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "PCA: 4 components" in res.output
    emu = read_emulator(tmp_path / "out" / "model")
    assert emu.metadata["description"] == "test"
    assert emu.metadata["training"]["provenance"]["n_samples"] == n
    assert emu.metadata["training"]["loss"] == "weighted"  # the fine-tuning phase
    assert emu.metadata["training"]["provenance"]["first_phase"]["loss"] == "mse"
    assert emu.metadata["pca"]["n_components"] == 4
    assert emu.parameters[0] == "omega_b" and emu.modes[0] == 2
    bad = copy.deepcopy(BASE)
    bad["data"]["quantity"] = "TT"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    res = CliRunner().invoke(main, ["train", str(tmp_path / "bad.yaml")])
    assert res.exit_code != 0 and "did you mean 'tt'" in res.output


def test_mode_weights_divide_the_scale_in_range():
    ell = np.arange(2, 12)
    scale = apply_mode_weights(
        np.full(10, 2.0),
        np.ones((3, 10)),
        ell,
        [{"modes": [2, 4], "weight": 4.0}, {"modes": [10, 11], "weight": 2.0}],
    )
    np.testing.assert_allclose(scale, [0.5, 0.5, 0.5, 2, 2, 2, 2, 2, 1, 1])


CONFIGS = sorted((Path(__file__).parents[2] / "src" / "cosmoemu" / "pretrained" / "configs")
                 .glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_parse_into_the_specs(path):
    raw = yaml.safe_load(path.read_text())
    if raw["emulator"]["kind"] == "azimuthal":  # seismograms: their own, smaller schema
        from cosmoemu.emulator._azimuthal import parse_azimuthal_config

        c = parse_azimuthal_config(raw)
        assert list(c["hidden"]) == raw["emulator"]["hidden"]
        assert c["receivers"].shape == (10, 2) and c["noise_sigma"] == 0.0222
        assert c["epochs"] == raw["training"]["epochs"] and c["seed"] == raw["training"]["seed"]
        return
    cfg = parse_train_config(raw, path.parent)
    emu, tr = raw["emulator"], raw["training"]
    assert cfg.data.quantity == raw["data"]["quantity"]
    assert cfg.emulator.kind == emu["kind"]
    assert list(cfg.emulator.hidden) == emu["hidden"]
    assert cfg.emulator.log10 == emu.get("log10", False)
    assert cfg.train.phase.solver == tr.get("solver", "adam")
    assert cfg.train.seed == tr["seed"]
    if cfg.train.phase.solver == "adam":
        assert [s.learning_rate for s in cfg.train.phase.stages] == [
            s["learning_rate"] for s in tr["stages"]]
    if "finetune" in tr:
        assert cfg.finetune.loss == tr["finetune"].get("loss", "weighted")
        assert len(cfg.finetune.stages) == len(tr["finetune"]["stages"])
    assert cfg.output.path == path.parent / raw["output"]["path"]


# ---- checked before any work: paths, the box, the numbers (issue 16, defects 1, 3, 6) ---------

PACKAGE = Path(__file__).parents[2] / "src" / "cosmoemu"


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if training starts: the checks must come first."""
    from cosmoemu.emulator import _trainconfig

    def fail(*args, **kwargs):
        raise AssertionError("training started before the config was refused")

    monkeypatch.setattr(_trainconfig, "train_emulator", fail)


@pytest.fixture
def quick_training(monkeypatch):
    """Train any config with a tiny network for two epochs (the paths and files are tested)."""
    from cosmoemu.emulator import Stage, _trainconfig

    real = _trainconfig.train_emulator

    def quick(x, y, spec, **kwargs):
        phase = dataclasses.replace(spec.phase, stages=(Stage(1e-3, 8, 2, 2),))
        spec = dataclasses.replace(spec, emulator=dataclasses.replace(spec.emulator,
                                                                      hidden=(8,)), phase=phase)
        return real(x, y, spec, **kwargs)

    monkeypatch.setattr(_trainconfig, "train_emulator", quick)


def test_shipped_config_writes_to_the_working_directory_not_the_package(
        tmp_path, monkeypatch, quick_training):
    """README's command wrote over the shipped model (output.path resolved into the package)."""
    shipped = PACKAGE / "pretrained" / "models" / "lcdm_cmb_ee"
    before = {s: hashlib.sha256(Path(f"{shipped}{s}").read_bytes()).hexdigest()
              for s in (".npz", ".json")}
    _tiny_store(tmp_path / "quick_store", design_box=SHIPPED_BOX)
    monkeypatch.chdir(tmp_path)
    config = PACKAGE / "pretrained" / "configs" / "lcdm_cmb_ee.yaml"
    res = CliRunner().invoke(main, ["train", str(config), "--store", "quick_store",
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    emu = read_emulator(tmp_path / "lcdm_cmb_ee")
    assert emu.quantity == "ee" and emu.box == {k: tuple(v) for k, v in SHIPPED_BOX.items()}
    assert {s: hashlib.sha256(Path(f"{shipped}{s}").read_bytes()).hexdigest()
            for s in (".npz", ".json")} == before


def test_output_inside_the_package_is_refused_unless_asked(tmp_path, monkeypatch, no_training):
    from cosmoemu.emulator._trainconfig import train_from_config

    monkeypatch.chdir(tmp_path)
    cfg = copy.deepcopy(BASE)
    cfg["output"]["path"] = str(PACKAGE / "pretrained" / "models" / "lcdm_cmb_ee")
    cfg["data"]["store"] = "no_such_store"  # refused before the store is even opened
    with pytest.raises(ValueError, match=r"config field 'output.path'.*inside the installed "
                                         r"cosmoemu package.*--overwrite-package"):
        train_from_config(cfg)
    with pytest.raises(FileNotFoundError, match="no_such_store"):  # asked: goes on
        train_from_config(cfg, overwrite_package=True)


@pytest.mark.parametrize(
    ("edit", "field", "text"),
    [
        (lambda c: c["data"].update(box={**SHIPPED_BOX, "h": [0.85, 0.55]}), "data.box.h",
         r"low < high, got \[0.85, 0.55\] \(inverted"),
        (lambda c: c["data"].update(box={**SHIPPED_BOX, "h": "wide"}), "data.box.h",
         "two numbers"),
        (lambda c: c["training"]["stages"][0].update(learning_rate="fast"),
         "training.stages[0].learning_rate", "must be a number"),
        (lambda c: c["training"].update(finetune={"stages": [{"learning_rate": "fast",
                                                              "batch_size": 8}]}),
         "training.finetune.stages[0].learning_rate", "must be a number"),
        (lambda c: c["training"]["stages"][0].update(max_epochs=2.5),
         "training.stages[0].max_epochs", "expected int"),
    ],
)
def test_bad_numbers_are_named_before_any_work(edit, field, text):
    _assert_config_error(edit, field, text)


def test_learning_rate_written_1e_3_in_yaml_is_a_number():
    cfg = copy.deepcopy(BASE)
    cfg["training"]["stages"][0]["learning_rate"] = yaml.safe_load("1e-3")  # a str in YAML 1.1
    assert parse_train_config(cfg).train.phase.stages[0].learning_rate == 1e-3


@pytest.mark.parametrize("design", [False, True], ids=["samples", "design_box"])
def test_box_wider_than_the_data_is_refused_before_training(tmp_path, monkeypatch, no_training,
                                                           design):
    from cosmoemu.emulator._trainconfig import train_from_config

    monkeypatch.chdir(tmp_path)
    params = _tiny_store(tmp_path / "store",
                         design_box=_sample_box(_tiny_params()) if design else None)
    cfg = copy.deepcopy(BASE)
    cfg["data"]["box"] = {**_sample_box(params), "h": SHIPPED_BOX["h"]}  # data span h ± 1 %
    words = "design box" if design else "beyond the training samples"
    with pytest.raises(ValueError, match=rf"config field 'data.box.h'.*{words}"):
        train_from_config(cfg, progress=False)
    cfg["data"]["box"] = {**_sample_box(params), "H": [0.6, 0.7]}
    with pytest.raises(ValueError, match=r"config field 'data.box.H'.*did you mean 'h'"):
        train_from_config(cfg, progress=False)


def test_without_a_box_the_store_design_box_is_used_else_it_is_required(
        tmp_path, monkeypatch, quick_training):
    from cosmoemu.emulator._trainconfig import train_from_config

    monkeypatch.chdir(tmp_path)
    _tiny_store(tmp_path / "bare")
    cfg = copy.deepcopy(BASE)
    cfg["data"]["store"] = "bare"
    with pytest.raises(ValueError, match=r"config field 'data.box'.*records no design box"):
        train_from_config(cfg, progress=False)
    _tiny_store(tmp_path / "store", design_box=SHIPPED_BOX)
    cfg["data"]["store"] = "store"
    emu = train_from_config(cfg, progress=False).emulator
    assert emu.box == {k: tuple(v) for k, v in SHIPPED_BOX.items()}
    # a fresh draw from the design box, outside the samples' range (h within 1 % of 0.67)
    x = np.array([[0.0224, 0.12, 0.80, 0.054, 0.965, 3.04]])
    assert bool(emu.in_box(x)[0])


def test_train_emulator_requires_a_box():
    from cosmoemu.emulator import train_emulator

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (30, 2))
    y = np.column_stack([x[:, 0], x[:, 1], x.sum(1)])
    kw = {"parameters": ("a", "b"), "hidden": (), "solver": "lstsq", "progress": False}
    with pytest.raises(ValueError, match=r"box= is required.*box=store.box"):
        train_emulator(x, y, **kw)
    with pytest.raises(ValueError, match=r"box: unknown parameter 'c'"):
        train_emulator(x, y, box={"a": (0, 1), "b": (0, 1), "c": (0, 1)}, **kw)
    with pytest.raises(ValueError, match=r"box: no \(low, high\) for b"):
        train_emulator(x, y, box={"a": (0, 1)}, **kw)
    emu = train_emulator(x, y, box={"a": (0, 1), "b": (0, 1)}, **kw).emulator
    assert emu.box == {"a": (0.0, 1.0), "b": (0.0, 1.0)}
    assert bool(emu.in_box(np.array([0.999, 0.001])))  # a fresh draw near the edge
    emu = train_emulator(x, y, box="samples", **kw).emulator
    assert emu.box["a"] == (x[:, 0].min(), x[:, 0].max())


def test_validate_leaves_out_the_training_rows_it_finds_in_the_provenance(
        tmp_path, monkeypatch, quick_training):
    """`validate` said "never used in training" unchecked; now the model records its store's
    fingerprint and rows, and validate leaves those rows out (on a copy of the store too)."""
    import shutil

    from cosmoemu.emulator._trainconfig import train_from_config
    from cosmoemu.emulator._validate import validate_emulators

    monkeypatch.chdir(tmp_path)
    params = _tiny_store(tmp_path / "store")
    cfg = copy.deepcopy(BASE)
    cfg["data"].update(box=_sample_box(params), design_rows=[[0, 30]])
    train_from_config(cfg, progress=False)
    prov = read_emulator("out/model").metadata["training"]["provenance"]
    assert prov["store"] == str(tmp_path / "store") and prov["n_samples"] == 30
    assert prov["store_fingerprint"].startswith("samples:")
    shutil.copytree("store", "copy")
    for store in ("store", "copy"):
        md, (res,) = validate_emulators(["out/model"], store, f"report_{store}", timing=False)
        assert len(res.params) == 10
        np.testing.assert_array_equal(res.params, params[30:])  # exactly the held-out rows
        assert res.extra["n_used_in_training"] == 30
        assert "is the training store (fingerprint recorded in the model)" in md.read_text()
    _tiny_store(tmp_path / "other", n=45)
    md, (res,) = validate_emulators(["out/model"], "other", "report_other", timing=False)
    assert res.extra["n_used_in_training"] == 0
    assert len(res.params) + res.extra["n_outside_box"] == 45
    assert "held out: the model was trained on another store" in md.read_text()


def test_replacing_a_model_with_other_outputs_is_announced(tmp_path, monkeypatch, caplog,
                                                           quick_training):
    """The shipped EE model (ell to 2508) was replaced silently by one with 999 modes."""
    import shutil

    from cosmoemu.emulator._trainconfig import train_from_config

    monkeypatch.chdir(tmp_path)
    for suffix in (".npz", ".json"):
        shutil.copy(PACKAGE / "pretrained" / "models" / f"lcdm_cmb_ee{suffix}",
                    tmp_path / f"model{suffix}")
    params = _tiny_store(tmp_path / "store")
    with np.load(tmp_path / "store" / "chunk_00000.npz") as f:
        chunk = {k: f[k] for k in f.files}
    chunk["ell"], chunk["spectra"] = chunk["ell"][:999], chunk["spectra"][..., :999]
    np.savez(tmp_path / "store" / "chunk_00000.npz", **chunk)  # a store to ell = 1000
    cfg = copy.deepcopy(BASE)
    cfg["data"]["box"] = _sample_box(params)
    cfg["output"]["path"] = "model"
    with caplog.at_level("WARNING", logger="cosmoemu.emulator._trainconfig"):
        train_from_config(cfg, progress=False)
    assert f"'{tmp_path / 'model'}' holds a model of" in caplog.text
    assert "ell (2507); it will be replaced by one of" in caplog.text and "ell (999)" in caplog.text
