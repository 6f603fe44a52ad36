"""The likelihood registry: configs resolve names through it; factories name bad fields."""

from __future__ import annotations

import pytest

from cosmoemu._errors import ConfigError
from cosmoemu.likelihoods import (
    DesiBAO,
    GaussianLikelihood,
    Likelihood,
    PlanckLite,
    likelihood_from_config,
    likelihood_names,
    register_likelihood,
)


def test_builtin_names_resolve_to_their_classes():
    assert {"planck_2018_lite", "desi_dr2_bao", "gaussian"} <= set(likelihood_names())
    planck = likelihood_from_config("planck_2018_lite", {"spectra": "TT"})
    assert isinstance(planck, PlanckLite) and planck.spectra == "TT"
    assert planck.products == {"cmb_tt": {"ell": (2, 2508)}} and planck.params == ("A_planck",)
    bao = likelihood_from_config("desi", {"type": "desi_dr2_bao"})
    assert isinstance(bao, DesiBAO) and isinstance(bao, Likelihood)
    g = likelihood_from_config("g", {"type": "gaussian", "params": ["a"], "mean": [0.0],
                                     "cov": [1.0]})
    assert isinstance(g, GaussianLikelihood) and g.products == {} and g.params == ("a",)


def test_errors_name_the_field():
    with pytest.raises(ConfigError, match=r"likelihood\.planck_2018_lit\b.*did you mean "
                                          r"'planck_2018_lite'"):
        likelihood_from_config("planck_2018_lit", {})
    with pytest.raises(ConfigError, match=r"likelihood\.x\.type.*unknown likelihood 'baox'"):
        likelihood_from_config("x", {"type": "baox"})
    with pytest.raises(ConfigError, match=r"likelihood\.planck_2018_lite\.spectra.*'TE'"):
        likelihood_from_config("planck_2018_lite", {"spectra": "TE"})
    with pytest.raises(ConfigError, match=r"likelihood\.planck_2018_lite\.lowell.*did you mean"):
        likelihood_from_config("planck_2018_lite", {"lowell": True})
    with pytest.raises(ConfigError, match=r"likelihood\.g\.mean.*required"):
        likelihood_from_config("g", {"type": "gaussian", "params": ["a"], "cov": [1.0]})
    with pytest.raises(ConfigError, match=r"likelihood\.g.*not positive definite"):
        likelihood_from_config("g", {"type": "gaussian", "params": ["a"], "mean": [0.0],
                                     "cov": [-1.0]})
    with pytest.raises(ConfigError, match=r"likelihood\.p\.type.*cannot import"):
        likelihood_from_config("p", {"type": "no_such_module_xyz:factory"})


def test_register_a_new_likelihood():
    made = []

    def factory(options, where):
        made.append((dict(options), where))
        return GaussianLikelihood(["b"], [options.get("mu", 0.0)], [1.0])

    register_likelihood("toy_for_registry_test", factory)
    with pytest.raises(ValueError, match="already registered"):
        register_likelihood("toy_for_registry_test", factory)
    lik = likelihood_from_config("t", {"type": "toy_for_registry_test", "mu": 2.0})
    assert made == [({"mu": 2.0}, "likelihood.t")] and float(lik.mean[0]) == 2.0
