"""Theory from emulators: CMB D_ell spectra and derived quantities for the likelihoods.

A :class:`EmulatorTheory` maps *products* to emulators:

* ``cmb_tt``, ``cmb_te``, ``cmb_ee``: lensed D_ell = ℓ(ℓ+1)C_ℓ/2π in μK², ell = 2, 3, …
  (the emulators predict raw dimensionless C_ell; we multiply by ℓ(ℓ+1)/2π (T_cmb·10⁶)²);
* ``cmb_pp``: raw C_ell^φφ, ell = 2, 3, …;
* ``derived``: an emulator whose modes are names (``sigma8``, ``thetastar`` = 100θ*, ``rdrag``…);
  each mode becomes a scalar product of that name.

Any object with the emulator interface works (``parameters``, ``modes``, ``box``,
``predict(x, policy=...)``), so tests can use stand-ins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["EmulatorTheory", "T_CMB", "CMB_PRODUCTS", "load_theory"]

T_CMB = 2.7255
"""CMB temperature today [K], used to turn dimensionless C_ell into μK²."""

CMB_PRODUCTS = ("cmb_tt", "cmb_te", "cmb_ee", "cmb_pp")
PRODUCT_KEYS = (*CMB_PRODUCTS, "derived")
OMEGA_NU = 0.000644899
"""ω_ν of the shipped ΛCDM emulators: one massive neutrino of 0.06 eV (CAMB's value)."""


class EmulatorTheory(eqx.Module):
    """Products (spectra, derived scalars) from a set of emulators sharing their inputs.

    Args:
        emulators: mapping product key (``cmb_tt``, ``cmb_te``, ``cmb_ee``, ``cmb_pp``,
            ``derived``) → emulator.
        names: mapping product key → the emulator's name (for messages); default the key.
        omega_nu: ω_ν = Ω_ν h² of the emulated cosmology (enters Ω_m); default one 0.06 eV
            neutrino (0.000644899, CAMB's value).

    Raises:
        ValueError: unknown product key, spectrum modes not ell = 2, 3, …, or derived modes not
            names, or emulators with different inputs.
    """

    emulators: dict[str, Any]
    names: dict[str, str] = eqx.field(static=True)
    inputs: tuple[str, ...] = eqx.field(static=True)
    box: tuple[tuple[str, float, float], ...] = eqx.field(static=True)
    scalars: tuple[str, ...] = eqx.field(static=True)
    omega_nu: float = eqx.field(static=True)
    dl_factor: dict[str, np.ndarray]

    def __init__(
        self,
        emulators: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
        omega_nu: float = OMEGA_NU,
    ) -> None:
        names = dict(names or {})
        inputs: tuple[str, ...] | None = None
        box: dict[str, tuple[float, float]] = {}
        dl_factor: dict[str, np.ndarray] = {}
        scalars: tuple[str, ...] = ()
        for key, emu in emulators.items():
            label = names.setdefault(key, key)
            if key not in PRODUCT_KEYS:
                raise ValueError(
                    f"unknown theory product '{key}' (emulator {label}); "
                    f"allowed: {', '.join(PRODUCT_KEYS)}"
                )
            params = tuple(emu.parameters)
            if inputs is None:
                inputs = params
            elif set(params) != set(inputs):
                raise ValueError(
                    f"emulator {label} takes {params}, but the others take {inputs}; "
                    "all emulators of one theory must share their inputs"
                )
            for p in params:
                lo, hi = (float(v) for v in emu.box[p])
                old = box.get(p, (-math.inf, math.inf))
                box[p] = (max(lo, old[0]), min(hi, old[1]))
            modes = np.asarray(emu.modes)
            if key == "derived":
                if modes.dtype.kind not in "US":
                    raise ValueError(f"derived emulator {label} must have named modes")
                scalars = tuple(str(m) for m in modes)
            else:
                ell = modes.astype(np.int64)
                if ell[0] != 2 or np.any(np.diff(ell) != 1):
                    raise ValueError(f"emulator {label}: modes must be ell = 2, 3, ...")
                if key == "cmb_pp":
                    dl_factor[key] = np.ones(len(ell))
                else:
                    dl_factor[key] = ell * (ell + 1.0) / (2 * np.pi) * (T_CMB * 1e6) ** 2
        self.emulators = dict(emulators)
        self.names = names
        self.inputs = inputs or ()
        self.box = tuple((p, *box[p]) for p in self.inputs)
        self.scalars = scalars
        self.omega_nu = float(omega_nu)
        self.dl_factor = dl_factor

    @property
    def provides(self) -> tuple[str, ...]:
        """Names of everything this theory can compute."""
        return tuple(k for k in self.emulators if k != "derived") + self.scalars

    def compute(self, values: Mapping[str, jax.Array], needed: tuple[str, ...]) -> dict:
        """Products in ``needed`` at the inputs in ``values`` (scalars; vmap for batches).

        Inputs must lie inside :attr:`box` (the posterior guarantees it; outside, the emulators'
        ``policy="nan"`` gives NaN).

        Returns:
            dict product → array: spectra shape ``(n_ell,)``, derived scalars shape ``()``.
        """
        out: dict[str, jax.Array] = {}
        want_scalars = [n for n in needed if n in self.scalars]
        for key, emu in self.emulators.items():
            if key == "derived":
                if not want_scalars:
                    continue
            elif key not in needed:
                continue
            x = jnp.stack([jnp.asarray(values[p]) for p in emu.parameters], axis=-1)
            y = emu.predict(x, policy="nan")
            if key == "derived":
                for i, name in enumerate(self.scalars):
                    if name in want_scalars:
                        out[name] = y[..., i]
            else:
                out[key] = y * jnp.asarray(self.dl_factor[key], y.dtype)
        return out


def load_theory(spec: Mapping[str, str]) -> EmulatorTheory:
    """An :class:`EmulatorTheory` from ``{product: shipped emulator name or model path}``."""
    from ..emulator import load_emulator  # lands with the emulator core

    emus = {key: load_emulator(name) for key, name in spec.items()}
    return EmulatorTheory(emus, names=dict(spec))
