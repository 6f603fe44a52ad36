r"""An analytic evidence problem, for validating estimators (tests, benchmarks, users).

Linear Gaussian model: data :math:`d_i = \theta_i + n_i`, :math:`n_i \sim \mathcal{N}(0, 1)`,
prior :math:`\theta_i \sim \mathcal{N}(0, s^2)`, :math:`i = 1..D`. Then

.. math::

    \ln Z = \sum_i \left[-\frac{d_i^2}{2(1 + s^2)} - \frac12 \ln\big(2\pi(1 + s^2)\big)\right],
    \qquad \theta_i \mid d \sim \mathcal{N}\!\left(\frac{s^2 d_i}{1 + s^2},
        \frac{s^2}{1 + s^2}\right).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["AnalyticProblem", "linear_gaussian"]


class AnalyticProblem(NamedTuple):
    """Exact posterior samples with their log posterior and the exact evidence.

    Attributes:
        samples: ``(n_chains, n_samples, dim)``.
        log_posterior: :math:`\\ln L + \\ln\\pi` at the samples, ``(n_chains, n_samples)``.
        ln_z: the exact :math:`\\ln Z`.
    """

    samples: np.ndarray
    log_posterior: np.ndarray
    ln_z: float


def linear_gaussian(
    dim: int,
    n_samples: int,
    *,
    n_chains: int = 1,
    prior_sigma: float = 10.0,
    ln_l_offset: float = 0.0,
    seed: int = 0,
) -> AnalyticProblem:
    """Exact posterior samples of the linear Gaussian model, with its exact :math:`\\ln Z`.

    The data are drawn from the model (true :math:`\\theta` from the prior) with ``seed``.

    Args:
        dim: number of parameters :math:`D`.
        n_samples: samples per chain.
        n_chains: independent chains.
        prior_sigma: prior standard deviation :math:`s`.
        ln_l_offset: a constant added to :math:`\\ln L` (and so to :math:`\\ln Z`), e.g.
            ``-800`` for an evidence that underflows float64.
        seed: seeds the data and the samples.
    """
    rng = np.random.default_rng(seed)
    s2 = prior_sigma**2
    data = rng.normal(0.0, prior_sigma, dim) + rng.standard_normal(dim)
    mean, var = data * s2 / (1 + s2), s2 / (1 + s2)
    theta = mean + np.sqrt(var) * rng.standard_normal((n_chains, n_samples, dim))
    log_like = (
        -0.5 * np.sum((data - theta) ** 2, axis=-1) - 0.5 * dim * np.log(2 * np.pi) + ln_l_offset
    )
    log_prior = -0.5 * np.sum(theta**2, axis=-1) / s2 - 0.5 * dim * np.log(2 * np.pi * s2)
    ln_z = float(np.sum(-0.5 * data**2 / (1 + s2) - 0.5 * np.log(2 * np.pi * (1 + s2))))
    return AnalyticProblem(theta, log_like + log_prior, ln_z + ln_l_offset)
