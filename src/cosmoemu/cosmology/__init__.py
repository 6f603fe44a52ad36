"""Cosmology in JAX: background quantities (used by BAO and derived parameters)."""

from ._background import (
    C_KM_S,
    OMEGA_GAMMA,
    OMEGA_NU_006,
    OMEGA_RADIATION,
    comoving_distance,
    hubble,
    hubble_distance,
    volume_distance,
)

__all__ = [
    "C_KM_S",
    "OMEGA_GAMMA",
    "OMEGA_NU_006",
    "OMEGA_RADIATION",
    "comoving_distance",
    "hubble",
    "hubble_distance",
    "volume_distance",
]
