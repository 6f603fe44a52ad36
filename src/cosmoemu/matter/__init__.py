"""Matter power spectra P(k, z): linear and HMcode-2016 (with baryons) emulators, σ8 and S8.

``cosmoemu.matter_power(params, k, z)`` [Mpc³, k in 1/Mpc] for ΛCDM (``model="lcdm"``) and
w0waCDM (``model="w0wacdm"``, CAMB's PPF dark energy), trained on CAMB with one massive
neutrino of 0.06 eV, N_eff = 3.046, total matter (delta_tot). See ``docs/matter_power.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ..cosmology._constants import OMEGA_NU_DEFAULT
from ._model import K_PIVOT, MODELS, PARAM_ALIASES, MatterPower, load_matter_power
from ._spline import UniformSpline

__all__ = [
    "K_PIVOT",
    "MODELS",
    "PARAM_ALIASES",
    "MatterPower",
    "UniformSpline",
    "load_matter_power",
    "matter_power",
    "sigma8",
    "S8",
    "ln10As_from_S8",
]

_REF_LN10AS = 3.0


def matter_power(params: Mapping[str, ArrayLike], k: ArrayLike, z: ArrayLike, *,
                 nonlinear: bool = True, model: str | MatterPower = "lcdm",
                 policy: str = "raise") -> Array:
    """P(k, z) [Mpc³] of shape ``(..., len(z), len(k))``; jit, vmap and grad work throughout.

    Args:
        params: name -> scalar or array (a batch of shape ``(...)``): omega_b, omega_cdm, h
            (or H0), n_s, ln10^{10}A_s (or A_s, logA), and for the non-linear spectrum c_min
            and eta_0 (HMcode-2016's A_baryon and eta_baryon); for ``model="w0wacdm"`` also w0
            and wa. Other names are ignored.
        k: wavenumbers in 1/Mpc (not h/Mpc), within [1e-4, 10].
        z: redshifts within [0, 4].
        nonlinear: HMcode-2016 (default) or linear.
        model: ``"lcdm"``, ``"w0wacdm"`` or a :class:`MatterPower`.
        policy: outside the training box: ``"raise"``, ``"warn"``, ``"clip"``, ``"nan"``.

    Example:
        >>> p = {"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.67, "n_s": 0.965,
        ...      "ln10^{10}A_s": 3.05, "c_min": 3.13, "eta_0": 0.603}
        >>> pk = cosmoemu.matter_power(p, k=np.geomspace(1e-3, 5, 300), z=[0.0, 0.5, 1.0])
    """
    return load_matter_power(model)(params, k, z, nonlinear=nonlinear, policy=policy)


def sigma8(params: Mapping[str, ArrayLike], *, model: str | MatterPower = "lcdm",
           policy: str = "raise") -> Array:
    """σ8 (z = 0, total matter) of the linear emulator; needs the linear parameters only."""
    return load_matter_power(model).sigma8(params, policy=policy)


def _omega_m(params: Mapping[str, ArrayLike], emu: MatterPower) -> Array:
    vals = emu._values(params, nonlinear=False)
    omega_nu = params.get("omega_nu", OMEGA_NU_DEFAULT)
    return (vals["omega_b"] + vals["omega_cdm"] + omega_nu) / vals["h"] ** 2


def S8(params: Mapping[str, ArrayLike], *, model: str | MatterPower = "lcdm",  # noqa: N802
       policy: str = "raise") -> Array:
    """S8 = σ8 (Ω_m / 0.3)^½, Ω_m including the 0.06 eV neutrino (ω_ν = 0.000645)."""
    emu = load_matter_power(model)
    return emu.sigma8(params, policy=policy) * jnp.sqrt(_omega_m(params, emu) / 0.3)


def ln10As_from_S8(params: Mapping[str, ArrayLike], s8: ArrayLike, *,  # noqa: N802
                   model: str | MatterPower = "lcdm", policy: str = "raise") -> Array:
    """ln(10¹⁰ A_s) giving the target ``s8`` = S8 with the other parameters of ``params``.

    σ8 ∝ A_s^½ exactly in linear theory, so ``ln10As = ref + 2 ln(S8 / S8(ref))`` is exact for
    the emulator (one σ8 evaluation, differentiable): a likelihood can sample S8 (as KiDS does)
    and pass A_s on. ``params`` needs omega_b, omega_cdm, h, n_s (any A_s in it is ignored).
    """
    emu = load_matter_power(model)
    base = {name: value for name, value in params.items()
            if name not in ("ln10^{10}A_s", "A_s", "logA")}
    ref_value = jnp.zeros_like(jnp.asarray(params["n_s"], jnp.result_type(params["n_s"], float)))
    base["ln10^{10}A_s"] = ref_value + _REF_LN10AS
    s8_ref = S8(base, model=emu, policy=policy)
    return _REF_LN10AS + 2.0 * jnp.log(jnp.asarray(s8) / s8_ref)
