"""The CAMB backend (PyPI ``camb``).

With the default settings and the default neutrinos (:mod:`cosmoemu.data._params`) one call
does exactly what produced the shared training set::

    pars.set_cosmology(H0=100*h, ombh2=omega_b, omch2=omega_cdm, mnu=0.06, nnu=3.046, tau=tau_reio)
    pars.InitPower.set_params(As=exp(ln10^{10}A_s)*1e-10, ns=n_s)
    pars.set_for_lmax(lmax, lens_potential_accuracy=1)   # non-linear lensing (HMcode 2020)
    pars.set_matter_power(redshifts=[0.0], kmax=2.0)      # for sigma8

P(k, z) outputs add their redshifts and raise ``kmax`` to cover the k grid; CAMB's own k samples
are interpolated to the requested k with a cubic spline in (log k, log P).

Without CMB outputs, consecutive samples that differ only in the primordial (A_s, n_s, alpha_s)
and HMcode (c_min, eta_0, logT_AGN) parameters reuse the previous sample's transfer functions
(``CAMBdata.power_spectra_from_transfer``): P(k, z), linear and non-linear, and sigma8 are
bit-identical to a fresh run and cost 0.03 s instead of 1.7 s (idle) (grouped designs,
:mod:`cosmoemu.data._design`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._backend import BoltzmannBackend
from ._params import COSMO_PARAMETERS, complete
from ._request import Request

__all__ = ["CambBackend"]

# parameters that change P(k) but not the transfer functions
_POWER_ONLY = frozenset({"A_s", "ln10^{10}A_s", "n_s", "alpha_s", "c_min", "eta_0", "logT_AGN"})

_HALOFIT = {
    "halofit": "takahashi",
    "hmcode2016": "mead2016",
    "hmcode2020": "mead2020",
    "hmcode2020_feedback": "mead2020_feedback",
}


class CambBackend(BoltzmannBackend):
    """CAMB: lensed CMB spectra, the lensing potential, P(k, z) and derived parameters.

    Settings (``backend.settings``): ``lens_potential_accuracy`` (1), ``AccuracyBoost``,
    ``lAccuracyBoost``, ``lSampleBoost`` (1.0 each), ``sigma8_kmax`` (2.0, the transfer-function
    kmax in 1/Mpc when no P(k) is requested), ``k_per_logint`` (0: CAMB's choice),
    ``accurate_massive_neutrino_transfers`` (false).
    """

    name = "camb"
    distribution = "camb"
    module = "camb"
    parameters = COSMO_PARAMETERS
    default_settings = {
        "lens_potential_accuracy": 1,
        "AccuracyBoost": 1.0,
        "lAccuracyBoost": 1.0,
        "lSampleBoost": 1.0,
        "sigma8_kmax": 2.0,
        "k_per_logint": 0,
        "accurate_massive_neutrino_transfers": False,
    }

    def __init__(
        self, request: Request, settings: Mapping[str, Any], fixed: Mapping[str, float]
    ) -> None:
        super().__init__(request, settings, fixed)
        import camb

        self._camb = camb
        self._last: tuple[tuple, Any] | None = None  # (transfer key, CAMBdata) for reuse

    def _params(self, p: Mapping[str, float]) -> Any:
        camb, req, s = self._camb, self.request, self.settings
        pars = camb.CAMBparams()
        pars.set_cosmology(
            H0=p["H0"], ombh2=p["omega_b"], omch2=p["omega_cdm"], mnu=p["m_ncdm"],
            nnu=p["N_eff"], tau=p["tau_reio"], omk=p["Omega_k"],
        )
        if p["w0_fld"] != -1.0 or p["wa_fld"] != 0.0:
            pars.set_dark_energy(w=p["w0_fld"], wa=p["wa_fld"], dark_energy_model="ppf")
        pars.InitPower.set_params(As=p["A_s"], ns=p["n_s"], nrun=p["alpha_s"])
        if req.nonlinear != "none":
            pars.NonLinearModel.set_params(
                halofit_version=_HALOFIT[req.nonlinear], HMCode_A_baryon=p["c_min"],
                HMCode_eta_baryon=p["eta_0"], HMCode_logT_AGN=p["logT_AGN"],
            )
        pars.set_accuracy(AccuracyBoost=s["AccuracyBoost"], lAccuracyBoost=s["lAccuracyBoost"],
                          lSampleBoost=s["lSampleBoost"])
        lensing_accuracy = s["lens_potential_accuracy"] if req.nonlinear != "none" else 0
        if req.cmb:
            pars.set_for_lmax(req.lmax, lens_potential_accuracy=lensing_accuracy)
        else:
            pars.WantCls = False
        redshifts = sorted({0.0, *req.z}, reverse=True)
        kmax = max(s["sigma8_kmax"], 1.05 * max(req.k)) if req.pk else s["sigma8_kmax"]
        pars.set_matter_power(
            redshifts=redshifts, kmax=kmax, k_per_logint=s["k_per_logint"] or None,
            nonlinear=True if "pk_nonlin" in req.pk else None, silent=True,
            accurate_massive_neutrino_transfers=s["accurate_massive_neutrino_transfers"],
        )
        return pars

    def compute(self, params: Mapping[str, float]) -> dict[str, np.ndarray]:
        p = complete(params, self.fixed)
        req = self.request
        pars = self._params(p)
        res = self._results(p, pars)
        out: dict[str, np.ndarray] = {}
        if req.cmb:
            cl = res.get_lensed_scalar_cls(lmax=req.lmax, CMB_unit=None, raw_cl=True)
            cols = {"tt": cl[2:, 0], "ee": cl[2:, 1], "bb": cl[2:, 2], "te": cl[2:, 3]}
            if "pp" in req.cmb:
                cols["pp"] = res.get_lens_potential_cls(lmax=req.lmax, raw_cl=True)[2:, 0]
            out["spectra"] = np.stack([cols[q] for q in req.cmb]).astype(np.float64)
        if req.derived:
            out["derived"] = self._derived(res, pars)
        for key in req.pk:
            out[key] = self._pk(res, nonlinear=key == "pk_nonlin")
        return out

    def _results(self, p: Mapping[str, float], pars: Any) -> Any:
        """CAMB's results; the previous sample's transfer functions when only P(k)'s differ."""
        if self.request.cmb:
            return self._camb.get_results(pars)
        key = tuple(sorted((n, v) for n, v in p.items() if n not in _POWER_ONLY))
        if self._last is not None and self._last[0] == key:
            res = self._last[1]
            res.Params.InitPower.set_params(As=p["A_s"], ns=p["n_s"], nrun=p["alpha_s"])
            if self.request.nonlinear != "none":
                res.Params.NonLinearModel.set_params(
                    halofit_version=_HALOFIT[self.request.nonlinear],
                    HMCode_A_baryon=p["c_min"], HMCode_eta_baryon=p["eta_0"],
                    HMCode_logT_AGN=p["logT_AGN"],
                )
            res.power_spectra_from_transfer(silent=True)
            return res
        self._last = None
        res = self._camb.get_results(pars)
        self._last = (key, res)
        return res

    def _derived(self, res: Any, pars: Any) -> np.ndarray:
        d = res.get_derived_params()
        h = pars.H0 / 100.0
        omega_m = (pars.ombh2 + pars.omch2 + pars.omnuh2) / h**2
        sigma8 = float(res.get_sigma8_0())
        values = {
            "sigma8": sigma8,
            "S8": sigma8 * np.sqrt(omega_m / 0.3),
            "thetastar": d["thetastar"],
            "rstar": d["rstar"],
            "zstar": d["zstar"],
            "rdrag": d["rdrag"],
            "zdrag": d["zdrag"],
            "H0": pars.H0,
            "Omega_m": omega_m,
            "age": d["age"],
        }
        return np.array([values[n] for n in self.request.derived], dtype=np.float64)

    def _pk(self, res: Any, nonlinear: bool) -> np.ndarray:
        from scipy.interpolate import CubicSpline

        if nonlinear:
            k, z, pk = res.get_nonlinear_matter_power_spectrum(hubble_units=False, k_hunit=False)
        else:
            k, z, pk = res.get_linear_matter_power_spectrum(hubble_units=False, k_hunit=False)
        kk = np.asarray(self.request.k)
        if kk[0] < k[0] * (1 - 1e-9) or kk[-1] > k[-1] * (1 + 1e-9):
            raise ValueError(
                f"k grid [{kk[0]:.3g}, {kk[-1]:.3g}] /Mpc outside CAMB's [{k[0]:.3g}, "
                f"{k[-1]:.3g}] /Mpc; narrow the pk.k range"
            )
        out = np.empty((len(self.request.z), len(kk)))
        for i, zi in enumerate(self.request.z):
            j = int(np.argmin(np.abs(np.asarray(z) - zi)))
            spline = CubicSpline(np.log(k), np.log(pk[j]))
            out[i] = np.exp(spline(np.log(np.clip(kk, k[0], k[-1]))))
        return out
