"""Cobaya interoperability: cosmoemu's emulators as a Cobaya theory, its likelihoods as Cobaya
likelihoods, and its plik_lite data for Cobaya's own plik_lite likelihood.

Needs ``cobaya`` (``pip install cobaya``; in the ``test`` extra). In a Cobaya input::

    theory:
      cosmoemu.cobaya.CosmoEmu:                 # Cl (tt, te, ee, pp), H(z), distances,
        emulators: {cmb_tt: lcdm_cmb_tt, ...}   # sigma8, rdrag, thetastar (100 theta_*), ...
    likelihood:
      cosmoemu.cobaya.PlanckLite: {low_ell_bins: true}
      cosmoemu.cobaya.DesiBAO:
    params:
      ombh2: ...      # or omega_b; omch2/omega_cdm, H0/h, tau/tau_reio, ns/n_s, logA or As

See :class:`CosmoEmu` for the conventions and ``examples/cobaya_planck_lite.yaml``.
"""

try:
    import cobaya as _cobaya  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised only without cobaya
    raise ImportError(
        "cosmoemu.cobaya needs Cobaya: pip install cobaya (or pip install 'cosmoemu[test]')"
    ) from err

from ._likelihoods import DesiBAO, PlanckLite
from ._names import INPUT_SPELLINGS
from ._plik_dataset import DATASET_FILE, write_plik_lite_dataset
from ._theory import DEFAULT_EMULATORS, CosmoEmu

__all__ = [
    "DATASET_FILE",
    "DEFAULT_EMULATORS",
    "INPUT_SPELLINGS",
    "CosmoEmu",
    "DesiBAO",
    "PlanckLite",
    "write_plik_lite_dataset",
]
