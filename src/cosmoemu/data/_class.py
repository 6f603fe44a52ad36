"""The CLASS backend (optional extra: ``pip install 'cosmoemu[class]'``, PyPI ``classy``).

Same parameter names, quantities and derived names as the CAMB backend, translated:

* ``m_ncdm`` -> ``N_ncdm = 1`` of that mass, and ``N_ur = N_eff - 1.0132`` (the massive
  species contributes 1.0132 to N_eff at the default ``T_ncdm``; N_eff = 3.046 gives
  CLASS's standard ``N_ur = 2.0328``);
* ``w0_fld``/``wa_fld`` -> ``Omega_Lambda = 0`` and a PPF fluid;
* ``hmcode2016`` -> ``non_linear: hmcode, hmcode_version: 2015`` with ``c_min``/``eta_0``;
  ``hmcode2020`` -> ``hmcode_version: 2020``; ``hmcode2020_feedback`` ->
  ``2020_baryonic_feedback`` with ``log10T_heat_hmcode = logT_AGN``.

Derived parameters follow CLASS's definitions: ``zstar`` is where the visibility peaks (CAMB:
where the optical depth is 1), about 0.4 % lower than CAMB's, and ``thetastar``/``rstar`` are
taken there.

Settings: ``sigma8_kmax`` (2.0, 1/Mpc), ``lmax_margin`` (500: CLASS computes to
``l_max_scalars = lmax + 500``; with no margin its lensed C_ell are ~1 % off near lmax) and
``class_parameters`` (a mapping passed verbatim to CLASS, e.g. precision settings).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._backend import BoltzmannBackend
from ._params import COSMO_PARAMETERS, complete
from ._request import Request

__all__ = ["ClassBackend", "class_input"]

_NEFF_ONE_MASSIVE = 1.0132
_HMCODE = {"hmcode2016": "2015", "hmcode2020": "2020",
           "hmcode2020_feedback": "2020_baryonic_feedback"}
_DERIVED = {"thetastar": "100*theta_star", "rstar": "rs_star", "zstar": "z_star",
            "rdrag": "rs_d", "zdrag": "z_d"}


def class_input(
    p: Mapping[str, float], request: Request, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """CLASS input parameters for a completed parameter dict ``p`` (:func:`complete`)."""
    out: dict[str, Any] = {
        "omega_b": p["omega_b"], "omega_cdm": p["omega_cdm"], "h": p["h"],
        "tau_reio": p["tau_reio"], "n_s": p["n_s"], "A_s": p["A_s"], "alpha_s": p["alpha_s"],
        "Omega_k": p["Omega_k"],
    }
    if p["m_ncdm"] > 0:
        out.update(N_ncdm=1, m_ncdm=p["m_ncdm"], N_ur=p["N_eff"] - _NEFF_ONE_MASSIVE)
    else:
        out.update(N_ncdm=0, N_ur=p["N_eff"])
    if p["w0_fld"] != -1.0 or p["wa_fld"] != 0.0:
        out.update(Omega_Lambda=0.0, w0_fld=p["w0_fld"], wa_fld=p["wa_fld"])
    outputs = []
    if request.cmb:
        outputs += ["tCl", "pCl", "lCl"]
        out.update(lensing="yes", l_max_scalars=request.lmax + settings["lmax_margin"])
    needs_pk = bool(request.pk) or bool({"sigma8", "S8"} & set(request.derived))
    if needs_pk or request.nonlinear != "none":
        outputs.append("mPk")
        kmax = max(settings["sigma8_kmax"], 1.05 * max(request.k)) if request.pk else \
            settings["sigma8_kmax"]
        out["P_k_max_1/Mpc"] = kmax
        out["z_max_pk"] = max(request.z) if request.pk else 0.0
    if outputs:
        out["output"] = ",".join(outputs)
    if request.nonlinear == "halofit":
        out["non_linear"] = "halofit"
    elif request.nonlinear in _HMCODE:
        out.update(non_linear="hmcode", hmcode_version=_HMCODE[request.nonlinear])
        if request.nonlinear == "hmcode2016":
            out.update(c_min=p["c_min"], eta_0=p["eta_0"])
        elif request.nonlinear == "hmcode2020_feedback":
            out["log10T_heat_hmcode"] = p["logT_AGN"]
    out.update(settings["class_parameters"])
    return out


class ClassBackend(BoltzmannBackend):
    """CLASS through ``classy``: lensed CMB spectra, lensing potential, P(k, z), derived."""

    name = "class"
    distribution = "classy"
    module = "classy"
    extra = "class"
    parameters = COSMO_PARAMETERS
    default_settings: dict[str, Any] = {"sigma8_kmax": 2.0, "lmax_margin": 500,
                                        "class_parameters": {}}

    def __init__(
        self, request: Request, settings: Mapping[str, Any], fixed: Mapping[str, float]
    ) -> None:
        super().__init__(request, settings, fixed)
        from classy import Class

        self._cosmo = Class()

    def compute(self, params: Mapping[str, float]) -> dict[str, np.ndarray]:
        p = complete(params, self.fixed)
        req, cosmo = self.request, self._cosmo
        cosmo.set(class_input(p, req, self.settings))
        try:
            cosmo.compute()
            out: dict[str, np.ndarray] = {}
            if req.cmb:
                cl = cosmo.lensed_cl(req.lmax)
                out["spectra"] = np.stack([np.asarray(cl[q])[2:] for q in req.cmb])
            if req.derived:
                out["derived"] = self._derived(cosmo, p)
            k, z = np.asarray(req.k, np.float64), np.asarray(req.z, np.float64)
            for key in req.pk:
                flat = cosmo.get_pk_array(k, z, len(k), len(z), key == "pk_nonlin")
                out[key] = np.asarray(flat).reshape(len(z), len(k))
            return out
        finally:
            cosmo.struct_cleanup()
            cosmo.empty()

    def _derived(self, cosmo: Any, p: Mapping[str, float]) -> np.ndarray:
        names = [_DERIVED[d] for d in self.request.derived if d in _DERIVED]
        got = cosmo.get_current_derived_parameters(names) if names else {}
        values: dict[str, float] = {d: got[c] for d, c in _DERIVED.items() if c in got}
        omega_m = cosmo.Omega_m()
        if {"sigma8", "S8"} & set(self.request.derived):
            values["sigma8"] = cosmo.sigma8()
            values["S8"] = values["sigma8"] * np.sqrt(omega_m / 0.3)
        values.update(H0=100.0 * cosmo.h(), Omega_m=omega_m, age=cosmo.age())
        return np.array([values[d] for d in self.request.derived], dtype=np.float64)
