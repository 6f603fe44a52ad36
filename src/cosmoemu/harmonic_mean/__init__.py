"""Bayesian evidence with the learnt harmonic mean estimator (exported as ``cosmoemu.evidence``).

Fit a normalizing flow to half of the posterior samples, concentrate it (temperature
:math:`T < 1`, the variance of its Gaussian base), and average :math:`\\varphi/(L\\pi)` over the
other half: :math:`1/Z` with an error from the scatter of per-block estimates.
"""

from ._bayes import BayesFactor, bayes_factor
from ._chains import Chains, as_chains
from ._evidence import EvidenceError, EvidenceResult, EvidenceWarning, evidence
from ._flows import FLOW_KINDS, FlowConfig
from ._io import read_chains
from ._problems import AnalyticProblem, linear_gaussian
from ._train import FittedFlow, fit_flow

__all__ = [
    "FLOW_KINDS",
    "AnalyticProblem",
    "BayesFactor",
    "Chains",
    "EvidenceError",
    "EvidenceResult",
    "EvidenceWarning",
    "FittedFlow",
    "FlowConfig",
    "as_chains",
    "bayes_factor",
    "evidence",
    "fit_flow",
    "linear_gaussian",
    "read_chains",
]
