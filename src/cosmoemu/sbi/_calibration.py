r"""Calibration of a posterior over many events: credible-region coverage and SBC ranks.

For ``B`` events with true parameters ``truth`` ``(B, D)`` and ``n`` posterior draws each,
``samples`` ``(B, n, D)``, each function gives the credible level at which the truth lies
(0: the centre of the posterior, 1: outside every draw); a calibrated posterior gives levels
uniform on [0, 1], so the coverage of the :math:`\alpha` region, the fraction of events with a
level below :math:`\alpha`, is :math:`\alpha` within the binomial error
:math:`\sqrt{\alpha(1-\alpha)/B}`.

- :func:`hpd_levels`: the highest-density region of the posterior's own density (needs
  :math:`\ln q` of the draws and of the truth);
- :func:`mahalanobis_levels`: the Gaussian ellipsoid of the draws' mean and covariance,
  :math:`F_{\chi^2_D}(d^2)`;
- :func:`central_levels`: the central 1-D interval of each parameter, :math:`|2F(t) - 1|`;
- :func:`sbc_ranks`: the simulation-based-calibration ranks (Talts et al. 2018) of each
  parameter, uniform on ``0..n`` when calibrated; :func:`rank_uniformity` tests them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["central_levels", "coverage", "hpd_levels", "mahalanobis_levels",
           "rank_uniformity", "sbc_ranks"]


def _check(samples: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(samples, np.float64)
    t = np.asarray(truth, np.float64)
    if s.ndim != 3 or t.shape != (s.shape[0], s.shape[2]):
        raise ValueError(f"samples (B, n, D) and truth (B, D) expected, got {s.shape} and "
                         f"{t.shape}")
    return s, t


def hpd_levels(log_q_samples: Any, log_q_truth: Any) -> np.ndarray:
    """Level of the highest-density region whose edge passes through the truth: the share of
    draws denser than the truth. ``(B, n)``, ``(B,)`` → ``(B,)``."""
    lq = np.asarray(log_q_samples, np.float64)
    lt = np.asarray(log_q_truth, np.float64)
    if lq.ndim != 2 or lt.shape != (lq.shape[0],):
        raise ValueError(f"log_q_samples (B, n) and log_q_truth (B,) expected, got {lq.shape} "
                         f"and {lt.shape}")
    return np.mean(lq > lt[:, None], axis=1)


def mahalanobis_levels(samples: Any, truth: Any) -> np.ndarray:
    r"""Gaussian-ellipsoid level :math:`F_{\chi^2_D}\big((t - m)^\top C^{-1} (t - m)\big)` with
    the draws' mean ``m`` and covariance ``C``. → ``(B,)``."""
    s, t = _check(samples, truth)
    m = s.mean(axis=1)
    out = np.empty(len(s))
    for b in range(len(s)):
        c = np.atleast_2d(np.cov(s[b], rowvar=False))
        d = t[b] - m[b]
        out[b] = d @ np.linalg.solve(c, d)
    return stats.chi2.cdf(out, s.shape[2])


def central_levels(samples: Any, truth: Any) -> np.ndarray:
    """Level of the central 1-D credible interval of each parameter reaching the truth,
    ``|2 F(t) - 1|`` with ``F`` the draws' CDF. → ``(B, D)``."""
    s, t = _check(samples, truth)
    f = (np.sum(s < t[:, None, :], axis=1) + 0.5 * np.sum(s == t[:, None, :], axis=1))
    return np.abs(2 * f / s.shape[1] - 1)


def sbc_ranks(samples: Any, truth: Any) -> np.ndarray:
    """SBC rank of each parameter: draws below the truth, ``0..n``. → ``(B, D)`` int."""
    s, t = _check(samples, truth)
    return np.sum(s < t[:, None, :], axis=1)


def coverage(levels: Any, alphas: Any = (0.68, 0.95)) -> dict[str, Any]:
    r"""Coverage of the ``alphas`` regions from ``levels`` ``(B,)`` or ``(B, D)``.

    Returns:
        ``{"alpha": [...], "coverage": (len(alphas), ...) list, "binomial_sd": [...],
        "n_events": B}``; ``binomial_sd`` is :math:`\sqrt{\alpha(1-\alpha)/B}`, the scatter
        of a calibrated posterior's coverage.
    """
    lv = np.asarray(levels, np.float64)
    a = np.asarray(alphas, np.float64)
    if lv.ndim not in (1, 2) or len(lv) == 0:
        raise ValueError(f"levels (B,) or (B, D) expected, got {lv.shape}")
    cov = np.stack([np.mean(lv < x, axis=0) for x in a])
    return {"alpha": a.tolist(), "coverage": cov.tolist(),
            "binomial_sd": np.sqrt(a * (1 - a) / len(lv)).tolist(), "n_events": int(len(lv))}


def rank_uniformity(ranks: Any, n_draws: int, bins: int = 10) -> dict[str, Any]:
    """Chi-square test that SBC ranks ``(B, D)`` (``0..n_draws``) are uniform, per parameter.

    Returns:
        ``{"bins", "counts": (D, bins), "chi2": (D,), "dof", "p_value": (D,)}``.
    """
    r = np.asarray(ranks)
    if r.ndim == 1:
        r = r[:, None]
    edges = np.linspace(0, n_draws + 1, bins + 1)
    counts = np.stack([np.histogram(r[:, j], bins=edges)[0] for j in range(r.shape[1])])
    expect = len(r) / bins
    chi2 = np.sum((counts - expect) ** 2 / expect, axis=1)
    return {"bins": bins, "counts": counts.tolist(), "chi2": chi2.tolist(), "dof": bins - 1,
            "p_value": stats.chi2.sf(chi2, bins - 1).tolist()}
