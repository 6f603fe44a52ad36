"""Likelihoods as pure JAX functions: Planck 2018 plik_lite, Gaussian test problems."""

from ._gaussian import GaussianLikelihood
from ._planck_lite import PlanckLite, planck_lite_loglike
from ._plik_lite_data import PlikLiteData, load_plik_lite_data

__all__ = [
    "GaussianLikelihood",
    "PlanckLite",
    "PlikLiteData",
    "load_plik_lite_data",
    "planck_lite_loglike",
]
