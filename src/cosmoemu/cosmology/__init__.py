"""Cosmology in JAX: the :class:`Cosmology` pytree, constants, background and growth, and the
linear C_ℓ → real-space projections (ξ±, COSEBIs).

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
from ._cosebis import (
    cosebis,
    cosebis_filters,
    cosebis_matrix,
    cosebis_t_minus,
    cosebis_t_plus,
    cosebis_w,
)
from ._cosmology import COSMOLOGY_DEFAULTS, COSMOLOGY_PARAMS, Cosmology, omega_nu_from_mass
from ._growth import growth_factor, growth_rate
from ._xipm import xi_pm, xi_pm_matrices

__all__ = [
    "COSMOLOGY_DEFAULTS",
    "COSMOLOGY_PARAMS",
    "C_KM_S",
    "N_EFF",
    "OMEGA_GAMMA",
    "OMEGA_NU_DEFAULT",
    "T_CMB",
    "Cosmology",
    "angular_diameter_distance",
    "comoving_distance",
    "cosebis",
    "cosebis_filters",
    "cosebis_matrix",
    "cosebis_t_minus",
    "cosebis_t_plus",
    "cosebis_w",
    "densities",
    "growth_factor",
    "growth_rate",
    "hubble",
    "hubble_distance",
    "luminosity_distance",
    "omega_gamma",
    "omega_nu_from_mass",
    "transverse_comoving_distance",
    "volume_distance",
    "xi_pm",
    "xi_pm_matrices",
]
