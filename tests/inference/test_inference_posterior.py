"""Posterior assembly: densities, theory wiring, derived parameters, the emulator box, no
retracing of the jitted functions."""

from __future__ import annotations

import contextlib
import logging
import math

import camb
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu._errors import ConfigError
from cosmoemu.inference import EmulatorTheory, LogUniform, MvNormal, Normal, Posterior, Uniform
from cosmoemu.likelihoods import GaussianLikelihood, PlanckLite

REF_TTTEEE_LOWELL = -293.95586501795134


def planck_posterior(emus, derived=("H0", "Omega_m", "sigma8", "S8", "thetastar")):
    priors = {p: Uniform(*emus["cmb_tt"].box[p]) for p in emus["cmb_tt"].parameters}
    priors["tau_reio"] = Normal(0.0544, 0.0073)
    priors["A_planck"] = Normal(1.0, 0.0025)
    return Posterior(priors, {"planck": PlanckLite("TTTEEE", low_ell_bins=True)},
                     theory=EmulatorTheory(emus), derived=list(derived))


def test_planck_through_theory_reproduces_reference(cmb_standins, fid):
    """Emulator C_ell → D_ell [μK²] (T_cmb = 2.7255 K) → plik_lite: the reference value."""
    with jax.enable_x64(True):
        post = planck_posterior(cmb_standins)
        x = jnp.asarray(np.append(fid, 1.0))
        assert float(post.loglike(x)) == pytest.approx(REF_TTTEEE_LOWELL, abs=1e-6)
        # priors: uniform boxes, tau truncated to [0.02, 0.12] and renormalised, A Gaussian
        want = -sum(math.log(hi - lo) for p, (lo, hi) in cmb_standins["cmb_tt"].box.items()
                    if p != "tau_reio")
        from scipy import stats
        want += stats.truncnorm((0.02 - 0.0544) / 0.0073, (0.12 - 0.0544) / 0.0073,
                                loc=0.0544, scale=0.0073).logpdf(fid[3])
        want += stats.norm(1.0, 0.0025).logpdf(1.0)
        assert float(post.logprior(x)) == pytest.approx(want, rel=1e-10)
        assert float(post.logpost(x)) == pytest.approx(want + REF_TTTEEE_LOWELL, rel=1e-12)


def test_derived_parameters(cmb_standins, fid):
    with jax.enable_x64(True):
        post = planck_posterior(cmb_standins)
        x = jnp.asarray(np.append(fid, 1.0))
        d = dict(zip(post.derived, np.asarray(post.derived_values(x)), strict=True))
        ob, oc, h = fid[0], fid[1], fid[2]
        pars = camb.CAMBparams()
        pars.set_cosmology(H0=100 * h, ombh2=ob, omch2=oc, mnu=0.06, nnu=3.046)
        om = pars.omegam  # CAMB's Ω_m, massive neutrino included
        assert d["H0"] == pytest.approx(100 * h, rel=1e-12)
        assert d["Omega_m"] == pytest.approx(om, rel=1e-6)
        assert d["sigma8"] == pytest.approx(0.81, rel=1e-12)  # stand-in value at its fiducial point
        assert d["S8"] == pytest.approx(0.81 * math.sqrt(om / 0.3), rel=1e-6)
        assert d["thetastar"] == pytest.approx(1.0411, rel=1e-12)


def test_outside_the_box_is_minus_inf_with_finite_gradient(cmb_standins, fid):
    post = planck_posterior(cmb_standins)
    x = jnp.asarray(np.append(fid, 1.0), jnp.float32)
    out = x.at[2].set(0.9)  # h above the box [0.55, 0.85]
    assert float(post.loglike(out)) == -math.inf
    assert float(post.logpost(out)) == -math.inf
    g = jax.grad(post.logpost)(out)
    assert not bool(jnp.any(jnp.isnan(g)))
    assert math.isfinite(float(post.loglike(x)))


def test_gaussian_prior_on_emulator_input_is_cut_at_the_box(cmb_standins):
    post = planck_posterior(cmb_standins)
    tau = post.priors[post.sampled.index("tau_reio")]
    assert tau.support == (0.02, 0.12)
    a = post.priors[post.sampled.index("A_planck")]
    assert a.support == (-math.inf, math.inf)


def test_bad_inputs_name_the_field(cmb_standins):
    th = EmulatorTheory(cmb_standins)
    lik = {"planck": PlanckLite("TT")}
    good = {p: Uniform(*cmb_standins["cmb_tt"].box[p]) for p in cmb_standins["cmb_tt"].parameters}
    good["A_planck"] = Normal(1.0, 0.0025)
    with pytest.raises(ConfigError, match=r"params\.omega_b\.prior\.min.*0\.01.*emulator box"):
        Posterior({**good, "omega_b": Uniform(0.01, 0.025)}, lik, theory=th)
    with pytest.raises(ConfigError, match=r"params\.Omega_b.*did you mean 'omega_b'"):
        Posterior({**good, "Omega_b": Uniform(0, 1)}, lik, theory=th)
    with pytest.raises(ConfigError, match=r"params\.h.*must be sampled or fixed"):
        Posterior({k: v for k, v in good.items() if k != "h"}, lik, theory=th)
    with pytest.raises(ConfigError, match=r"params\.h.*fixed value 0\.9.*outside the emulator"):
        Posterior({k: v for k, v in good.items() if k != "h"}, lik, theory=th, fixed={"h": 0.9})
    with pytest.raises(ConfigError, match=r"params\.sigma_8.*unknown parameter.*'sigma8'"):
        Posterior(good, lik, theory=th, derived=["sigma_8"])
    with pytest.raises(ConfigError, match=r"likelihood\.planck.*A_planck"):
        Posterior({k: v for k, v in good.items() if k != "A_planck"}, lik, theory=th)


def test_gaussian_only_posterior_needs_no_theory():
    lik = GaussianLikelihood(["h"], [0.7], [0.01**2])
    post = Posterior({"h": Uniform(0.5, 0.9)}, {"g": lik}, derived=["H0"])
    assert post.theory is None
    assert float(post.derived_values(jnp.array([0.7]))[0]) == pytest.approx(70.0)
    assert float(post.logpost(jnp.array([0.7]))) == pytest.approx(
        -math.log(0.4) - 0.5 * math.log(2 * math.pi * 1e-4), rel=1e-5)
    with pytest.raises(ConfigError, match=r"params\.sigma8.*unknown parameter"):
        Posterior({"h": Uniform(0.5, 0.9)}, {"g": lik}, derived=["sigma8"])


def test_prior_kinds_on_emulator_inputs_are_checked_against_the_box(cmb_standins):
    th = EmulatorTheory(cmb_standins)
    lik = {"planck": PlanckLite("TT")}
    good = {p: Uniform(*cmb_standins["cmb_tt"].box[p]) for p in cmb_standins["cmb_tt"].parameters}
    good["A_planck"] = Normal(1.0, 0.0025)
    post = Posterior({**good, "omega_b": LogUniform(0.02, 0.025)}, lik, theory=th)
    assert post.priors[post.sampled.index("omega_b")] == LogUniform(0.02, 0.025)
    with pytest.raises(ConfigError, match=r"params\.omega_b\.prior\.max.*0\.03.*emulator box"):
        Posterior({**good, "omega_b": LogUniform(0.02, 0.03)}, lik, theory=th)
    # a half-open Gaussian is cut at the box and renormalised there
    post = Posterior({**good, "h": Normal(0.7, 0.1, lo=0.6)}, lik, theory=th)
    assert post.priors[post.sampled.index("h")] == Normal(0.7, 0.1, 0.6, 0.85)


class _CompileCounter(logging.Handler):
    """Counts JAX's tracing and compilation messages (``jax.log_compiles``)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if msg.startswith(("Compiling", "Finished tracing")):
            self.messages.append(msg)


@contextlib.contextmanager
def count_compiles():
    counter = _CompileCounter()
    logger = logging.getLogger("jax")
    logger.addHandler(counter)
    try:
        with jax.log_compiles(True):
            yield counter
    finally:
        logger.removeHandler(counter)


def retrace_posterior() -> Posterior:
    lik = GaussianLikelihood(["h", "dz_1", "dz_2", "s"], [0.7, 0.0, 0.0, 0.1],
                             [0.01**2, 1.0, 1.0, 1.0])
    return Posterior({"h": Uniform(0.5, 0.9), "dz": MvNormal([0.0, 0.1], [[1.0, 0.3], [0.3, 2.0]]),
                      "s": LogUniform(1e-3, 1.0)}, {"g": lik}, derived=["H0"])


@eqx.filter_jit
def _grad_logdensity(post: Posterior, u: jax.Array) -> jax.Array:
    return jax.grad(post.logdensity)(u)


def test_jitted_functions_do_not_retrace():
    """Called again with the same shapes and dtypes (other values, other soft walls, a rebuilt
    posterior), the posterior's jitted functions neither trace nor compile again."""
    post = retrace_posterior()
    u = [jnp.asarray([0.1, 0.2, -0.3, 0.4]), jnp.asarray([-0.5, 1.0, 0.3, -1.2])]
    x = [post.constrain(v) for v in u]
    calls = {
        "logdensity": (lambda p, i: p.logdensity(u[i])),
        "logpost": (lambda p, i: p.logpost(x[i])),
        "loglike": (lambda p, i: p.loglike(x[i])),
        "logprior": (lambda p, i: p.logprior(x[i])),
        "derived_values": (lambda p, i: p.derived_values(x[i])),
        "constrain": (lambda p, i: p.constrain(u[i])),
        "unconstrain": (lambda p, i: p.unconstrain(x[i])),
        "grad logdensity": (lambda p, i: _grad_logdensity(p, u[i])),
    }
    softer = post.with_softness(0.5 * np.asarray(post.softness))
    rebuilt = retrace_posterior()
    for name, call in calls.items():
        if name != "constrain":  # constrain already ran above
            with count_compiles() as first:
                jax.block_until_ready(call(post, 0))
            assert first.messages, name  # the counter sees the first trace
        for again in (post, softer, rebuilt):
            with count_compiles() as second:
                jax.block_until_ready(call(again, 1))
            assert not second.messages, (name, second.messages)
