"""Simulation-based inference and its model evidence: NLE, NPE and NRE on flowjax.

``est = cosmoemu.sbi.train(method, theta, x, prior, seed=0)`` with ``method`` in
``{"nle", "npe", "nre"}``; ``cosmoemu.sbi.evidence(est, x_obs)`` gives :math:`\\ln p(x_o)` of an
NLE through NUTS and the learnt harmonic mean (:func:`cosmoemu.evidence`), and refuses, saying
why, for an NPE or an NRE; ``cosmoemu.sbi.posterior`` samples any of the three;
``save_estimator`` / ``load_estimator`` write and read ``STEM.npz`` + ``STEM.json``.

Amortised posterior for data with known white Gaussian noise from noise-free simulations in a
box prior: ``post = train_amortised(theta, x_clean, low, high, sigma)`` (PCA, posterior-mean
regression, conditional flow; :mod:`._amortised`), ``post.sample(x, n)``,
``post.log_prob(theta, x)``, ``save_amortised`` / ``load_amortised``; calibration over many
events: ``coverage`` of ``hpd_levels`` / ``mahalanobis_levels`` / ``central_levels``,
``sbc_ranks`` and ``rank_uniformity``.

References:
    Spurio Mancini, Docherty, Price & McEwen 2023, arXiv:2207.04037 (evidence for SBI with the
    learnt harmonic mean); Papamakarios, Sterratt & Murray 2019 (NLE); Greenberg, Nonnenmacher
    & Macke 2019 (NPE); Hermans, Begy & Louppe 2020 (NRE).
"""

from ._amortised import AmortisedConfig, AmortisedPosterior, train_amortised
from ._amortised_io import load_amortised, save_amortised
from ._calibration import (
    central_levels,
    coverage,
    hpd_levels,
    mahalanobis_levels,
    rank_uniformity,
    sbc_ranks,
)
from ._estimator import EnsembleLikelihood, Estimator, Regression
from ._evidence import EVIDENCE_NUTS, SBIEvidence, evidence, posterior
from ._io import EstimatorFileError, load_estimator, save_estimator
from ._nets import METHODS, NetConfig
from ._problems import linear_gaussian_ln_z, linear_gaussian_prior, linear_gaussian_simulations
from ._train import train

__all__ = [
    "AmortisedConfig",
    "AmortisedPosterior",
    "central_levels",
    "coverage",
    "hpd_levels",
    "load_amortised",
    "mahalanobis_levels",
    "rank_uniformity",
    "save_amortised",
    "sbc_ranks",
    "train_amortised",
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
