"""Bayesian evidence; the learnt harmonic mean estimator today.

Fit a normalizing flow to half of the posterior samples, concentrate it (temperature
:math:`T < 1`, the variance of its Gaussian base; by default 0.8 up to 10 parameters and closer
to 1 above, :func:`default_temperature`), and average :math:`\\varphi/(L\\pi)` over the
other half: :math:`1/Z` with an error from the scatter of per-block estimates.

This module is itself callable: ``cosmoemu.evidence(...)`` is :func:`evidence`, whichever of
``import cosmoemu.evidence``, ``from cosmoemu import evidence`` or ``cosmoemu.evidence`` came
first (importing a subpackage binds its name on the parent package, so the function and the
subpackage have to be one object).
"""

import sys
import types
from typing import Any

from ..inference._chains import Chains
from ..inference._chains_io import read_chains
from ._bayes import BayesFactor, bayes_factor
from ._chains import as_chains
from ._evidence import (
    EvidenceError,
    EvidenceResult,
    EvidenceWarning,
    default_temperature,
    evidence,
)
from ._flows import FLOW_KINDS, FlowConfig
from ._problems import AnalyticProblem, gaussian_box, linear_gaussian
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
    "default_temperature",
    "evidence",
    "fit_flow",
    "gaussian_box",
    "linear_gaussian",
    "read_chains",
]


class _CallableModule(types.ModuleType):
    """The ``cosmoemu.evidence`` module; calling it calls :func:`evidence`."""

    def __call__(self, *args: Any, **kwargs: Any) -> EvidenceResult:
        return evidence(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
