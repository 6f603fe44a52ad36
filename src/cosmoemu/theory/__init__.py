"""Theory: named products (CMB C_ℓ, scalars, later P(k, z), traces) from emulators.

Products are registered by name (:func:`register_product`); an :class:`EmulatorTheory` maps
product names to emulators, evaluates them, and builds the
:class:`~cosmoemu.cosmology.Cosmology` (with the fixed settings its emulators assume) that the
likelihoods read.
"""

from ._products import (
    ProductSpec,
    axes_from_modes,
    cmb_axes,
    get_product,
    product_names,
    register_product,
)
from ._theory import DEFAULT_SETTINGS, SETTING_NAMES, EmulatorTheory, load_theory

__all__ = [
    "DEFAULT_SETTINGS",
    "SETTING_NAMES",
    "EmulatorTheory",
    "ProductSpec",
    "axes_from_modes",
    "cmb_axes",
    "get_product",
    "load_theory",
    "product_names",
    "register_product",
]
