"""cosmoemu's likelihoods as Cobaya likelihoods: ``PlanckLite`` and ``DesiBAO``.

They ask the Cobaya provider for C_ℓ, distances and r_drag by Cobaya's product names, so they run
with any theory that gives those — :class:`~cosmoemu.cobaya.CosmoEmu`, ``camb`` or ``classy``::

    likelihood:
      cosmoemu.cobaya.PlanckLite: {spectra: TTTEEE, low_ell_bins: true}
      cosmoemu.cobaya.DesiBAO:

The numbers are those of :class:`cosmoemu.likelihoods.PlanckLite` (evaluated, jitted, in
float64) and :class:`cosmoemu.likelihoods.DesiBAO` (its data and whitening, with D_M = (1+z) D_A
and D_H = c/H(z) from the provider, so curvature is handled by the theory code).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from cobaya.likelihood import Likelihood
from cobaya.log import LoggedError

from ..cosmology import C_KM_S
from ..likelihoods import DesiBAO as _DesiBAO
from ..likelihoods import PlanckLite as _PlanckLite
from ..likelihoods import load_plik_lite_data

__all__ = ["PlanckLite", "DesiBAO"]


class PlanckLite(Likelihood):
    """Planck 2018 plik_lite (TTTEEE or TT, optionally the two low-ℓ TT bins), from cosmoemu.

    Options:
        spectra: ``TTTEEE`` (default) or ``TT``.
        low_ell_bins: add the two low-ℓ TT bins (ℓ 2–29) (default False, as Cobaya's
            ``planck_2018_highl_plik.TTTEEE_lite_native``).
        data_file: an npz of the shipped layout (default the shipped plik_lite v22 data).

    Parameters: ``A_planck`` (Planck's calibration prior N(1, 0.0025), as Cobaya's).
    """

    spectra: str = "TTTEEE"
    low_ell_bins: bool = False
    data_file: str | None = None
    type = "CMB"
    # exactly Cobaya's planck_calib defaults, so both plik_lite implementations can run together
    params = {
        "A_planck": {
            "prior": {"dist": "norm", "loc": 1, "scale": 0.0025},
            "ref": {"dist": "norm", "loc": 1, "scale": 0.002},
            "proposal": 0.0005,
            "latex": r"y_\mathrm{cal}",
            "renames": "calPlanck",
        }
    }

    def initialize(self) -> None:
        try:
            data = None if self.data_file is None else load_plik_lite_data(self.data_file)
            self.lik = _PlanckLite(self.spectra, low_ell_bins=bool(self.low_ell_bins), data=data)
        except (ValueError, FileNotFoundError) as err:
            raise LoggedError(self.log, "%s", err) from err
        lik = self.lik
        self._loglike = jax.jit(lambda tt, te, ee, a: lik(tt, te, ee, a))

    def get_requirements(self) -> dict[str, Any]:
        """Lensed C_ℓ: TT to ℓ 2508, TE and EE to 1996 (for TTTEEE)."""
        lmax = {k.split("_")[1]: int(v["ell"][1]) for k, v in self.lik.products.items()}
        return {"Cl": lmax}

    def logp(self, **params_values) -> float:
        """−χ²/2 of the provider's C_ℓ (asked as raw, dimensionless, ``units="1"``)."""
        cls = self.provider.get_Cl(ell_factor=False, units="1")
        spectra = [np.asarray(cls[c][2:], np.float64) if c in cls else None
                   for c in ("tt", "te", "ee")]
        with jax.enable_x64(True):
            return float(self._loglike(*spectra, np.float64(params_values["A_planck"])))


class DesiBAO(Likelihood):
    """DESI DR2 BAO (D_V, D_M, D_H over r_d at 7 redshifts), from cosmoemu.

    Options:
        data_dir: folder with the DESI mean and covariance files (default the shipped ones).

    Requires ``angular_diameter_distance`` and ``Hubble`` at the data redshifts and the derived
    parameter ``rdrag`` [Mpc] (CAMB's name; cosmoemu's derived emulator gives it too).
    """

    data_dir: str | None = None
    type = "BAO"

    def initialize(self) -> None:
        try:
            self.bao = _DesiBAO(self.data_dir)
        except (ValueError, FileNotFoundError) as err:
            raise LoggedError(self.log, "%s", err) from err
        self.z = np.asarray(self.bao.z, np.float64)
        self.kinds = np.asarray(self.bao.kinds)

    def get_requirements(self) -> dict[str, Any]:
        """D_A and H at the data redshifts, and ``rdrag``."""
        return {"angular_diameter_distance": {"z": self.z}, "Hubble": {"z": self.z},
                "rdrag": None}

    def model(self) -> np.ndarray:
        """The predicted D_V/r_d, D_M/r_d, D_H/r_d of the data vector, shape ``(n_data,)``."""
        dm = (1.0 + self.z) * self.provider.get_angular_diameter_distance(self.z)
        dh = C_KM_S / self.provider.get_Hubble(self.z, units="km/s/Mpc")
        dv = np.cbrt(self.z * dm**2 * dh)
        out = np.where(self.kinds == 0, dv, np.where(self.kinds == 1, dm, dh))
        return out / self.provider.get_param("rdrag")

    def logp(self, **params_values) -> float:
        """−χ²/2 (no normalisation constant), as :meth:`cosmoemu.likelihoods.DesiBAO.loglike`."""
        r = np.asarray(self.bao.whitening) @ (self.model() - np.asarray(self.bao.data))
        return float(-0.5 * r @ r)
