"""Cosmological parameter names shared by the Boltzmann backends (CLASS/CosmoPower convention).

One config can switch backend because both take these names and translate them:

=====================  =====================================  ========================
name                   meaning                                default when not given
=====================  =====================================  ========================
``omega_b``            Omega_b h^2                            required
``omega_cdm``          Omega_cdm h^2                          required
``h`` or ``H0``        H0 / (100 km/s/Mpc), or H0 itself      required (one of them)
``tau_reio``           optical depth to reionisation          required
``n_s``                scalar spectral index                  required
``ln10^{10}A_s``       ln(10^10 A_s) (or ``A_s`` itself)      required (one of them)
``alpha_s``            running of n_s                         0
``m_ncdm``             mass of the one massive neutrino [eV]  0.06
``N_eff``              effective number of neutrinos          3.046
``Omega_k``            spatial curvature                      0
``w0_fld``, ``wa_fld``  dark energy w(a) = w0 + wa (1 - a)    -1, 0 (a cosmological constant)
``c_min``              HMcode 2016 baryonic feedback A        3.13 (``hmcode2016`` only)
``eta_0``              HMcode 2016 halo bloating eta_0        0.603 (``hmcode2016`` only)
``logT_AGN``           HMcode 2020 log10(T_AGN / K)           7.8 (``hmcode2020_feedback`` only)
=====================  =====================================  ========================

The neutrino defaults (one massive species of 0.06 eV, N_eff = 3.046) are those of the shared
CAMB training set, so a config that does not mention them reproduces it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from .._errors import ConfigError, unknown_name_message

__all__ = ["COSMO_PARAMETERS", "DEFAULTS", "check_cosmo_parameters", "complete"]

COSMO_PARAMETERS = (
    "omega_b",
    "omega_cdm",
    "h",
    "H0",
    "tau_reio",
    "n_s",
    "ln10^{10}A_s",
    "A_s",
    "alpha_s",
    "m_ncdm",
    "N_eff",
    "Omega_k",
    "w0_fld",
    "wa_fld",
    "c_min",
    "eta_0",
    "logT_AGN",
)

DEFAULTS = {
    "alpha_s": 0.0,
    "m_ncdm": 0.06,
    "N_eff": 3.046,
    "Omega_k": 0.0,
    "w0_fld": -1.0,
    "wa_fld": 0.0,
    "c_min": 3.13,
    "eta_0": 0.603,
    "logT_AGN": 7.8,
}

_REQUIRED = (("omega_b",), ("omega_cdm",), ("h", "H0"), ("tau_reio",), ("n_s",),
             ("ln10^{10}A_s", "A_s"))

# parameters that only mean something with one non-linear model
_NONLINEAR_ONLY = {"c_min": "hmcode2016", "eta_0": "hmcode2016", "logT_AGN": "hmcode2020_feedback"}


def check_cosmo_parameters(
    sampled: Iterable[str], fixed: Iterable[str], nonlinear: str, backend: str
) -> None:
    """Check sampled and fixed names against :data:`COSMO_PARAMETERS` before any run.

    Args:
        sampled: names in the config's ``parameters``.
        fixed: names in the config's ``fixed``.
        nonlinear: the config's non-linear model.
        backend: backend name, for the messages.

    Raises:
        ConfigError: an unknown name, a name both sampled and fixed, a required parameter
            missing or given twice (``h`` and ``H0``), or a baryonic parameter with a non-linear
            model that does not use it.
    """
    sampled, fixed = list(sampled), list(fixed)
    for section, names in (("parameters", sampled), ("fixed", fixed)):
        for name in names:
            if name not in COSMO_PARAMETERS:
                raise ConfigError(
                    f"{section}.{name}",
                    unknown_name_message(f"parameter for backend '{backend}'", name,
                                         COSMO_PARAMETERS),
                )
    both = set(sampled) & set(fixed)
    if both:
        name = sorted(both)[0]
        raise ConfigError(f"fixed.{name}", "is also a sampled parameter; give it in one place")
    given = set(sampled) | set(fixed)
    for group in _REQUIRED:
        present = [n for n in group if n in given]
        if not present:
            raise ConfigError(
                "parameters",
                f"backend '{backend}' needs {' or '.join(repr(n) for n in group)}, sampled "
                "(in 'parameters') or fixed (in 'fixed')",
            )
        if len(present) > 1:
            raise ConfigError("parameters", f"give only one of {' and '.join(present)}")
    for name, model in _NONLINEAR_ONLY.items():
        if name in given and nonlinear != model:
            raise ConfigError(
                "nonlinear",
                f"parameter '{name}' is only used by nonlinear: {model}, got {nonlinear!r}",
            )


def complete(params: Mapping[str, float], fixed: Mapping[str, float]) -> dict[str, float]:
    """Sampled + fixed + :data:`DEFAULTS`, with ``h`` and ``A_s`` always present."""
    p = {**DEFAULTS, **{k: float(v) for k, v in fixed.items()},
         **{k: float(v) for k, v in params.items()}}
    if "h" not in p:
        p["h"] = p["H0"] / 100.0
    p.setdefault("H0", 100.0 * p["h"])
    if "A_s" not in p:
        p["A_s"] = math.exp(p["ln10^{10}A_s"]) * 1e-10
    return p
