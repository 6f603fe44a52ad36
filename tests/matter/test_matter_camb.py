"""The shipped P(k) emulators against CAMB spectra they never saw (fixtures in this folder).

The fixtures are `cosmoemu generate` stores (CAMB, the training sets' settings) of cosmologies
uniform in the box, on a (z, k) grid off the emulators' nodes; the bounds asserted are the
accuracy targets of docs/matter_power.md (the 99th percentile over the held-out test sets).
"""

from __future__ import annotations

import logging
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cosmoemu
from cosmoemu.data import open_store
from cosmoemu.matter import MODELS, load_matter_power

FIXTURES = Path(__file__).parent / "fixtures"
STORES = {"lcdm": "pk_lcdm_camb_4rows", "w0wacdm": "pk_w0wacdm_camb_3rows"}
# (linear, non-linear, sigma8) bounds on max |ΔP/P| over k in [1e-3, 5] /Mpc, z <= 3
TARGETS = {"lcdm": (1e-3, 2e-3, 5e-4), "w0wacdm": (2e-3, 3e-3, 5e-4)}
SHIPPED = [m for m in MODELS if all(n in cosmoemu.list_emulators() for n in MODELS[m])]


def _rows(model):
    logging.getLogger("cosmoemu").setLevel(logging.ERROR)
    ds = open_store(FIXTURES / STORES[model])
    params = {n: ds.params()[:, i] for i, n in enumerate(ds.param_names)}
    (_, z, _), (_, k, _) = ds.axes("pk_lin")
    derived = dict(zip([str(m) for m in ds.modes("derived")], ds.load("derived").T,
                       strict=True))
    return params, z, k, ds.load("pk_lin"), ds.load("pk_nonlin"), derived


def test_lcdm_is_shipped_and_the_others_are_named_when_missing():
    assert "lcdm" in SHIPPED
    for model in set(MODELS) - set(SHIPPED):
        with pytest.raises(ValueError, match=f"{model} P\\(k\\) emulators .* not shipped"):
            load_matter_power(model)


@pytest.mark.parametrize("model", SHIPPED)
def test_power_and_sigma8_match_camb(model):
    params, z, k, lin, nonlin, derived = _rows(model)
    mp = load_matter_power(model)
    sel = np.ix_(z <= 3.0, (k >= 1e-3) & (k <= 5.0))
    lin_t, nl_t, s8_t = TARGETS[model]
    for nonlinear, truth, bound in ((False, lin, lin_t), (True, nonlin, nl_t)):
        got = np.asarray(mp(params, k, z, nonlinear=nonlinear))
        err = np.abs(got / truth - 1)
        worst = [float(e[sel].max()) for e in err]
        assert max(worst) < bound, f"{model} nonlinear={nonlinear}: max |dP/P| {worst}"
    s8 = np.asarray(mp.sigma8(params))
    np.testing.assert_allclose(s8, derived["sigma8"], rtol=s8_t)
    s8_big = np.asarray(cosmoemu.S8(params, model=model))
    np.testing.assert_allclose(s8_big, derived["S8"], rtol=s8_t)
    # S8 -> A_s: CAMB's S8 gives back CAMB's A_s to the sigma8 accuracy (sigma8 ∝ A_s^1/2)
    ln_as = np.asarray(cosmoemu.ln10As_from_S8(params, derived["S8"], model=model))
    np.testing.assert_allclose(ln_as, params["ln10^{10}A_s"], atol=2 * s8_t)


@pytest.mark.parametrize("model", SHIPPED)
def test_gradients_match_finite_differences(model):
    params, z, k, *_ = _rows(model)
    kq, zq = k[::6], z[:3]
    with jax.enable_x64(True):
        p0 = {n: jnp.asarray(v[0], jnp.float64) for n, v in params.items()}
        def lnp(p):
            return jnp.log(load_matter_power(model)(p, kq, zq))

        jac = jax.jacfwd(lnp)(p0)
        for name in ("omega_cdm", "h", "n_s", "c_min"):
            step = 1e-4 * (abs(float(p0[name])) + 1e-3)
            up, dn = dict(p0), dict(p0)
            up[name], dn[name] = p0[name] + step, p0[name] - step
            fd = (lnp(up) - lnp(dn)) / (2 * step)
            np.testing.assert_allclose(jac[name], fd, rtol=2e-3, atol=2e-3 * float(
                jnp.max(jnp.abs(fd))), err_msg=name)
