"""Derived parameters: functions of the sampled/fixed parameters and the theory's scalars.

Each entry says what it needs; the posterior evaluates the ones asked for (and what they need)
in dependency order. Scalars of a derived emulator (``sigma8``, ``thetastar``, ``rdrag``…) are
derived parameters of their own name. Densities (Ω_m, ω_m, Ω_b …) are read from the
:class:`~cosmoemu.cosmology.Cosmology` under ``values["cosmology"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from ..likelihoods._base import COSMOLOGY

__all__ = ["COSMOLOGY", "DERIVED", "LATEX", "NUISANCE", "DerivedSpec", "latex_label"]


@dataclass(frozen=True)
class DerivedSpec:
    """A derived quantity: ``fn(values) -> scalar`` needing ``needs`` in ``values``."""

    fn: Callable[[Mapping[str, jax.Array]], jax.Array]
    needs: tuple[str, ...]
    latex: str


# values[COSMOLOGY] is the Cosmology the posterior builds from the parameters and the theory's
# fixed settings; the densities below read it, so Ω_m, the BAO distances and any other consumer
# agree on ω_ν, N_eff, w0, wa.
DERIVED: dict[str, DerivedSpec] = {
    "H0": DerivedSpec(lambda v: 100.0 * v["h"], ("h",),
                      r"H_0\,[\mathrm{km\,s^{-1}\,Mpc^{-1}}]"),
    "omega_m": DerivedSpec(lambda v: v[COSMOLOGY].omega_m, (COSMOLOGY,),
                           r"\Omega_\mathrm{m} h^2"),
    "Omega_m": DerivedSpec(lambda v: v[COSMOLOGY].Omega_m, (COSMOLOGY,), r"\Omega_\mathrm{m}"),
    "Omega_b": DerivedSpec(lambda v: v[COSMOLOGY].Omega_b, (COSMOLOGY,), r"\Omega_\mathrm{b}"),
    "Omega_de": DerivedSpec(lambda v: v[COSMOLOGY].Omega_de, (COSMOLOGY,),
                            r"\Omega_\mathrm{DE}"),
    "m_nu_sum": DerivedSpec(lambda v: v[COSMOLOGY].m_nu, (COSMOLOGY,),
                            r"\sum m_\nu\,[\mathrm{eV}]"),
    "S8": DerivedSpec(
        lambda v: v["sigma8"] * jnp.sqrt(v["Omega_m"] / 0.3), ("sigma8", "Omega_m"), r"S_8"
    ),
    "A_s": DerivedSpec(
        lambda v: jnp.exp(v["ln10^{10}A_s"]) * 1e-10, ("ln10^{10}A_s",), r"A_\mathrm{s}"
    ),
}

# Nuisance parameters a likelihood reads, what they are and their usual config entry (quoted in
# the error when a config leaves one out).
NUISANCE: dict[str, tuple[str, str]] = {
    "A_planck": ("the Planck absolute calibration y_cal, a nuisance parameter plik_lite needs",
                 "A_planck: {prior: {dist: norm, loc: 1.0, scale: 0.0025}, ref: 1.0}"),
}

LATEX: dict[str, str] = {
    "omega_b": r"\Omega_\mathrm{b} h^2",
    "omega_cdm": r"\Omega_\mathrm{c} h^2",
    "h": r"h",
    "tau_reio": r"\tau_\mathrm{reio}",
    "n_s": r"n_\mathrm{s}",
    "ln10^{10}A_s": r"\ln(10^{10} A_\mathrm{s})",
    "A_planck": r"y_\mathrm{cal}",
    "sigma8": r"\sigma_8",
    "thetastar": r"100\theta_*",
    "rstar": r"r_*\,[\mathrm{Mpc}]",
    "zstar": r"z_*",
    "rdrag": r"r_\mathrm{drag}\,[\mathrm{Mpc}]",
    "zdrag": r"z_\mathrm{drag}",
    "age": r"\mathrm{age}\,[\mathrm{Gyr}]",
    **{name: spec.latex for name, spec in DERIVED.items()},
}


def latex_label(name: str) -> str:
    """LaTeX label (without $) of a known parameter; the name itself, escaped, otherwise."""
    if name in LATEX:
        return LATEX[name]
    return r"\mathrm{" + name.replace("_", r"\_") + "}"
