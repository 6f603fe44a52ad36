"""Physical constants and the fixed cosmology settings of the shipped emulators, in one place.

SI values are CODATA 2018 (as CAMB 2.0.5 uses them), so that ω_γ below equals CAMB's photon
density to 1e-15. Every module that needs c, T_CMB, ω_γ or a neutrino constant imports it from
here.
"""

from __future__ import annotations

import math

__all__ = [
    "C_KM_S",
    "C_M_S",
    "G_SI",
    "K_B_EV",
    "MPC_M",
    "SIGMA_SB",
    "T_CMB",
    "N_EFF",
    "N_EFF_STANDARD",
    "M_NU_DEFAULT",
    "OMEGA_NU_DEFAULT",
    "OMEGA_GAMMA",
    "NU_DENSITY_RATIO",
    "FD_NONREL",
    "omega_gamma",
]

C_M_S = 299792458.0
"""Speed of light [m/s]."""
C_KM_S = C_M_S / 1e3
"""Speed of light [km/s]."""
G_SI = 6.6743e-11
"""Newton's constant [m³ kg⁻¹ s⁻²]."""
SIGMA_SB = 5.670374419e-8
"""Stefan–Boltzmann constant [W m⁻² K⁻⁴]."""
K_B_EV = 8.617333262e-5
"""Boltzmann constant [eV/K]."""
MPC_M = 3.085677581e22
"""One megaparsec [m]."""

T_CMB = 2.7255
"""CMB temperature today [K] (Fixsen 2009); also the μK² scale of CMB data (C_ℓ T_CMB² 10¹²)."""
N_EFF = 3.046
"""Effective number of neutrino species of the shipped emulators (CAMB ``nnu``)."""
N_EFF_STANDARD = 3.044
"""CAMB's standard N_eff: each massive eigenstate carries N_EFF_STANDARD/3 of it."""
M_NU_DEFAULT = 0.06
"""Mass of the one massive neutrino of the shipped emulators [eV]."""
OMEGA_NU_DEFAULT = 0.000644899
"""ω_ν = Ω_ν h² of one 0.06 eV neutrino, CAMB 2.0.5's value (0.0006448993754) to 6 digits."""

NU_DENSITY_RATIO = 7.0 / 8.0 * (4.0 / 11.0) ** (4.0 / 3.0)
"""ρ of one massless neutrino species over ρ_γ (instantaneous decoupling, T_ν = (4/11)^⅓ T)."""
FD_NONREL = 180.0 * 1.2020569031595942 / (7.0 * math.pi**4)
"""∫x²/(eˣ+1) dx / ∫x³/(eˣ+1) dx = 180 ζ(3)/(7π⁴): a non-relativistic neutrino's density over
its massless density is this times m/(k_B T_ν)."""


def omega_gamma(t_cmb: float = T_CMB) -> float:
    """ω_γ = Ω_γ h² of black-body photons at ``t_cmb`` [K].

    .. math:: ω_γ = \\frac{4σ_{SB} T^4/c^3}{3 (100\\,\\mathrm{km\\,s^{-1}\\,Mpc^{-1}})^2/(8πG)}
    """
    rho_gamma = 4.0 * SIGMA_SB * t_cmb**4 / C_M_S**3  # kg/m³
    rho_crit_100 = 3.0 * (1e5 / MPC_M) ** 2 / (8.0 * math.pi * G_SI)
    return rho_gamma / rho_crit_100


OMEGA_GAMMA = omega_gamma(T_CMB)
"""ω_γ at T_CMB = 2.7255 K (2.4729753e-5)."""
