"""Simulation-based inference and its model evidence: NLE, NPE and NRE on flowjax.

``est = cosmoemu.sbi.train(method, theta, x, prior, seed=0)`` with ``method`` in
``{"nle", "npe", "nre"}``; ``cosmoemu.sbi.evidence(est, x_obs)`` gives :math:`\\ln p(x_o)` of an
NLE through NUTS and the learnt harmonic mean (:func:`cosmoemu.evidence`), and refuses, saying
why, for an NPE or an NRE; ``cosmoemu.sbi.posterior`` samples any of the three;
``save_estimator`` / ``load_estimator`` write and read ``STEM.npz`` + ``STEM.json``.

References:
    Spurio Mancini, Docherty, Price & McEwen 2023, arXiv:2207.04037 (evidence for SBI with the
    learnt harmonic mean); Papamakarios, Sterratt & Murray 2019 (NLE); Greenberg, Nonnenmacher
    & Macke 2019 (NPE); Hermans, Begy & Louppe 2020 (NRE).
"""

from ._estimator import EnsembleLikelihood, Estimator, Regression
from ._evidence import EVIDENCE_NUTS, SBIEvidence, evidence, posterior
from ._io import EstimatorFileError, load_estimator, save_estimator
from ._nets import METHODS, NetConfig
from ._problems import linear_gaussian_ln_z, linear_gaussian_prior, linear_gaussian_simulations
from ._train import train

__all__ = [
    "EVIDENCE_NUTS",
    "METHODS",
    "EnsembleLikelihood",
    "Estimator",
    "EstimatorFileError",
    "NetConfig",
    "Regression",
    "SBIEvidence",
    "evidence",
    "linear_gaussian_ln_z",
    "linear_gaussian_prior",
    "linear_gaussian_simulations",
    "load_estimator",
    "posterior",
    "save_estimator",
    "train",
]
