"""Theory from emulators: named products (spectra, scalars, …) and the Cosmology they assume.

A :class:`EmulatorTheory` maps product names to emulators. What each product means (its axes,
checks and output transform) comes from the product registry (:mod:`._products`), so the theory
itself knows no product by name. It also holds the fixed cosmology settings its emulators were
trained with (ω_ν, N_eff, w0, wa, T_CMB) and builds the :class:`~cosmoemu.cosmology.Cosmology`
every likelihood and derived parameter reads.

Any object with the emulator interface works (``parameters``, ``modes``, ``box``,
``predict(x, policy=...)``), so tests can use stand-ins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..cosmology import Cosmology
from ..cosmology._constants import N_EFF, OMEGA_NU_DEFAULT, T_CMB
from ._products import Axes, get_product

__all__ = ["EmulatorTheory", "load_theory", "DEFAULT_SETTINGS", "SETTING_NAMES"]

DEFAULT_SETTINGS: dict[str, float] = {
    "omega_nu": OMEGA_NU_DEFAULT, "N_eff": N_EFF, "w0": -1.0, "wa": 0.0, "T_CMB": T_CMB,
}
"""Fixed cosmology of the shipped emulators: one 0.06 eV neutrino, N_eff = 3.046, Λ, 2.7255 K."""
SETTING_NAMES = (*DEFAULT_SETTINGS, "m_nu", "num_massive_nu")
"""Names a theory's fixed cosmology settings may use."""


def _check_settings(settings: Mapping[str, Any], where: str) -> dict[str, float]:
    out = {}
    for key, value in settings.items():
        if key not in SETTING_NAMES:
            from .._errors import unknown_name_message

            raise ValueError(f"{where}: " + unknown_name_message("cosmology setting", key,
                                                                 SETTING_NAMES))
        out[str(key)] = float(value)
    if "m_nu" in out and "omega_nu" in out:
        raise ValueError(f"{where}: give omega_nu or m_nu, not both")
    return out


class EmulatorTheory(eqx.Module):
    """Products (spectra, scalars, …) from a set of emulators sharing their inputs.

    Args:
        emulators: product name (a registered product: ``cmb_tt``, ``cmb_te``, ``cmb_ee``,
            ``cmb_pp``, ``derived`` …) → emulator.
        names: product name → the emulator's name (for messages); default the product name.
        settings: fixed cosmology the emulators assume (``omega_nu`` or ``m_nu``, ``N_eff``,
            ``w0``, ``wa``, ``T_CMB``, ``num_massive_nu``); default an emulator's manifest
            ``metadata.cosmology`` where it has one, else :data:`DEFAULT_SETTINGS`.
        omega_nu: shorthand for ``settings={"omega_nu": ...}``.

    Raises:
        ValueError: an unknown product, an emulator whose axes do not fit its product, two
            scalars of the same name, emulators with different inputs or conflicting settings.
    """

    emulators: dict[str, Any]
    names: dict[str, str] = eqx.field(static=True)
    inputs: tuple[str, ...] = eqx.field(static=True)
    box: tuple[tuple[str, float, float], ...] = eqx.field(static=True)
    scalar_index: tuple[tuple[str, str, int], ...] = eqx.field(static=True)
    settings_items: tuple[tuple[str, float], ...] = eqx.field(static=True)

    def __init__(
        self,
        emulators: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
        settings: Mapping[str, float] | None = None,
        omega_nu: float | None = None,
    ) -> None:
        names = dict(names or {})
        inputs: tuple[str, ...] | None = None
        box: dict[str, tuple[float, float]] = {}
        scalars: list[tuple[str, str, int]] = []
        from_manifests: dict[str, float] = {}
        for key, emu in emulators.items():
            label = names.setdefault(key, key)
            try:
                spec = get_product(key)
            except KeyError as err:
                raise ValueError(f"emulator {label}: {err.args[0]}") from None
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
            axes = spec.axes(emu, label)
            if spec.scalars:
                (values,) = axes.values()
                for i, name in enumerate(str(v) for v in values):
                    if any(s[0] == name for s in scalars):
                        raise ValueError(f"scalar '{name}' comes from two emulators")
                    scalars.append((name, key, i))
            meta = getattr(emu, "metadata", None)
            cosmo = meta.get("cosmology") if isinstance(meta, Mapping) else None
            if isinstance(cosmo, Mapping):
                for k, v in _check_settings(cosmo, f"emulator {label}").items():
                    if k in from_manifests and from_manifests[k] != v:
                        raise ValueError(f"emulator {label} was trained with {k} = {v}, "
                                         f"another one with {from_manifests[k]}")
                    from_manifests[k] = v
        explicit = dict(settings or {})
        if omega_nu is not None:
            explicit["omega_nu"] = omega_nu
        chosen = _check_settings(explicit, "theory settings")
        merged = {**DEFAULT_SETTINGS, **from_manifests, **chosen}
        if "m_nu" in merged:  # keep the neutrino setting of the highest-priority source
            for source in (chosen, from_manifests):
                if "m_nu" in source or "omega_nu" in source:
                    merged.pop("omega_nu" if "m_nu" in source else "m_nu")
                    break
        self.emulators = dict(emulators)
        self.names = names
        self.inputs = inputs or ()
        self.box = tuple((p, *box[p]) for p in self.inputs)
        self.scalar_index = tuple(scalars)
        self.settings_items = tuple(sorted(merged.items()))

    # ---- what the theory provides
    @property
    def scalars(self) -> tuple[str, ...]:
        """Names of the scalar products (the modes of ``derived``-like emulators)."""
        return tuple(s[0] for s in self.scalar_index)

    @property
    def products(self) -> tuple[str, ...]:
        """Names of the array products (every emulator whose product is not scalars)."""
        return tuple(k for k in self.emulators if not get_product(k).scalars)

    @property
    def provides(self) -> tuple[str, ...]:
        """Names of everything :meth:`compute` can return: array products, then scalars."""
        return self.products + self.scalars

    @property
    def settings(self) -> dict[str, float]:
        """The fixed cosmology settings (name → value) the emulators assume."""
        return dict(self.settings_items)

    @property
    def omega_nu(self) -> float:
        """ω_ν of the emulated cosmology (from ``m_nu`` when the settings give a mass)."""
        return float(self.cosmology({"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.7}).omega_nu)

    def axes(self, product: str) -> Axes:
        """The axes of an array product, e.g. ``{"ell": array([2, …, 2508])}``."""
        if product not in self.products:
            raise KeyError(f"the theory has no product '{product}' (it has "
                           f"{', '.join(self.products) or 'none'})")
        return get_product(product).axes(self.emulators[product], self.names[product])

    def check_request(self, product: str, axes: Mapping[str, Sequence[float]]) -> None:
        """Raise ValueError unless the product's axes cover what a consumer asks.

        Args:
            product: an array product.
            axes: axis name → (first, last) values the consumer reads, e.g. ``{"ell": (2, 2508)}``.
        """
        have = self.axes(product)
        for name, (lo, hi) in axes.items():
            if name not in have:
                raise ValueError(f"product '{product}' has axes {tuple(have)}, not '{name}'")
            values = np.asarray(have[name], dtype=np.float64)
            if values.min() > lo or values.max() < hi:
                raise ValueError(
                    f"needs {product} on {name} = {lo:g}..{hi:g}, but emulator "
                    f"{self.names[product]} covers {values.min():g}..{values.max():g}")

    # ---- evaluation
    def cosmology(self, values: Mapping[str, Any]) -> Cosmology:
        """The :class:`Cosmology` at ``values`` with the theory's fixed settings."""
        return Cosmology.from_params(values, defaults=self.settings)

    def compute(self, values: Mapping[str, jax.Array], needed: Sequence[str]) -> dict:
        """Products in ``needed`` at the inputs in ``values`` (scalars; vmap for batches).

        Inputs must lie inside :attr:`box` (the posterior guarantees it; outside, the emulators'
        ``policy="nan"`` gives NaN).

        Returns:
            dict product → array: array products with their axes' shape (e.g. C_ℓ ``(n_ell,)``),
            scalars shape ``()``.
        """
        out: dict[str, jax.Array] = {}
        needed = set(needed)
        for key, emu in self.emulators.items():
            spec = get_product(key)
            if spec.scalars:
                wanted = [(n, i) for n, k, i in self.scalar_index if k == key and n in needed]
                if not wanted:
                    continue
            elif key not in needed:
                continue
            x = jnp.stack([jnp.asarray(values[p]) for p in emu.parameters], axis=-1)
            y = emu.predict(x, policy="nan")
            if spec.transform is not None:
                y = spec.transform(y)
            if spec.scalars:
                out.update({name: y[..., i] for name, i in wanted})
            else:
                out[key] = y
        return out


def load_theory(
    spec: Mapping[str, str], settings: Mapping[str, float] | None = None
) -> EmulatorTheory:
    """An :class:`EmulatorTheory` from ``{product: shipped emulator name or model path}``."""
    from ..emulator import load_emulator

    emus = {key: load_emulator(name) for key, name in spec.items()}
    return EmulatorTheory(emus, names=dict(spec), settings=settings)
