"""Small float64 linear-algebra helpers shared by priors and likelihoods."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

__all__ = ["gaussian_factors", "inverse_cholesky", "unpack_upper"]


def gaussian_factors(cov: np.ndarray, who: str = "") -> tuple[np.ndarray, np.ndarray, float]:
    """Cholesky factor, whitening matrix and log-normalisation of a Gaussian covariance.

    Args:
        cov: symmetric positive definite ``(n, n)``, float64.
        who: a prefix for error messages (e.g. ``"GaussianLikelihood: "``).

    Returns:
        ``(L, W, ln_norm)`` with ``cov = L Lᵀ``, ``W = L⁻¹`` (so ``|W r|²`` is the χ²) and
        ``ln_norm = −½ n ln 2π − ½ ln det cov``.

    Raises:
        ValueError: ``cov`` is not symmetric (to 1e-10 relative) or not positive definite.
    """
    n = cov.shape[0]
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=0.0):
        raise ValueError(f"{who}cov is not symmetric")
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as err:
        raise ValueError(f"{who}cov is not positive definite") from err
    whitening = scipy.linalg.solve_triangular(chol, np.eye(n), lower=True)
    log_norm = float(-0.5 * n * math.log(2 * math.pi) - np.sum(np.log(np.diag(chol))))
    return chol, whitening, log_norm


def inverse_cholesky(blocks: np.ndarray) -> np.ndarray:
    """L_b⁻¹ for each block C_b = L_b L_bᵀ, ``(n, m, m)`` → ``(n, m, m)`` float64 (the batched
    whitening of :func:`gaussian_factors`): χ² = Σ_b |L_b⁻¹ r_b|².

    Raises:
        ValueError: a block is not positive definite.
    """
    try:
        chol = np.linalg.cholesky(np.asarray(blocks, np.float64))
    except np.linalg.LinAlgError as err:
        raise ValueError("a covariance block is not positive definite") from err
    return np.linalg.inv(chol)


def unpack_upper(upper: np.ndarray) -> np.ndarray:
    """The symmetric matrix whose upper triangle (``np.triu_indices`` order) is ``upper``: the
    packed covariances of the shipped data files."""
    n = int(round((math.sqrt(8 * upper.size + 1) - 1) / 2))
    if n * (n + 1) // 2 != upper.size:
        raise ValueError(f"{upper.size} values do not fill the upper triangle of a square matrix")
    out = np.zeros((n, n))
    out[np.triu_indices(n)] = upper
    return out + out.T - np.diag(np.diag(out))
