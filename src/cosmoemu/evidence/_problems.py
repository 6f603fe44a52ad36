r"""Analytic evidence problems, for validating estimators (tests, benchmarks, users).

:func:`linear_gaussian` — linear Gaussian model: data :math:`d_i = \theta_i + n_i`,
:math:`n_i \sim \mathcal{N}(0, 1)`, prior :math:`\theta_i \sim \mathcal{N}(0, s^2)`,
:math:`i = 1..D`. Then

.. math::

    \ln Z = \sum_i \left[-\frac{d_i^2}{2(1 + s^2)} - \frac12 \ln\big(2\pi(1 + s^2)\big)\right],
    \qquad \theta_i \mid d \sim \mathcal{N}\!\left(\frac{s^2 d_i}{1 + s^2},
        \frac{s^2}{1 + s^2}\right).

:func:`gaussian_box` — a normalised Gaussian likelihood :math:`L = \mathcal N(\theta; \mu,
\Sigma)` of any covariance times a uniform prior on the box :math:`\mu_i \pm K\sigma_i`
(:math:`\sigma_i^2 = \Sigma_{ii}`), of volume :math:`V = \prod_i 2K\sigma_i`:

.. math::

    Z = \frac{P_\Sigma(\text{box})}{V}, \qquad
    0 \le -\ln P_\Sigma(\text{box}) \lesssim 2D\,\Phi(-K)
    \quad\text{(union bound; } 2.4\cdot10^{-21} \text{ for } D = 157,\ K = 10),

so :math:`\ln Z = -\ln V` to that accuracy; the posterior is the Gaussian truncated to the box.
Draws are exact (independent), or a stationary AR(1) chain per chain (autocorrelation
:math:`\rho` at lag 1 in every whitened direction, effective sample size
:math:`n(1-\rho)/(1+\rho)`), as correlated as an MCMC sampler's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.linalg import solve_triangular
from scipy.special import log_ndtr

__all__ = ["AnalyticProblem", "gaussian_box", "linear_gaussian"]


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


def linear_gaussian_ln_z(x_obs: ArrayLike, prior_sigma: float = 1.0) -> np.ndarray:
    """Exact :math:`\\ln Z` of the linear Gaussian model (x = θ + N(0, 1), θ ~ N(0, s²) per
    component) for data ``x_obs`` ``(..., dim)`` → ``(...)``:
    Σ_i [−x_i²/(2(1 + s²)) − ½ ln(2π(1 + s²))]."""
    x = np.asarray(x_obs, dtype=np.float64)
    v = 1.0 + prior_sigma**2
    return np.sum(-0.5 * x**2 / v - 0.5 * np.log(2 * np.pi * v), axis=-1)


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
    ln_z = float(linear_gaussian_ln_z(data, prior_sigma))
    return AnalyticProblem(theta, log_like + log_prior, ln_z + ln_l_offset)


def gaussian_box(
    mean: np.ndarray,
    cov: np.ndarray,
    n_samples: int,
    *,
    n_chains: int = 1,
    half_width: float = 10.0,
    rho: float = 0.0,
    seed: int = 0,
) -> AnalyticProblem:
    """Gaussian likelihood ``N(mean, cov)`` in a uniform prior box of ``±half_width`` sigma.

    Args:
        mean: :math:`\\mu`, shape ``(dim,)``.
        cov: :math:`\\Sigma`, shape ``(dim, dim)``, symmetric positive definite.
        n_samples: draws per chain.
        n_chains: chains.
        half_width: :math:`K`, the box's half-width in marginal standard deviations.
        rho: lag-1 autocorrelation of each chain (0: independent draws), in [0, 1).
        seed: seeds the draws.

    Returns:
        :class:`AnalyticProblem`: ``samples`` ``(n_chains, n_samples, dim)``,
        ``log_posterior`` ``(n_chains, n_samples)`` (float64, computed from the samples),
        ``ln_z`` :math:`= -\\ln V`.

    Raises:
        ValueError: ``cov`` not positive definite, ``rho`` outside [0, 1), or a box so narrow
            that the truncation changes :math:`\\ln Z` by more than 1e-9.
    """
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    dim = mean.shape[0]
    if cov.shape != (dim, dim):
        raise ValueError(f"cov must have shape ({dim}, {dim}), got {cov.shape}")
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"rho must be in [0, 1), got {rho!r}")
    # bound on the prior mass the box cuts off: ln Z = -ln V to within it
    cut = 2 * dim * math.exp(float(log_ndtr(-half_width)))
    if cut > 1e-9:
        raise ValueError(f"a box of ±{half_width} sigma cuts up to {cut:.2g} of the likelihood "
                         "mass (> 1e-9): widen it")
    sigma = np.sqrt(np.diag(cov))
    try:
        chol = np.linalg.cholesky(cov / np.outer(sigma, sigma)) * sigma[:, None]
    except np.linalg.LinAlgError as err:
        raise ValueError("cov is not positive definite") from err
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((n_chains, n_samples, dim))
    y = np.empty_like(eps)
    y[:, 0] = eps[:, 0]  # stationary start: every draw is N(0, 1) in the whitened space
    for t in range(1, n_samples):
        y[:, t] = rho * y[:, t - 1] + math.sqrt(1 - rho**2) * eps[:, t]
    theta = mean + y @ chol.T
    if np.any(np.abs(theta - mean) > half_width * sigma):
        # probability < cut per draw; the posterior is the Gaussian truncated to the box
        raise RuntimeError("a draw fell outside the box; use another seed")
    ln_volume = float(np.sum(np.log(2 * half_width * sigma)))
    white = solve_triangular(chol, (theta - mean).reshape(-1, dim).T, lower=True).T
    log_like = (-0.5 * np.sum(white**2, axis=-1) - float(np.sum(np.log(np.diag(chol))))
                - 0.5 * dim * math.log(2 * math.pi))
    log_post = log_like.reshape(n_chains, n_samples) - ln_volume
    return AnalyticProblem(theta, log_post, -ln_volume)
