"""Cosmology in JAX: the :class:`Cosmology` pytree, constants, background and growth.

Every consumer (BAO, derived Ω_m, the theory, future Limber projections) reads the same
:class:`Cosmology`; constants live in :mod:`cosmoemu.cosmology._constants` only.
"""

from ._background import (
    angular_diameter_distance,
    comoving_distance,
    densities,
    hubble,
    hubble_distance,
    luminosity_distance,
    transverse_comoving_distance,
    volume_distance,
)
from ._constants import C_KM_S, N_EFF, OMEGA_GAMMA, OMEGA_NU_DEFAULT, T_CMB, omega_gamma
from ._cosmology import COSMOLOGY_DEFAULTS, COSMOLOGY_PARAMS, Cosmology, omega_nu_from_mass
from ._growth import growth_factor, growth_rate
from ._limber import C1_RHO_CRIT, ShearSpectra, pair_indices, shear_cl, spin2_factor

__all__ = [
    "C1_RHO_CRIT",
    "COSMOLOGY_DEFAULTS",
    "COSMOLOGY_PARAMS",
    "C_KM_S",
    "N_EFF",
    "OMEGA_GAMMA",
    "OMEGA_NU_DEFAULT",
    "T_CMB",
    "Cosmology",
    "ShearSpectra",
    "angular_diameter_distance",
    "comoving_distance",
    "densities",
    "growth_factor",
    "growth_rate",
    "hubble",
    "hubble_distance",
    "luminosity_distance",
    "omega_gamma",
    "omega_nu_from_mass",
    "pair_indices",
    "shear_cl",
    "spin2_factor",
    "transverse_comoving_distance",
    "volume_distance",
]
