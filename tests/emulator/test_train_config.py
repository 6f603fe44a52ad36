"""`cosmoemu train CONFIG`: a config trains and saves a model; bad fields are named."""

from __future__ import annotations

import copy
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
    cfg = copy.deepcopy(BASE)
    edit(cfg)
    with pytest.raises(ValueError, match=rf"config field '{re.escape(field)}'.*{text}"):
        parse_train_config(cfg)


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


def test_cli_trains_and_saves_from_a_store(tmp_path):
    """Smoke test of the command on a tiny synthetic store (quality is tested elsewhere)."""
    rng = np.random.default_rng(0)
    with np.load(FIXTURE / "chunk_00000.npz", allow_pickle=False) as f:
        base = {k: f[k] for k in f.files}
    store = tmp_path / "store"
    store.mkdir()
    n = 40
    params = base["params"][:1] * (1 + 0.01 * rng.standard_normal((n, 6)))
    spectra = np.repeat(base["spectra"][:1], n, 0) * np.exp(params[:, 5:6] - 3.0)[:, :, None]
    chunk = {
        **base,
        "params": params,
        "spectra": spectra.astype(np.float32),
        "derived": np.repeat(base["derived"][:1], n, 0),
        "region": np.zeros(n, int),
    }
    np.savez(store / "chunk_00000.npz", **chunk)
    cfg = copy.deepcopy(BASE)
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
