"""Convergence diagnostics: rank-normalised split R-hat, bulk and tail ESS (numpy).

Implemented from Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of MCMC", Bayesian
Analysis 16, 667. Inputs are draws of one quantity, shape ``(n_chains, n_draws)``.

* split: each chain is cut in two halves (2M chains of N/2 draws);
* rank normalisation: z = Φ⁻¹((r − 3/8)/(S + 1/4)), r the average rank among all S draws;
* R-hat = max(R̂ of z, R̂ of the rank-normalised |x − median|);
* bulk ESS = ESS of z; tail ESS = min(ESS of 1{x ≤ q₀.₀₅}, ESS of 1{x ≤ q₀.₉₅});
* ESS from the multi-chain autocorrelation with Geyer's initial monotone sequence.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

__all__ = ["split_rhat", "ess_bulk", "ess_tail", "effective_sample_size", "diagnose"]


def _as_chains(x: ArrayLike) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected draws of shape (n_chains, n_draws), got {x.shape}")
    if x.shape[1] < 4:
        raise ValueError(f"need at least 4 draws per chain, got {x.shape[1]}")
    return x


def _split(x: np.ndarray) -> np.ndarray:
    half = x.shape[1] // 2
    # with an odd count the middle draw is dropped
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def _rank_normalise(x: np.ndarray) -> np.ndarray:
    ranks = stats.rankdata(x, method="average").reshape(x.shape)
    return special.ndtri((ranks - 0.375) / (x.size + 0.25))


def _rhat(x: np.ndarray) -> float:
    m, n = x.shape
    w = np.mean(np.var(x, axis=1, ddof=1))
    b_over_n = np.var(np.mean(x, axis=1), ddof=1)
    if w == 0:
        return np.nan
    var_plus = (n - 1) / n * w + b_over_n
    return float(np.sqrt(var_plus / w))


def _autocov(x: np.ndarray) -> np.ndarray:
    """Biased autocovariance of each chain (divided by n), via FFT, shape ``(m, n)``."""
    m, n = x.shape
    centred = x - x.mean(axis=1, keepdims=True)
    size = 2 ** int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n] / n


def effective_sample_size(x: ArrayLike) -> float:
    """ESS of draws ``(n_chains, n_draws)`` (not split, not rank-normalised).

    Multi-chain autocorrelation ρ_t = 1 − (W − mean_m C_m(t)) / var⁺ summed over Geyer's
    initial positive and monotone sequence of pairs; ``ESS = M N / τ``.
    """
    x = _as_chains(x)
    m, n = x.shape
    acov = _autocov(x)
    chain_var = acov[:, 0] * n / (n - 1.0)
    w = chain_var.mean()
    var_plus = w * (n - 1.0) / n
    if m > 1:
        var_plus += np.var(x.mean(axis=1), ddof=1)
    if var_plus <= 0 or not np.isfinite(var_plus):
        return np.nan
    rho = 1.0 - (w - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # pairs Γ_k = ρ_{2k} + ρ_{2k+1}; keep while positive, then enforce monotone decrease
    n_pairs = n // 2
    gamma = rho[: 2 * n_pairs : 2] + rho[1 : 2 * n_pairs : 2]
    positive = np.nonzero(gamma <= 0)[0]
    k_max = positive[0] if len(positive) else n_pairs
    gamma = np.minimum.accumulate(gamma[:k_max]) if k_max > 0 else gamma[:0]
    tau = -1.0 + 2.0 * gamma.sum()
    tau = max(tau, 1.0 / np.log10(m * n))
    return float(m * n / tau)


def split_rhat(x: ArrayLike) -> float:
    """Rank-normalised split R-hat: max of the bulk and the folded (tail) value."""
    x = _split(_as_chains(x))
    bulk = _rhat(_rank_normalise(x))
    folded = _rhat(_rank_normalise(np.abs(x - np.median(x))))
    return float(np.nanmax([bulk, folded]))


def ess_bulk(x: ArrayLike) -> float:
    """Bulk effective sample size: ESS of the rank-normalised split chains."""
    return effective_sample_size(_rank_normalise(_split(_as_chains(x))))


def ess_tail(x: ArrayLike) -> float:
    """Tail effective sample size: min over the 5 % and 95 % quantile indicators."""
    x = _split(_as_chains(x))
    out = []
    for q in (0.05, 0.95):
        indicator = (x <= np.quantile(x, q)).astype(np.float64)
        out.append(effective_sample_size(indicator))
    return float(np.nanmin(out))


def diagnose(draws: ArrayLike) -> dict[str, np.ndarray]:
    """R-hat and ESS of every parameter of ``draws`` ``(n_chains, n_draws, n_params)``.

    Returns:
        dict with arrays ``(n_params,)``: ``rhat``, ``ess_bulk``, ``ess_tail``.
    """
    draws = np.asarray(draws, dtype=np.float64)
    if draws.ndim != 3:
        raise ValueError(f"expected (n_chains, n_draws, n_params), got {draws.shape}")
    cols = [draws[:, :, i] for i in range(draws.shape[2])]
    return {
        "rhat": np.array([split_rhat(c) for c in cols]),
        "ess_bulk": np.array([ess_bulk(c) for c in cols]),
        "ess_tail": np.array([ess_tail(c) for c in cols]),
    }
