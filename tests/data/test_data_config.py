"""Bad input: a clear error naming the field and the allowed values, before any Boltzmann call."""

from __future__ import annotations

import copy
import importlib.util

import pytest
import yaml
from click.testing import CliRunner

from cosmoemu._errors import ConfigError
from cosmoemu.cli import main
from cosmoemu.data import _sandbox as sandbox_module
from cosmoemu.data import generate, parse_config

CAMB = {
    "output": "unused",
    "backend": "camb",
    "parameters": {"omega_b": [0.02, 0.025], "omega_cdm": [0.1, 0.14], "h": [0.6, 0.75],
                   "tau_reio": [0.03, 0.08], "n_s": [0.92, 1.0], "ln10^{10}A_s": [2.9, 3.2]},
    "design": {"kind": "lhs", "n": 4, "seed": 0},
    "quantities": ["tt", "derived"],
}


def _with(**changes):
    cfg = copy.deepcopy(CAMB)
    for key, value in changes.items():
        if value is None:
            cfg.pop(key)
        else:
            cfg[key] = value
    return cfg


@pytest.mark.parametrize(
    ("cfg", "field", "words"),
    [
        (_with(parameters={**CAMB["parameters"], "Omega_b": [0.1, 0.2]}),
         "parameters.Omega_b", ["did you mean 'omega_b'", "allowed:", "tau_reio"]),
        (_with(quantities=["tt", "cl_ee"]), "quantities", ["cl_ee", "allowed:", "pk_nonlin"]),
        (_with(parameters={**CAMB["parameters"], "h": [0.8, 0.7]}), "parameters.h",
         ["low must be below high", "0.8"]),
        (_with(backend="cmab"), "backend.name", ["did you mean 'camb'", "class", "toy"]),
        (_with(derived=["sigma_8"]), "derived", ["did you mean 'sigma8'", "S8"]),
        (_with(nonlinear="hmcode"), "nonlinear", ["hmcode2016", "hmcode2020_feedback"]),
        (_with(backend={"name": "camb", "settings": {"lens_accuracy": 2}}),
         "backend.settings.lens_accuracy", ["lens_potential_accuracy"]),
        (_with(fixed={"c_min": 3.0}), "nonlinear", ["c_min", "hmcode2016"]),
        (_with(design={"kind": "latin", "n": 4}), "design.kind", ["lhs", "sobol", "ellipsoid"]),
        (_with(parameters={k: v for k, v in CAMB["parameters"].items() if k != "tau_reio"}),
         "parameters", ["'tau_reio'"]),
        (_with(design={"kind": "gaussian", "n": 4, "fiducial": {"h": 0.7}, "sigma": {"h": 1}}),
         "design.fiducial", ["missing", "omega_b"]),
        (_with(chunk_size=0), "chunk_size", [">= 1"]),
        (_with(design={"kind": "lhs", "n": 4, "group": 2, "shared": ["omega_c"]}),
         "design.shared", ["omega_c", "not among the sampled", "omega_cdm"]),
        (_with(design={"kind": "lhs", "n": 4, "group": 2}), "design", ["'shared'"]),
        (_with(outptu="x"), "outptu", ["did you mean 'output'"]),
    ],
)
def test_bad_config_names_field_and_allowed_values(cfg, field, words):
    with pytest.raises(ConfigError) as info:
        parse_config(cfg)
    assert info.value.field == field
    for word in words:
        assert word in str(info.value)


def test_missing_optional_backend_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "classy" else real(name, *a))
    with pytest.raises(ConfigError, match=r"classy.*pip install 'cosmoemu\[class\]'"):
        parse_config(_with(backend="class"))


@pytest.fixture
def no_boltzmann(monkeypatch):
    """Any attempt to start a backend process fails the test."""
    def forbidden(*args, **kwargs):
        raise AssertionError("a backend was started before the config error")

    monkeypatch.setattr(sandbox_module.Sandbox, "__init__", forbidden)


def test_unwritable_output_is_an_error_before_any_run(tmp_path, no_boltzmann):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as info:
        generate(_with(output=str(blocker / "store")), progress=False)
    assert info.value.field == "output" and "cannot write" in str(info.value)


def test_resume_with_a_different_run_is_refused(toy_config, no_boltzmann, monkeypatch):
    cfg = toy_config(design=[{"kind": "lhs", "n": 3, "seed": 1}])
    monkeypatch.setattr("cosmoemu.data._writer.StoreWriter.pending", lambda self, **kw: [])
    generate(cfg, progress=False)  # creates the manifest, computes nothing
    cfg["design"][0]["seed"] = 2
    with pytest.raises(ConfigError, match=r"holds a different run \(design differ"):
        generate(cfg, progress=False)


def test_cli_reports_config_error_with_nonzero_exit(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_with(output=str(tmp_path / "s"), quantities=["TT"])))
    result = CliRunner().invoke(main, ["generate", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert "quantities" in result.output and "did you mean 'tt'" in result.output
    assert not (tmp_path / "s").exists()
