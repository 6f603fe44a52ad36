"""Cosmology in JAX: the :class:`Cosmology` pytree, constants, background and growth; Limber
shear, galaxy–galaxy lensing and clustering spectra (3x2pt), the linear C_ℓ → real-space
projections (ξ±, COSEBIs), survey redshift distributions and the Gaussian covariance of
tomographic spectra.

Every consumer (BAO, derived Ω_m, the theory, the Limber projections) reads the same
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
from ._covariance import (
    ARCMIN2_PER_SR,
    gaussian_cl_blocks,
    gaussian_cl_covariance,
    matrix_to_pairs,
    pair_indices,
    pairs_to_matrix,
    shape_noise,
    tomographic_pairs,
)
from ._growth import growth_factor, growth_rate
from ._limber import (
    BLOCKS,
    C1_RHO_CRIT,
    ShearSpectra,
    TomographicSpectra,
    shear_cl,
    spin2_factor,
)
from ._nz import SURVEYS, equipopulated_edges, photometric_bins, smail_nz
from ._xipm import xi_pm, xi_pm_matrices

__all__ = [
    "ARCMIN2_PER_SR",
    "BLOCKS",
    "C1_RHO_CRIT",
    "COSMOLOGY_DEFAULTS",
    "COSMOLOGY_PARAMS",
    "C_KM_S",
    "N_EFF",
    "OMEGA_GAMMA",
    "OMEGA_NU_DEFAULT",
    "SURVEYS",
    "T_CMB",
    "Cosmology",
    "ShearSpectra",
    "TomographicSpectra",
    "angular_diameter_distance",
    "comoving_distance",
    "cosebis",
    "cosebis_filters",
    "cosebis_matrix",
    "cosebis_t_minus",
    "cosebis_t_plus",
    "cosebis_w",
    "densities",
    "equipopulated_edges",
    "gaussian_cl_blocks",
    "gaussian_cl_covariance",
    "growth_factor",
    "growth_rate",
    "hubble",
    "hubble_distance",
    "luminosity_distance",
    "matrix_to_pairs",
    "omega_gamma",
    "omega_nu_from_mass",
    "pair_indices",
    "pairs_to_matrix",
    "photometric_bins",
    "shape_noise",
    "shear_cl",
    "smail_nz",
    "spin2_factor",
    "tomographic_pairs",
    "transverse_comoving_distance",
    "volume_distance",
    "xi_pm",
    "xi_pm_matrices",
]
