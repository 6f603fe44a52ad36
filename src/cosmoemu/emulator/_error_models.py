r"""Per-mode error models: what accuracy a spectrum needs, for weighted losses and validation.

The CMB model is a survey's Gaussian error on each :math:`C_\ell`,

.. math::
    \sigma_\ell^{XX} = \sqrt{\frac{2}{(2\ell+1) f_\mathrm{sky}}}\,(C_\ell^{XX} + N_\ell^{XX}),
    \qquad
    (\sigma_\ell^{TE})^2 = \frac{(C_\ell^{TE})^2
        + (C_\ell^{TT} + N_\ell^{T})(C_\ell^{EE} + N_\ell^{P})}{(2\ell+1) f_\mathrm{sky}},

with white noise through a Gaussian beam,
:math:`N_\ell = (\Delta_T\,\pi/10800)^2\, e^{\ell(\ell+1)\theta^2/(8\ln 2)} / T_\mathrm{cmb}^2`
(dimensionless, like raw :math:`C_\ell`), :math:`\Delta_P = \sqrt{2}\,\Delta_T`,
:math:`\theta` the beam FWHM in radians. Defaults: an SO-like survey, ``f_sky = 0.4``,
6 μK-arcmin, 1.4 arcmin beam, :math:`T_\mathrm{cmb}` = 2.7255 K.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..cosmology._constants import T_CMB

__all__ = ["T_CMB_K", "white_noise_cl", "cmb_sigma", "CMB_SPECTRA", "F_SKY", "NOISE_UK_ARCMIN",
           "BEAM_FWHM_ARCMIN"]

T_CMB_K = T_CMB
#: the default survey of :func:`cmb_sigma` (SO-like)
F_SKY = 0.4
NOISE_UK_ARCMIN = 6.0
BEAM_FWHM_ARCMIN = 1.4
CMB_SPECTRA = ("tt", "te", "ee", "bb")


def white_noise_cl(
    ell: np.ndarray, noise_uk_arcmin: float, beam_fwhm_arcmin: float, t_cmb_k: float = T_CMB_K
) -> np.ndarray:
    """White-noise power deconvolved by a Gaussian beam, dimensionless (divided by T_cmb^2).

    Args:
        ell: multipoles, shape ``(n_ell,)``.
        noise_uk_arcmin: map noise level in μK-arcmin.
        beam_fwhm_arcmin: beam full width at half maximum in arcmin.
        t_cmb_k: CMB temperature in K.

    Returns:
        :math:`N_\\ell`, shape ``(n_ell,)``.
    """
    ell = np.asarray(ell, np.float64)
    arcmin = np.pi / 10800.0
    theta = beam_fwhm_arcmin * arcmin
    n_uk2 = (noise_uk_arcmin * arcmin) ** 2 * np.exp(ell * (ell + 1) * theta**2 / (8 * np.log(2)))
    return n_uk2 / (t_cmb_k * 1e6) ** 2


def cmb_sigma(
    spectrum: str,
    ell: np.ndarray,
    cls: Mapping[str, np.ndarray],
    f_sky: float = F_SKY,
    noise_uk_arcmin: float = NOISE_UK_ARCMIN,
    beam_fwhm_arcmin: float = BEAM_FWHM_ARCMIN,
) -> np.ndarray:
    """Gaussian error of each raw :math:`C_\\ell` for a survey (see the module docstring).

    Args:
        spectrum: ``"tt"``, ``"te"``, ``"ee"`` or ``"bb"``.
        ell: multipoles, shape ``(n_ell,)``.
        cls: raw dimensionless spectra by name, each ``(..., n_ell)``; ``te`` needs ``tt``,
            ``te`` and ``ee``; the others need themselves.
        f_sky: sky fraction.
        noise_uk_arcmin: temperature noise (polarisation: times sqrt 2).
        beam_fwhm_arcmin: Gaussian beam FWHM.

    Returns:
        :math:`\\sigma_\\ell`, shape ``(..., n_ell)``.
    """
    if spectrum not in CMB_SPECTRA:
        raise ValueError(f"unknown CMB spectrum {spectrum!r}; allowed: {', '.join(CMB_SPECTRA)}")
    ell = np.asarray(ell, np.float64)
    n_t = white_noise_cl(ell, noise_uk_arcmin, beam_fwhm_arcmin)
    n_p = white_noise_cl(ell, np.sqrt(2.0) * noise_uk_arcmin, beam_fwhm_arcmin)
    modes = (2 * ell + 1) * f_sky
    if spectrum == "te":
        tt, te, ee = (np.asarray(cls[k], np.float64) for k in ("tt", "te", "ee"))
        return np.sqrt((te**2 + (tt + n_t) * (ee + n_p)) / modes)
    noise = n_t if spectrum == "tt" else n_p
    return np.sqrt(2.0 / modes) * (np.asarray(cls[spectrum], np.float64) + noise)
