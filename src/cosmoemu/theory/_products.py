"""Theory products by name: what an emulator's output means, its axes and how it is checked.

A :class:`ProductSpec` says, for one product name (``cmb_tt``, ``derived``, later ``pk_nl``, a
seismic trace …): how to read and check the axes of the emulator that provides it, and the
output transform from the emulator's prediction to the product. The theory holds no list of
product names: it looks names up here, so CMB C_ℓ, P(k, z), σ8 and traces are peers. Register
your own with :func:`register_product`.

Built in:

* ``cmb_tt``, ``cmb_te``, ``cmb_ee``: lensed CMB C_ℓ, raw and dimensionless (not D_ℓ, not μK²),
  axis ``ell`` = 2, 3, …, ℓ_max;
* ``cmb_pp``: the lensing potential C_ℓ^φφ, axis ``ell`` = 2, 3, …;
* ``derived``: scalars; the emulator's modes are their names (``sigma8``, ``thetastar`` = 100θ*,
  ``rdrag`` [Mpc] …) and each becomes a scalar product of its own name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from .._errors import unknown_name_message

__all__ = [
    "ProductSpec",
    "register_product",
    "get_product",
    "product_names",
    "axes_from_modes",
    "cmb_axes",
]

Axes = dict[str, np.ndarray]


def axes_from_modes(emulator: Any, label: str) -> Axes:
    """Generic axes: ``emulator.axes`` when it has them (an :class:`~cosmoemu.emulator.Emulator`'s
    tuple of named axes, e.g. z and k, or a mapping name → values), else one axis named by
    ``emulator.mode_label`` (default ``mode``) holding ``emulator.modes``."""
    axes = getattr(emulator, "axes", None)
    if isinstance(axes, Mapping):
        return {str(k): np.asarray(v) for k, v in axes.items()}
    if isinstance(axes, tuple) and axes and all(hasattr(a, "name") for a in axes):
        return {str(a.name): np.asarray(a.values) for a in axes}
    name = str(getattr(emulator, "mode_label", "mode") or "mode")
    return {name: np.asarray(emulator.modes)}


def cmb_axes(emulator: Any, label: str) -> Axes:
    """The ``ell`` axis of a CMB spectrum emulator; its modes must be ell = 2, 3, …."""
    modes = np.asarray(emulator.modes)
    if modes.dtype.kind not in "iuf" or modes.ndim != 1:
        raise ValueError(f"emulator {label}: a CMB spectrum's modes must be multipoles, "
                         f"got {modes[:3]!r}…")
    ell = modes.astype(np.int64)
    if len(ell) == 0 or ell[0] != 2 or np.any(np.diff(ell) != 1) or np.any(ell != modes):
        raise ValueError(f"emulator {label}: a CMB spectrum's modes must be ell = 2, 3, ...")
    return {"ell": ell}


def _named_axes(emulator: Any, label: str) -> Axes:
    modes = np.asarray(emulator.modes)
    if modes.dtype.kind not in "US":
        raise ValueError(f"derived emulator {label} must have named modes (sigma8, …), "
                         f"got {modes[:3]!r}…")
    return {"name": modes.astype(str)}


@dataclass(frozen=True)
class ProductSpec:
    """What one product is.

    Attributes:
        name: the product key (``theory.emulators.<name>`` in a config).
        description: one line: the quantity, its units and axes.
        axes: ``(emulator, label) -> {axis name: values}``; reads the emulator's output axes and
            raises ValueError (naming ``label``) when they are not what the product means.
        transform: emulator prediction → product (default: unchanged). Pure JAX, applied inside
            ``jit`` to one cosmology's prediction.
        scalars: the emulator's modes are names, and each becomes a scalar product of that name
            (its single axis holds the names).
    """

    name: str
    description: str
    axes: Callable[[Any, str], Axes] = axes_from_modes
    transform: Callable[[jax.Array], jax.Array] | None = field(default=None)
    scalars: bool = False


_REGISTRY: dict[str, ProductSpec] = {}


def register_product(spec: ProductSpec, *, replace: bool = False) -> ProductSpec:
    """Add a product kind to the registry (``replace=True`` to redefine an existing name)."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"theory product '{spec.name}' is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get_product(name: str) -> ProductSpec:
    """The spec of a registered product.

    Raises:
        KeyError: unknown name (the message lists the registered ones).
    """
    if name not in _REGISTRY:
        raise KeyError(unknown_name_message("theory product", name, product_names()))
    return _REGISTRY[name]


def product_names() -> tuple[str, ...]:
    """Registered product names, in registration order."""
    return tuple(_REGISTRY)


for _key, _what in (("tt", "TT"), ("te", "TE"), ("ee", "EE")):
    register_product(ProductSpec(
        f"cmb_{_key}", f"lensed CMB C_ell^{_what}, raw dimensionless, axis ell = 2..lmax",
        axes=cmb_axes))
register_product(ProductSpec(
    "cmb_pp", "lensing potential C_ell^phiphi, raw, axis ell = 2..lmax", axes=cmb_axes))
register_product(ProductSpec(
    "derived", "scalars named by the emulator's modes (sigma8, thetastar, rdrag, ...)",
    axes=_named_axes, scalars=True))
