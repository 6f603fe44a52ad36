"""The :class:`Cosmology` pytree: one set of cosmological parameters every consumer reads.

Flat; CDM, baryons, photons, N_eff − g·n_ν massless neutrinos, ``num_massive_nu`` degenerate
massive neutrinos (Fermi–Dirac, each carrying g = N_eff,standard/3 = 1.01467 of N_eff, as CAMB
does), and CPL dark energy w(a) = w0 + wa(1 − a) closing the universe. ω_ν is the massive
neutrinos' density today *including* their thermal kinetic energy — CAMB's ``omnuh2`` — so a
Cosmology and CAMB given the same ω_ν have the same background.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._constants import (
    K_B_EV,
    N_EFF,
    N_EFF_STANDARD,
    NU_DENSITY_RATIO,
    OMEGA_NU_DEFAULT,
    T_CMB,
    omega_gamma,
)
from ._neutrinos import fd_density, mass_ratio_from_density

__all__ = ["Cosmology", "COSMOLOGY_DEFAULTS", "COSMOLOGY_PARAMS", "omega_nu_from_mass"]

NU_DEGENERACY = N_EFF_STANDARD / 3.0
"""Share of N_eff carried by one massive eigenstate (CAMB's convention)."""

COSMOLOGY_DEFAULTS: dict[str, float] = {
    "n_s": 0.9649,
    "ln10^{10}A_s": 3.044,
    "omega_nu": OMEGA_NU_DEFAULT,
    "N_eff": N_EFF,
    "w0": -1.0,
    "wa": 0.0,
    "T_CMB": T_CMB,
}
"""Defaults of :meth:`Cosmology.from_params`: Planck 2018 n_s and A_s, one 0.06 eV neutrino
(ω_ν = 0.000644899), N_eff = 3.046, a cosmological constant, T_CMB = 2.7255 K. ω_b, ω_cdm and h
have no default."""

REQUIRED = ("omega_b", "omega_cdm", "h")
ALIASES = {"H0": "h", "A_s": "ln10^{10}A_s", "m_nu": "omega_nu"}
_ALIAS_OF = {c: a for a, c in ALIASES.items()}
COSMOLOGY_PARAMS = (*REQUIRED, *COSMOLOGY_DEFAULTS, *ALIASES, "num_massive_nu")
"""Every name :meth:`Cosmology.from_params` reads."""


def omega_nu_from_mass(m_nu: ArrayLike, num_massive: int = 1, t_cmb: ArrayLike = T_CMB
                       ) -> jax.Array:
    """ω_ν of ``num_massive`` degenerate neutrinos of total mass ``m_nu`` [eV] (CAMB's relation).

    Each eigenstate has temperature g^{1/4} T_ν (g = 1.01467) and mass m_nu/num_massive; its
    density today is g ρ_ν,1 R(m c²/(k_B g^{1/4} T_ν)). 0.06 eV → 0.0006448993754 (CAMB:
    0.0006448993754).
    """
    m = jnp.asarray(m_nu) / num_massive
    t_nu = (4.0 / 11.0) ** (1.0 / 3.0) * jnp.asarray(t_cmb) * NU_DEGENERACY**0.25
    y = m / (K_B_EV * t_nu)
    return num_massive * NU_DEGENERACY * NU_DENSITY_RATIO * omega_gamma(t_cmb) * fd_density(y)


class Cosmology(eqx.Module):
    """A flat cosmology with massive neutrinos and CPL dark energy, as a JAX pytree.

    Every field is an array (traced under ``jit``/``grad``/``vmap``) except
    ``num_massive_nu``. Build one with :meth:`from_params`; derived densities are properties.

    Attributes:
        omega_b: ω_b = Ω_b h².
        omega_cdm: ω_cdm = Ω_cdm h².
        h: H0 / (100 km/s/Mpc).
        n_s: scalar spectral index.
        A_s: primordial amplitude at k = 0.05/Mpc (``ln10As`` = ln(10¹⁰ A_s)).
        omega_nu: ω_ν of the massive neutrinos today (CAMB's ``omnuh2``).
        N_eff: effective number of neutrino species (massive ones included).
        w0, wa: dark-energy equation of state w(a) = w0 + wa (1 − a).
        T_CMB: CMB temperature today [K].
        num_massive_nu: number of degenerate massive eigenstates (0: all massless, ω_ν unused).

    Example:
        >>> c = Cosmology.from_params({"omega_b": 0.02237, "omega_cdm": 0.12, "h": 0.6736})
        >>> float(c.Omega_m)   # 0.31519 (CAMB: 0.31519)
    """

    omega_b: jax.Array
    omega_cdm: jax.Array
    h: jax.Array
    n_s: jax.Array
    A_s: jax.Array
    omega_nu: jax.Array
    N_eff: jax.Array
    w0: jax.Array
    wa: jax.Array
    T_CMB: jax.Array
    num_massive_nu: int = eqx.field(static=True, default=1)

    @classmethod
    def from_params(
        cls, values: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
    ) -> Cosmology:
        """A Cosmology from a mapping of parameter values (other keys are ignored).

        Reads ``omega_b``, ``omega_cdm``, ``h`` (or ``H0``) — required — and, with the defaults
        of :data:`COSMOLOGY_DEFAULTS`: ``n_s``, ``ln10^{10}A_s`` (or ``A_s``), ``omega_nu``
        (or ``m_nu``, the mass sum in eV), ``N_eff``, ``w0``, ``wa``, ``T_CMB``, and the static
        ``num_massive_nu`` (default 1; 0 makes every neutrino massless).

        Args:
            values: name → scalar (Python number or array, traced or not).
            defaults: values used where ``values`` has none, before :data:`COSMOLOGY_DEFAULTS`
                (a theory passes the settings its emulators were trained with).

        Where a mapping holds a name and its alias (``h`` and ``H0``, ``ln10^{10}A_s`` and
        ``A_s``, ``omega_nu`` and ``m_nu`` — a posterior's values hold derived ``H0`` and ``A_s``
        beside the sampled ones), the first name wins.

        Raises:
            KeyError: a required parameter is missing.
        """
        merged: dict[str, Any] = {}
        for source in (COSMOLOGY_DEFAULTS, dict(defaults or {}), values):
            for key in COSMOLOGY_PARAMS:
                if key not in source:
                    continue
                canonical = ALIASES.get(key, key)
                alias = _ALIAS_OF.get(canonical)
                if key == alias and canonical in source:
                    continue  # both in one mapping (a derived H0 beside h): the canonical wins
                merged.pop(canonical, None)  # a later source replaces a name or its alias
                merged.pop(alias, None)
                merged[key] = source[key]
        if "H0" in merged:
            merged["h"] = jnp.asarray(merged.pop("H0")) / 100.0
        missing = [k for k in REQUIRED if k not in merged]
        if missing:
            raise KeyError(f"Cosmology.from_params needs {', '.join(missing)}; got "
                           f"{sorted(values)}")
        n_massive = int(merged.pop("num_massive_nu", 1))
        dtype = jnp.result_type(*(jnp.asarray(merged[k]).dtype for k in REQUIRED), jnp.float32)
        f = {k: jnp.asarray(v, dtype) for k, v in merged.items()}
        if "A_s" in f:
            f["ln10^{10}A_s"] = jnp.log(1e10 * f.pop("A_s"))
        if "m_nu" in f:
            f["omega_nu"] = omega_nu_from_mass(f.pop("m_nu"), max(n_massive, 1), f["T_CMB"])
        return cls(
            omega_b=f["omega_b"], omega_cdm=f["omega_cdm"], h=f["h"], n_s=f["n_s"],
            A_s=jnp.exp(f["ln10^{10}A_s"]) * 1e-10,
            omega_nu=f["omega_nu"] if n_massive else jnp.zeros((), dtype),
            N_eff=f["N_eff"], w0=f["w0"], wa=f["wa"], T_CMB=f["T_CMB"],
            num_massive_nu=n_massive,
        )

    # ---- derived quantities (properties: arrays, traced with the fields)
    @property
    def ln10As(self) -> jax.Array:  # noqa: N802 (the field's name)
        """ln(10¹⁰ A_s)."""
        return jnp.log(1e10 * self.A_s)

    @property
    def H0(self) -> jax.Array:  # noqa: N802
        """H0 [km/s/Mpc]."""
        return 100.0 * self.h

    @property
    def omega_cb(self) -> jax.Array:
        """ω_b + ω_cdm: the matter that clusters on all scales."""
        return self.omega_b + self.omega_cdm

    @property
    def omega_m(self) -> jax.Array:
        """ω_m = ω_b + ω_cdm + ω_ν (CAMB's convention for Ω_m)."""
        return self.omega_cb + self.omega_nu

    @property
    def omega_gamma(self) -> jax.Array:
        """ω_γ of the CMB photons at :attr:`T_CMB`."""
        return omega_gamma(self.T_CMB)

    @property
    def nu_degeneracy(self) -> float:
        """g: the share of N_eff one massive eigenstate carries (N_eff,standard/3)."""
        return NU_DEGENERACY

    @property
    def N_ur(self) -> jax.Array:  # noqa: N802
        """Effective number of massless neutrinos, N_eff − g·num_massive_nu."""
        return self.N_eff - NU_DEGENERACY * self.num_massive_nu

    @property
    def omega_ur(self) -> jax.Array:
        """ω of the massless neutrinos today."""
        return self.N_ur * NU_DENSITY_RATIO * self.omega_gamma

    @property
    def omega_nu_massless(self) -> jax.Array:
        """ω today of the massive eigenstates if they were massless (their early-time density)."""
        return self.num_massive_nu * NU_DEGENERACY * NU_DENSITY_RATIO * self.omega_gamma

    @property
    def nu_mass_ratio(self) -> jax.Array:
        """y = m c²/(k_B T_eff) of one massive eigenstate (0 when there is none)."""
        if self.num_massive_nu == 0:
            return jnp.zeros_like(self.h)
        return mass_ratio_from_density(self.omega_nu / self.omega_nu_massless)

    @property
    def m_nu(self) -> jax.Array:
        """Sum of the neutrino masses [eV]."""
        t_nu = (4.0 / 11.0) ** (1.0 / 3.0) * self.T_CMB * NU_DEGENERACY**0.25
        return self.num_massive_nu * self.nu_mass_ratio * K_B_EV * t_nu

    @property
    def omega_de(self) -> jax.Array:
        """ω of dark energy today: h² − ω_m − ω_γ − ω_ur (flat)."""
        return self.h**2 - self.omega_m - self.omega_gamma - self.omega_ur

    @property
    def Omega_m(self) -> jax.Array:  # noqa: N802
        """Ω_m = ω_m/h² (baryons, CDM and massive neutrinos)."""
        return self.omega_m / self.h**2

    @property
    def Omega_b(self) -> jax.Array:  # noqa: N802
        """Ω_b."""
        return self.omega_b / self.h**2

    @property
    def Omega_cdm(self) -> jax.Array:  # noqa: N802
        """Ω_cdm."""
        return self.omega_cdm / self.h**2

    @property
    def Omega_nu(self) -> jax.Array:  # noqa: N802
        """Ω_ν of the massive neutrinos."""
        return self.omega_nu / self.h**2

    @property
    def Omega_de(self) -> jax.Array:  # noqa: N802
        """Ω_DE today."""
        return self.omega_de / self.h**2
