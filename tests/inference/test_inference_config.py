"""Posterior from a YAML config; bad configs give errors naming the field."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from cosmoemu._errors import ConfigError
from cosmoemu.inference import load_run_config, posterior_from_config
from cosmoemu.inference._demo import DEMO_CONFIG

EXAMPLE = Path(__file__).parents[2] / "examples" / "planck_lite_lcdm.yaml"


def test_example_config_is_the_demo_config():
    assert yaml.safe_load(EXAMPLE.read_text()) == DEMO_CONFIG


def test_demo_tau_priors():
    """The default τ prior is Planck 2018's lowE-alone result (VI, Sect. 3.3); the TT,TE,EE+lowE
    posterior stays available as `--tau-prior planck2018`."""
    from click.testing import CliRunner

    from cosmoemu.cli import main
    from cosmoemu.inference._demo import DEMO_NOTES, TAU_PRIORS, demo_config

    assert DEMO_CONFIG == demo_config()
    assert demo_config("lowE")["params"]["tau_reio"]["prior"] == {
        "dist": "norm", "loc": 0.0506, "scale": 0.0086}
    old = demo_config("planck2018")
    assert old["params"]["tau_reio"]["prior"] == {"dist": "norm", "loc": 0.0544, "scale": 0.0073}
    assert {k: v for k, v in old["params"].items() if k != "tau_reio"} == {
        k: v for k, v in DEMO_CONFIG["params"].items() if k != "tau_reio"}
    assert set(DEMO_NOTES) == set(TAU_PRIORS)
    with pytest.raises(ValueError, match="lowE, planck2018"):
        demo_config("lowe")
    res = CliRunner().invoke(main, ["demo", "--tau-prior", "wmap"])
    assert res.exit_code == 2 and "lowE" in res.output


def test_demo_config_with_standin_emulators(cmb_standins, fid):
    run = load_run_config(DEMO_CONFIG, emulators=cmb_standins)
    post = run.posterior
    assert post.sampled == ("omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s",
                            "A_planck")
    assert post.derived == ("H0", "Omega_m", "sigma8", "S8", "thetastar")
    assert run.nuts.num_chains == 4 and run.nuts.target_ess == 1000 and run.seed == 0
    assert run.reference["h"] == pytest.approx(0.6736)
    with jax.enable_x64(True):
        post64 = posterior_from_config(DEMO_CONFIG, emulators=cmb_standins)
        x = jnp.asarray(np.append(fid, 1.0))
        assert float(post64.loglike(x)) == pytest.approx(-293.95586501795134, abs=1e-6)


def _bad(cfg, standins, match):
    with pytest.raises(ConfigError, match=match):
        load_run_config(cfg, emulators=standins)


def test_config_errors_name_the_field(cmb_standins, tmp_path):
    base = copy.deepcopy(DEMO_CONFIG)
    del base["theory"]  # the stand-ins provide it
    cfg = copy.deepcopy(base)
    cfg["params"]["omega_bb"] = cfg["params"].pop("omega_b")
    _bad(cfg, cmb_standins, r"params\.omega_bb.*did you mean 'omega_b'")
    cfg = copy.deepcopy(base)
    cfg["likelihood"] = {"planck_2018_lit": {}}
    _bad(cfg, cmb_standins, r"likelihood\.planck_2018_lit.*did you mean 'planck_2018_lite'")
    cfg = copy.deepcopy(base)
    cfg["params"]["h"]["prior"] = {"min": 0.5, "max": 0.85}
    _bad(cfg, cmb_standins, r"params\.h\.prior\.min.*outside the emulator box \[0\.55, 0\.85\]")
    cfg = copy.deepcopy(base)
    cfg["likelihood"]["planck_2018_lite"]["data_file"] = str(tmp_path / "none.npz")
    _bad(cfg, cmb_standins, r"likelihood\.planck_2018_lite\.data_file.*none\.npz.*missing")
    cfg = copy.deepcopy(base)
    cfg["likelihood"]["planck_2018_lite"]["spectra"] = "TE"
    _bad(cfg, cmb_standins, r"likelihood\.planck_2018_lite\.spectra.*'TE'.*TTTEEE, TT")
    cfg = copy.deepcopy(base)
    cfg["sampler"]["nuts"]["chain"] = 4
    _bad(cfg, cmb_standins, r"sampler\.nuts\.chain.*did you mean 'chains'")
    cfg = copy.deepcopy(base)
    cfg["sampler"]["nuts"]["init"] = "lbfgs"
    _bad(cfg, cmb_standins, r"sampler\.nuts\.init.*allowed values: laplace, window")
    cfg = copy.deepcopy(base)
    cfg["params"]["tau_reio"]["ref"] = 0.5
    _bad(cfg, cmb_standins, r"params\.tau_reio\.ref.*outside the prior")
    cfg = copy.deepcopy(base)
    cfg["params"]["H0"] = {"derived": False}
    _bad(cfg, cmb_standins, r"params\.H0.*needs a prior")
    cfg = copy.deepcopy(base)  # a misspelt `prior:` lists every allowed key
    cfg["params"]["n_s"] = {"priot": {"min": 0.9, "max": 1.0}}
    _bad(cfg, cmb_standins, r"params\.n_s\.priot.*did you mean 'prior'.*"
                            r"prior, ref, latex, proposal, value, derived, shape")
    cfg = copy.deepcopy(base)  # a missing nuisance parameter: what it is and its usual prior
    del cfg["params"]["A_planck"]
    _bad(cfg, cmb_standins, r"planck_2018_lite.*'A_planck' \(the Planck absolute calibration.*"
                            r"nuisance.*A_planck: \{prior: \{dist: norm, loc: 1\.0, "
                            r"scale: 0\.0025\}")
    cfg = copy.deepcopy(base)
    cfg["outptu"] = "x"
    _bad(cfg, cmb_standins, r"outptu.*did you mean 'output'")
    cfg = copy.deepcopy(base)
    cfg["theory"] = {"emulators": {"cmb_tt": "no_such_emulator_xyz"}}
    with pytest.raises(ConfigError, match=r"theory\.emulators\.cmb_tt.*no_such_emulator_xyz"):
        load_run_config(cfg)
    cfg["theory"] = {"emulators": {"cmb_bb": "lcdm_cmb_tt"}}
    with pytest.raises(ConfigError, match=r"theory\.emulators\.cmb_bb.*allowed: cmb_tt"):
        load_run_config(cfg)


def test_fixed_and_gaussian_config(tmp_path):
    cfg = {
        "likelihood": {"g": {"type": "gaussian", "params": ["a", "b"], "mean": [0.0, 1.0],
                             "cov": [1.0, 4.0]}},
        "params": {"a": {"prior": {"min": -5, "max": 5}, "latex": r"\alpha"}, "b": 1.5,
                   "c": {"value": 2.0}},
    }
    with pytest.raises(ConfigError, match=r"params\.c.*unknown parameter 'c'.*allowed: a, b"):
        posterior_from_config(cfg)
    del cfg["params"]["c"]
    cfg["params"]["h"] = 0.7  # a known name, but nothing here uses it
    with pytest.raises(ConfigError, match=r"params\.h.*no likelihood, emulator or derived"):
        posterior_from_config(cfg)
    del cfg["params"]["h"]
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(cfg))
    post = posterior_from_config(path)
    assert post.sampled == ("a",) and dict(post.fixed) == {"b": 1.5}
    assert post.label("a") == r"\alpha"
    want = -math.log(10) - 0.5 * math.log(2 * math.pi * 4) - 0.5 * 0.25 / 4 \
        - 0.5 * math.log(2 * math.pi)
    assert float(post.logpost(jnp.array([0.0]))) == pytest.approx(want, rel=1e-6)


def test_planck_plus_desi_bao_config(cmb_standins, fid):
    """BAO reads r_drag from the derived emulator and ω_b, ω_cdm, h from the parameters."""
    from cosmoemu.likelihoods import DesiBAO, PlanckLite

    cfg = copy.deepcopy(DEMO_CONFIG)
    del cfg["theory"]
    cfg["likelihood"]["desi"] = {"type": "desi_dr2_bao"}
    cfg["params"]["rdrag"] = {"derived": True}
    with jax.enable_x64(True):
        post = posterior_from_config(cfg, emulators=cmb_standins)
        x = jnp.asarray(np.append(fid, 1.0))
        lls = post.loglikes(x)
        rd = float(post.derived_values(x)[post.derived.index("rdrag")])
        assert rd == pytest.approx(147.1, rel=1e-12)  # the stand-in's value at fid
        assert float(lls[1]) == pytest.approx(float(DesiBAO()(*fid[:3], rd)), rel=1e-12)
        planck = PlanckLite("TTTEEE", low_ell_bins=True)
        assert float(lls[0]) == pytest.approx(-293.95586501795134, abs=1e-6)
        assert planck.inputs[-1] == "A_planck"
    cfg["likelihood"]["desi"]["data_dir"] = "/nonexistent"
    with pytest.raises(ConfigError, match=r"likelihood\.desi\.data_dir.*missing"):
        posterior_from_config(cfg, emulators=cmb_standins)
