"""Likelihoods as pure JAX functions: Planck 2018 plik_lite, DESI DR2 BAO, Gaussian problems."""

from ._bao import DesiBAO
from ._gaussian import GaussianLikelihood
from ._planck_lite import PlanckLite, planck_lite_loglike
from ._plik_lite_data import PlikLiteData, load_plik_lite_data

__all__ = [
    "DesiBAO",
    "GaussianLikelihood",
    "PlanckLite",
    "PlikLiteData",
    "load_plik_lite_data",
    "planck_lite_loglike",
]
