"""Parameter names inside Cobaya: ours, Cobaya/CAMB's, and how one becomes the other.

The emulators take CLASS/CosmoPower names (``omega_b``, ``omega_cdm``, ``h``, ``tau_reio``,
``n_s``, ``ln10^{10}A_s``). Cobaya parameter names must be Python identifiers, so
``ln10^{10}A_s`` cannot appear in a Cobaya input, and Cobaya users write CAMB's names. The
theory accepts either spelling of each input (one of them, not both):

=================  ==================  =====================================
emulator input     Cobaya / CAMB name  conversion
=================  ==================  =====================================
``omega_b``        ``ombh2``           equal
``omega_cdm``      ``omch2``           equal
``h``              ``H0``              h = H0 / 100
``tau_reio``       ``tau``             equal
``n_s``            ``ns``              equal
``ln10^{10}A_s``   ``logA`` or ``As``  equal, or ln(10¹⁰ A_s)
=================  ==================  =====================================

Further names (a Planck chain's ``omegabh2``) map onto these through the theory's ``renames``
option, as in Cobaya's CAMB interface.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

__all__ = ["INPUT_SPELLINGS", "to_emulator_inputs", "spellings_of"]

_IDENTITY: Callable[[float], float] = float

INPUT_SPELLINGS: dict[str, dict[str, Callable[[float], float]]] = {
    "omega_b": {"omega_b": _IDENTITY, "ombh2": _IDENTITY},
    "omega_cdm": {"omega_cdm": _IDENTITY, "omch2": _IDENTITY},
    "h": {"h": _IDENTITY, "H0": lambda v: float(v) / 100.0},
    "tau_reio": {"tau_reio": _IDENTITY, "tau": _IDENTITY},
    "n_s": {"n_s": _IDENTITY, "ns": _IDENTITY},
    "ln10^{10}A_s": {"logA": _IDENTITY, "As": lambda v: math.log(1e10 * float(v))},
}
"""Emulator input → {accepted Cobaya parameter name: conversion to the emulator's value}."""


def spellings_of(inputs: tuple[str, ...]) -> dict[str, str]:
    """Every accepted Cobaya name → the emulator input it gives, for an emulator's ``inputs``.

    An input that is a valid Python name and has no entry in :data:`INPUT_SPELLINGS` (a custom
    emulator's ``Omega_k``) is accepted under its own name.

    Raises:
        ValueError: an input that is neither in the table nor a Python identifier.
    """
    out: dict[str, str] = {}
    for name in inputs:
        table = INPUT_SPELLINGS.get(name)
        if table is None:
            if not name.isidentifier():
                raise ValueError(
                    f"emulator input '{name}' is not a valid Cobaya parameter name and has no "
                    f"Cobaya spelling; known ones: {', '.join(INPUT_SPELLINGS)}")
            table = {name: _IDENTITY}
        for spelling in table:
            out[spelling] = name
    return out


def to_emulator_inputs(values: Mapping[str, float], inputs: tuple[str, ...]) -> dict[str, float]:
    """Cobaya parameter values (any accepted spelling) → the emulator inputs, by our names.

    Args:
        values: Cobaya name → value; names that are no spelling of an input are ignored.
        inputs: the emulator inputs wanted.

    Raises:
        KeyError: an input given by none of its spellings.
    """
    out = {}
    for name in inputs:
        table = INPUT_SPELLINGS.get(name, {name: _IDENTITY})
        found = [s for s in table if s in values]
        if not found:
            raise KeyError(f"no value for emulator input '{name}' (give one of "
                           f"{', '.join(table)})")
        out[name] = table[found[0]](values[found[0]])
    return out
