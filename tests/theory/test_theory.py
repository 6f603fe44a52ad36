"""The theory: products registered by name, peers; axes checked; the Cosmology it builds."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu._errors import ConfigError
from cosmoemu.inference import Posterior, Uniform, posterior_from_config
from cosmoemu.theory import (
    DEFAULT_SETTINGS,
    EmulatorTheory,
    ProductSpec,
    axes_from_modes,
    get_product,
    product_names,
    register_product,
)


def test_registry_holds_the_products():
    assert {"cmb_tt", "cmb_te", "cmb_ee", "cmb_pp", "derived"} <= set(product_names())
    with pytest.raises(KeyError, match="unknown theory product 'cmb_tx'.*did you mean"):
        get_product("cmb_tx")


def test_cmb_spec_checks_its_ell_axis_and_requests_are_checked(kit):
    standin, derived = kit.standin, kit.derived
    th = EmulatorTheory({"cmb_tt": standin(range(2, 51), "ell"), "derived": derived()})
    assert th.provides == ("cmb_tt", "sigma8", "rdrag")
    np.testing.assert_array_equal(th.axes("cmb_tt")["ell"], np.arange(2, 51))
    th.check_request("cmb_tt", {"ell": (2, 50)})
    with pytest.raises(ValueError, match="needs cmb_tt on ell = 2..2508.*covers 2..50"):
        th.check_request("cmb_tt", {"ell": (2, 2508)})
    with pytest.raises(ValueError, match="modes must be ell = 2, 3"):
        EmulatorTheory({"cmb_tt": standin(range(3, 51), "ell")})
    with pytest.raises(ValueError, match="derived emulator derived must have named modes"):
        EmulatorTheory({"derived": standin(range(3))})
    with pytest.raises(ValueError, match="unknown theory product 'pk_foo'"):
        EmulatorTheory({"pk_foo": standin(range(3))})


def test_a_registered_trace_is_a_peer_of_the_cmb(kit):
    standin, derived, PARAMS, BOX = kit.standin, kit.derived, kit.PARAMS, kit.BOX  # noqa: N806
    """A 'seismic trace' product registered at run time flows into a likelihood like C_ell."""
    name = "trace_for_theory_test"
    if name not in product_names():
        register_product(ProductSpec(name, "a toy trace on time samples, with a x2 transform",
                                     transform=lambda y: 2.0 * y))
    emu = standin(np.linspace(0.0, 1.0, 5), "t", seed=3)
    th = EmulatorTheory({name: emu, "derived": derived()})
    np.testing.assert_allclose(th.axes(name)["t"], np.linspace(0, 1, 5))
    x = {"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.67}
    out = th.compute(x, (name, "rdrag"))
    np.testing.assert_allclose(out[name], 2.0 * emu.base, rtol=1e-6)
    assert float(out["rdrag"]) == pytest.approx(147.1, rel=1e-6)

    class TraceLike(eqx.Module):
        products = property(lambda self: {name: {"t": (0.0, 1.0)}})
        params = property(lambda self: ())
        inputs = property(lambda self: (name,))

        def from_values(self, values):
            return -0.5 * jnp.sum((values[name] - 2.0 * jnp.asarray(emu.base)) ** 2)

    post = Posterior({p: Uniform(*BOX[p]) for p in PARAMS}, {"trace": TraceLike()}, theory=th)
    assert float(post.loglike(jnp.array([0.0224, 0.12, 0.67]))) == pytest.approx(0.0, abs=1e-9)

    class TooLong(TraceLike):
        products = property(lambda self: {name: {"t": (0.0, 2.0)}})

    with pytest.raises(ConfigError, match=r"likelihood\.trace.*needs trace_for_theory_test on "
                                          r"t = 0..2"):
        Posterior({p: Uniform(*BOX[p]) for p in PARAMS}, {"trace": TooLong()}, theory=th)


def test_settings_give_the_cosmology(kit, x64):
    derived = kit.derived
    th = EmulatorTheory({"derived": derived()})
    assert th.settings == DEFAULT_SETTINGS
    c = th.cosmology({"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.67})
    assert float(c.omega_nu) == DEFAULT_SETTINGS["omega_nu"]
    th2 = EmulatorTheory({"derived": derived()}, settings={"m_nu": 0.6, "w0": -0.9})
    c2 = th2.cosmology({"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.67})
    assert float(c2.m_nu) == pytest.approx(0.6, rel=1e-9) and float(c2.w0) == -0.9
    with pytest.raises(ValueError, match="unknown cosmology setting 'mnu'"):
        EmulatorTheory({"derived": derived()}, settings={"mnu": 0.1})


def test_config_settings_and_clashes(kit):
    derived, PARAMS, BOX = kit.derived, kit.PARAMS, kit.BOX  # noqa: N806
    cfg = {
        "theory": {"cosmology": {"omega_nu": 0.0064}},
        "likelihood": {"desi": {"type": "desi_dr2_bao"}},
        "params": {**{p: {"prior": {"min": BOX[p][0], "max": BOX[p][1]}} for p in PARAMS},
                   "Omega_m": {"derived": True}, "rdrag": {"derived": True}},
    }
    post = posterior_from_config(cfg, emulators={"derived": derived()})
    assert post.theory.settings["omega_nu"] == 0.0064
    bad = {**cfg, "params": {**cfg["params"], "omega_nu": 0.001}}
    with pytest.raises(ConfigError, match=r"params\.omega_nu.*fixed by the theory"):
        posterior_from_config(bad, emulators={"derived": derived()})
    bad = {**cfg, "theory": {"cosmology": {"omega_nuu": 0.001}}}
    with pytest.raises(ConfigError, match=r"theory\.cosmology\.omega_nuu.*did you mean"):
        posterior_from_config(bad, emulators={"derived": derived()})


def test_bao_only_posterior_samples_w0_wa_without_a_theory(kit):
    PARAMS, BOX = kit.PARAMS, kit.BOX  # noqa: N806
    cfg = {
        "likelihood": {"desi": {"type": "desi_dr2_bao"}},
        "params": {**{p: {"prior": {"min": BOX[p][0], "max": BOX[p][1]}} for p in PARAMS},
                   "w0": {"prior": {"min": -2.0, "max": 0.0}},
                   "wa": {"prior": {"min": -2.0, "max": 2.0}},
                   "rdrag": {"prior": {"min": 130.0, "max": 160.0}}},
    }
    post = posterior_from_config(cfg)
    x = jnp.array([0.0224, 0.12, 0.67, -1.0, 0.0, 147.0])
    x2 = x.at[3].set(-0.7)
    assert post.theory is None
    assert float(post.loglike(x)) != pytest.approx(float(post.loglike(x2)), abs=1e-3)
    assert bool(jnp.isfinite(jax.grad(post.logdensity)(post.unconstrain(x))).all())


def test_generic_products_read_an_emulators_named_axes():
    """A (z, k) emulator's product axes are its own named axes, not only the last one."""
    from cosmoemu.emulator._emulator import make_emulator
    from cosmoemu.emulator._network import init_mlp
    from cosmoemu.emulator._transforms import Affine

    z, k = (0.0, 1.0, 2.0), tuple(np.geomspace(1e-3, 1.0, 5).tolist())
    net = init_mlp(jax.random.key(0), (2, 4, len(z) * len(k)))
    emu = make_emulator(net, Affine(np.zeros(2), np.ones(2)), [], ("a", "b"),
                        {"a": (0, 1), "b": (0, 1)}, None, "dense", axes={"z": z, "k": k})
    axes = axes_from_modes(emu, "toy")
    assert list(axes) == ["z", "k"]
    np.testing.assert_array_equal(axes["z"], z)
    np.testing.assert_array_equal(axes["k"], k)
