"""A closed-form backend for dry runs: test a config, an executor or a cluster without CAMB.

It accepts any parameter names and every quantity; :func:`toy_outputs` gives its outputs in
closed form, so tests can check the store and the executors against it. Settings can make it
slow (``delay``) or misbehave above a parameter value, to rehearse failures: ``fail_above``
raises, ``hang_above`` sleeps for an hour (a hung Boltzmann call), ``crash_above`` ends the
process with exit code 3 (a Fortran ``STOP`` or a segmentation fault).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._backend import Backend
from ._request import CMB_QUANTITIES, DERIVED_NAMES, Request

__all__ = ["ToyBackend", "toy_outputs"]


def toy_outputs(params: Mapping[str, float], request: Request) -> dict[str, np.ndarray]:
    """Closed-form outputs of the toy backend for one parameter point.

    With s1 = sum_i x_i and s2 = sum_i (i + 1) x_i over the parameters in the given order:

    .. math::

        C^q_\\ell = 10^{-10} (1 + j_q) (1 + s_1^2) \\exp(-\\ell / 1000)
        \\ell^{-2} \\cos(\\ell / 50 + s_2)^{[q = te]}

    with j_q the index of q in ``("tt", "te", "ee", "bb", "pp")``; derived parameter j is
    ``(j + 1) s1 + s2``; P(k, z) = 10^4 (1 + s1^2) k / (1 + (k / 0.02)^2) / (1 + z)^2, and
    the non-linear one is that times (1 + k (1 + s2^2)).

    Args:
        params: parameter values (any names), in design order.
        request: the outputs wanted.

    Returns:
        Store key -> float64 array, shapes of ``request.shapes()``.
    """
    x = np.array(list(params.values()), dtype=np.float64)
    s1 = float(x.sum())
    s2 = float(np.sum(np.arange(1, x.size + 1) * x))
    out: dict[str, np.ndarray] = {}
    ell = request.ell.astype(np.float64)
    if request.cmb:
        rows = []
        for q in request.cmb:
            cl = 1e-10 * (1 + CMB_QUANTITIES.index(q)) * (1 + s1**2) * np.exp(-ell / 1000) / ell**2
            rows.append(cl * np.cos(ell / 50 + s2) if q == "te" else cl)
        out["spectra"] = np.stack(rows)
    if request.derived:
        out["derived"] = np.array(
            [(DERIVED_NAMES.index(d) + 1) * s1 + s2 if d in DERIVED_NAMES else s1
             for d in request.derived], dtype=np.float64,
        )
    k = np.asarray(request.k, dtype=np.float64)
    z = np.asarray(request.z, dtype=np.float64)[:, None]
    lin = 1e4 * (1 + s1**2) * k / (1 + (k / 0.02) ** 2) / (1 + z) ** 2
    if "pk_lin" in request.pk:
        out["pk_lin"] = lin
    if "pk_nonlin" in request.pk:
        out["pk_nonlin"] = lin * (1 + k * (1 + s2**2))
    return out


class ToyBackend(Backend):
    """Closed-form outputs (:func:`toy_outputs`) for any parameters; see the module docstring.

    Settings: ``delay`` (seconds per sample, 0), and ``fail_above``, ``hang_above``,
    ``crash_above`` (mappings ``{parameter: value}``, empty by default).
    """

    name = "toy"
    default_settings: dict[str, Any] = {
        "delay": 0.0,
        "fail_above": {},
        "hang_above": {},
        "crash_above": {},
    }

    def compute(self, params: Mapping[str, float]) -> dict[str, np.ndarray]:
        s = self.settings
        if s["delay"]:
            time.sleep(s["delay"])
        if _above(params, s["crash_above"]):
            os._exit(3)
        if _above(params, s["hang_above"]):
            time.sleep(3600.0)
        if _above(params, s["fail_above"]):
            raise RuntimeError(f"toy failure above {s['fail_above']}")
        return toy_outputs(params, self.request)


def _above(params: Mapping[str, float], limits: Mapping[str, float]) -> bool:
    return any(name in params and params[name] > value for name, value in limits.items())
