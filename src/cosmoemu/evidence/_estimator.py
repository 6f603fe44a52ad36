r"""The harmonic-mean estimate of :math:`1/Z` and its error, in log space and float64.

For posterior samples :math:`\theta_i` with integer weights :math:`c_i` and log ratios
:math:`\ell_i = \ln\varphi(\theta_i) - \ln[L(\theta_i)\pi(\theta_i)]`,

.. math::

    \hat\rho = \frac{\sum_i c_i e^{\ell_i}}{\sum_i c_i} \approx \frac{1}{Z}, \qquad
    \hat\rho_b = \frac{\sum_{i \in b} c_i e^{\ell_i}}{N_b}

over the whole set and over each block :math:`b` of :math:`N_b` samples. The blocks' scatter
gives the variance (batch means; it includes the chains' autocorrelation when a block is much
longer than the autocorrelation time):

.. math::

    \frac{\widehat{\operatorname{Var}}\,\hat\rho}{\hat\rho^2} =
        \frac{1}{(B-1)\,N}\sum_b N_b\,(r_b - 1)^2, \qquad r_b = \hat\rho_b/\hat\rho,

and :math:`\ln\hat Z = -\ln\hat\rho` with :math:`\sigma_{\ln Z} = \sqrt{\widehat{\operatorname
{Var}}\,\hat\rho}/\hat\rho`. Only ratios :math:`r_b` and log-sum-exps are ever formed, so
:math:`\ln(1/Z)` of any size is safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

__all__ = ["HarmonicEstimate", "harmonic_estimate"]


@dataclass(frozen=True)
class HarmonicEstimate:
    """The estimate and its diagnostics.

    Attributes:
        ln_inv_z: :math:`\\ln\\hat\\rho = -\\ln\\hat Z`.
        ln_z_err: standard error of :math:`\\ln\\hat Z` (= that of :math:`\\ln\\hat\\rho`).
        n_samples: total weight :math:`N` of the evaluated samples.
        n_blocks: number of blocks :math:`B` the error comes from.
        kurtosis: kurtosis of the block estimates, :math:`\\sqrt{N_b}(r_b - 1)`; 3 for
            Gaussian scatter. Large values mean rare large ratios dominate.
        error_of_error: relative standard error of ``ln_z_err`` itself, from ``kurtosis``
            and ``n_blocks``.
        log_ratio_range: :math:`\\max_i \\ell_i - \\min_i \\ell_i` (natural log).
        max_weight_fraction: largest share of :math:`\\hat\\rho` carried by one sample
            (with its weight: a point repeated :math:`c_i` times counts as one).
        ratio_ess: effective sample size of the ratios, :math:`(\\sum c e^\\ell)^2 /
            \\sum c\\,e^{2\\ell}` (counting each repeated sample once per repeat).
    """

    ln_inv_z: float
    ln_z_err: float
    n_samples: int
    n_blocks: int
    kurtosis: float
    error_of_error: float
    log_ratio_range: float
    max_weight_fraction: float
    ratio_ess: float


def harmonic_estimate(
    log_ratio: np.ndarray, counts: np.ndarray, block: np.ndarray
) -> HarmonicEstimate:
    """Estimate :math:`\\ln(1/Z)` and its error from per-sample log ratios.

    Args:
        log_ratio: :math:`\\ell_i`, shape ``(n,)``, finite (``-inf`` allowed: a zero ratio).
        counts: integer weights :math:`c_i >= 1`, shape ``(n,)``.
        block: block index of each sample, ``0 .. B-1``, shape ``(n,)``; every block non-empty.

    Returns:
        The estimate with its diagnostics (no check of them: see ``evidence``).
    """
    ell = np.asarray(log_ratio, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    block = np.asarray(block)
    n_blocks = int(block.max()) + 1
    n = float(c.sum())
    log_c = np.log(c)

    ln_rho = float(logsumexp(ell + log_c)) - math.log(n)
    n_b = np.bincount(block, weights=c, minlength=n_blocks)
    # per-block log-sum-exp, shifted by the global maximum so no block over/underflows
    shift = float(np.max(ell))
    sums = np.bincount(block, weights=c * np.exp(ell - shift), minlength=n_blocks)
    with np.errstate(divide="ignore"):
        ln_rho_b = np.log(sums) + shift - np.log(n_b)
    r_b = np.exp(ln_rho_b - ln_rho)  # ratios near 1: no overflow however large ln(1/Z) is

    if n_blocks > 1:
        u = np.sqrt(n_b) * (r_b - 1.0)  # common variance sigma_1^2 / rho^2 for every block
        rel_var = float(np.sum(u**2)) / ((n_blocks - 1) * n)
        m2 = float(np.mean(u**2))
        kurtosis = float(np.mean(u**4)) / m2**2 if m2 > 0 else float("nan")
        excess = max(kurtosis - (n_blocks - 3) / (n_blocks - 1), 0.0)
        error_of_error = 0.5 * math.sqrt(excess / n_blocks)
    else:
        rel_var, kurtosis, error_of_error = float("nan"), float("nan"), float("nan")

    w = ell + log_c - (ln_rho + math.log(n))  # log of each sample's share of the estimate
    finite = ell[np.isfinite(ell)]
    ess = math.exp(2 * float(logsumexp(ell + log_c)) - float(logsumexp(2 * ell + log_c)))
    return HarmonicEstimate(
        ln_inv_z=ln_rho,
        ln_z_err=math.sqrt(rel_var) if rel_var == rel_var else float("nan"),
        n_samples=int(round(n)),
        n_blocks=n_blocks,
        kurtosis=kurtosis,
        error_of_error=error_of_error,
        log_ratio_range=float(finite.max() - finite.min()) if finite.size else float("nan"),
        max_weight_fraction=float(np.exp(np.max(w))),
        ratio_ess=ess,
    )
