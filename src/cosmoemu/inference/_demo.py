"""The ``cosmoemu demo`` posterior: Planck 2018 plik_lite TTTEEE + low-ell TT + τ prior, ΛCDM.

The config below is the same as ``examples/planck_lite_lcdm.yaml`` (a test keeps them equal).
Its τ prior is Planck's lowE-alone result (:data:`TAU_PRIORS`); ``cosmoemu demo --tau-prior
planck2018`` uses the TT,TE,EE+lowE posterior instead (:func:`demo_config`).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["DEMO_CONFIG", "DEMO_NOTES", "PLANCK2018", "PLANCK2018_NAME", "TAU_PRIORS",
           "demo_config"]

PLANCK2018_NAME = "Planck18 TTTEEE+lowE"

# Planck 2018 VI, Table 2, TT,TE,EE+lowE (68 % limits): mean, std.
PLANCK2018: dict[str, tuple[float, float]] = {
    "omega_b": (0.02236, 0.00015),
    "omega_cdm": (0.1202, 0.0014),
    "tau_reio": (0.0544, 0.0073),
    "ln10^{10}A_s": (3.045, 0.016),
    "n_s": (0.9649, 0.0044),
    "H0": (67.27, 0.60),
    "sigma8": (0.8120, 0.0073),
}

# The tau priors `cosmoemu demo --tau-prior` offers: (mean, std) of a Gaussian.
TAU_PRIORS: dict[str, tuple[float, float]] = {
    # Planck 2018 VI, eq. (5) / Sect. 3.3: low-ell EE (SimAll) alone, the tau constraint that
    # belongs beside the high-ell plik_lite likelihood
    "lowE": (0.0506, 0.0086),
    # Planck 2018 VI, Table 2, TT,TE,EE+lowE: already holds the high-ell pull on tau
    "planck2018": (0.0544, 0.0073),
}

# The explanation printed above the table, per tau prior (measured shifts: docs/demo.md).
DEMO_NOTES: dict[str, str] = {
    "lowE": (
        "Posterior. The tau prior N(0.0506, 0.0086) is Planck's lowE-alone result, the "
        "constraint that belongs beside plik_lite\n(high-ell TT,TE,EE), so the run reproduces "
        "Planck 2018 TT,TE,EE+lowE: every shift is within 0.3 sigma.\n"
        "(--tau-prior planck2018 uses N(0.0544, 0.0073), Planck's TT,TE,EE+lowE posterior, "
        "which counts\nthe high-ell pull on tau twice: tau, ln10^{10}A_s and sigma8 then sit "
        "~0.4-0.5 sigma high; docs/demo.md.)"
    ),
    "planck2018": (
        "Posterior. The tau prior N(0.0544, 0.0073) is Planck's TT,TE,EE+lowE result, which "
        "already holds the high-ell pull on tau;\nas a prior beside plik_lite that pull counts "
        "twice, so tau, ln10^{10}A_s and sigma8 sit ~0.4-0.5 sigma high\n(the default "
        "--tau-prior lowE, tau = 0.0506 +- 0.0086, keeps every shift within 0.3 sigma; "
        "docs/demo.md)."
    ),
}

DEMO_CONFIG: dict[str, Any] = {
    "theory": {
        "emulators": {
            "cmb_tt": "lcdm_cmb_tt",
            "cmb_te": "lcdm_cmb_te",
            "cmb_ee": "lcdm_cmb_ee",
            "derived": "lcdm_derived",
        },
    },
    "likelihood": {
        "planck_2018_lite": {"spectra": "TTTEEE", "low_ell_bins": True},
    },
    "params": {
        "omega_b": {"prior": {"min": 0.019, "max": 0.026}, "ref": 0.02237},
        "omega_cdm": {"prior": {"min": 0.08, "max": 0.17}, "ref": 0.1200},
        "h": {"prior": {"min": 0.55, "max": 0.85}, "ref": 0.6736},
        "tau_reio": {"prior": {"dist": "norm", "loc": 0.0506, "scale": 0.0086}, "ref": 0.0544},
        "n_s": {"prior": {"min": 0.88, "max": 1.06}, "ref": 0.9649},
        "ln10^{10}A_s": {"prior": {"min": 2.7, "max": 3.3}, "ref": 3.044},
        "A_planck": {"prior": {"dist": "norm", "loc": 1.0, "scale": 0.0025}, "ref": 1.0},
        "H0": {"derived": True},
        "Omega_m": {"derived": True},
        "sigma8": {"derived": True},
        "S8": {"derived": True},
        "thetastar": {"derived": True},
    },
    "sampler": {
        "nuts": {"chains": 4, "warmup": 100, "target_rhat": 0.01, "target_ess": 1000,
                 "max_draws": 5000, "seed": 0},
    },
    "output": "chains/planck_lite_lcdm",
}

PLOT_PARAMS = ["omega_b", "omega_cdm", "tau_reio", "ln10^{10}A_s", "n_s", "H0", "sigma8"]


def demo_config(tau_prior: str = "lowE") -> dict[str, Any]:
    """The demo's config with the τ prior ``tau_prior`` (a key of :data:`TAU_PRIORS`).

    Raises:
        ValueError: an unknown ``tau_prior``.
    """
    if tau_prior not in TAU_PRIORS:
        raise ValueError(f"unknown tau prior {tau_prior!r}; choose one of "
                         f"{', '.join(TAU_PRIORS)}")
    loc, scale = TAU_PRIORS[tau_prior]
    config = copy.deepcopy(DEMO_CONFIG)
    config["params"]["tau_reio"]["prior"] = {"dist": "norm", "loc": loc, "scale": scale}
    return config
