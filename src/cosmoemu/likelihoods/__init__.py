"""Likelihoods as pure JAX functions: Planck 2018 plik_lite, DESI DR2 BAO, KiDS-1000
COSEBIs, tomographic shear C_ℓ and 3x2pt (mock surveys), Gaussian problems, seismograms of
an earthquake hypocentre (``seismic_traces``).

Each follows the :class:`Likelihood` protocol (declared products and parameters, ``from_values``)
and is registered by name for configs (:func:`register_likelihood`,
:func:`likelihood_from_config`).
"""

from ._3x2pt import Tomographic3x2ptLikelihood
from ._bao import DesiBAO
from ._base import (
    COSMOLOGY,
    Likelihood,
    LikelihoodFactory,
    likelihood_from_config,
    likelihood_names,
    register_likelihood,
)
from ._gaussian import GaussianLikelihood
from ._kids1000 import KiDS1000COSEBIs, kids1000_nz, load_kids1000
from ._planck_lite import PlanckLite, cl_from_dl, planck_lite_loglike
from ._plik_lite_data import PlikLiteData, load_plik_lite_data
from ._seismic import (
    DEFAULT_SEISMIC_EMULATOR,
    SeismicTracesLikelihood,
    read_observed_traces,
    traces_loglike,
)
from ._shear import ShearClLikelihood, survey_nz

__all__ = [
    "COSMOLOGY",
    "DEFAULT_SEISMIC_EMULATOR",
    "DesiBAO",
    "GaussianLikelihood",
    "KiDS1000COSEBIs",
    "Likelihood",
    "LikelihoodFactory",
    "PlanckLite",
    "PlikLiteData",
    "SeismicTracesLikelihood",
    "ShearClLikelihood",
    "Tomographic3x2ptLikelihood",
    "cl_from_dl",
    "kids1000_nz",
    "likelihood_from_config",
    "likelihood_names",
    "load_kids1000",
    "load_plik_lite_data",
    "planck_lite_loglike",
    "read_observed_traces",
    "register_likelihood",
    "survey_nz",
    "traces_loglike",
]
